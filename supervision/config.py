"""Supervision configuration, from the ``[supervision]`` table of the TOML file.

Example::

    [supervision]
    public_base_url = "http://hotline.example.org:8000"   # ack links point here
    interval_seconds = 30                                  # scheduler pass
    report_dir = "./reports"
    breach_targets = ["duty_engineer", "responsible_manager"]
    unacked_fallback_targets = ["service_centre_head"]

    [supervision.calendar]                                 # e-mail ack: 2 working hours
    utc_offset_hours = 8
    start = "09:00"
    end = "18:00"
    weekdays = [0, 1, 2, 3, 4]
    holidays = ["2026-10-01", "2026-10-02"]
    extra_workdays = ["2026-10-10"]

    [supervision.smtp]
    host = "127.0.0.1"
    port = 25
    sender = "hotline@example.org"
    starttls = false

    [supervision.retry]
    max_attempts = 5
    first_delay_seconds = 2
    max_delay_seconds = 60

    [[supervision.recipients]]                             # see notify.recipients
    name = "duty-group"
    roles = ["duty_engineer"]
    channel = "dingtalk"
    address = "https://oapi.dingtalk.com/robot/send?access_token=..."
    secret = "SEC..."
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

from routing.domain.levels import SlaPolicy
from supervision.domain.calendar import WorkingCalendar
from supervision.domain.errors import SupervisionConfigError
from supervision.domain.escalation import SupervisionPolicy
from supervision.notify.channels import SmtpSettings
from supervision.notify.dispatcher import RetryPolicy
from supervision.notify.recipients import RecipientDirectory

_KNOWN = {
    "public_base_url",
    "interval_seconds",
    "report_dir",
    "breach_targets",
    "unacked_fallback_targets",
    "calendar",
    "smtp",
    "retry",
    "recipients",
}


@dataclass(frozen=True)
class SupervisionConfig:
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    recipients: RecipientDirectory = field(default_factory=lambda: RecipientDirectory(()))
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    public_base_url: str | None = None
    interval_seconds: float = 30.0
    report_dir: Path = Path("./reports")
    breach_targets: tuple[str, ...] = ("duty_engineer", "responsible_manager")
    unacked_fallback_targets: tuple[str, ...] = ("service_centre_head",)

    def policy(self, sla: SlaPolicy) -> SupervisionPolicy:
        return SupervisionPolicy(
            sla=sla,
            calendar=self.calendar,
            breach_targets=self.breach_targets,
            unacked_fallback_targets=self.unacked_fallback_targets,
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SupervisionConfig:
        unknown = set(data) - _KNOWN
        if unknown:
            raise SupervisionConfigError(
                f"unknown supervision setting(s): {', '.join(sorted(unknown))}"
            )
        try:
            cal = dict(data.get("calendar", {}))
            offset = float(cal.pop("utc_offset_hours", 8))
            calendar = WorkingCalendar.build(
                zone=timezone(timedelta(hours=offset)),
                start=str(cal.pop("start", "09:00")),
                end=str(cal.pop("end", "18:00")),
                weekdays=[int(d) for d in cal.pop("weekdays", (0, 1, 2, 3, 4))],
                holidays=[str(d) for d in cal.pop("holidays", ())],
                extra_workdays=[str(d) for d in cal.pop("extra_workdays", ())],
            )
            if cal:
                raise SupervisionConfigError(f"unknown calendar key(s): {', '.join(cal)}")
            smtp_raw = dict(data.get("smtp", {}))
            smtp = SmtpSettings(
                host=str(smtp_raw.pop("host", "127.0.0.1")),
                port=int(smtp_raw.pop("port", 25)),
                sender=str(smtp_raw.pop("sender", "hotline@localhost")),
                starttls=bool(smtp_raw.pop("starttls", False)),
                username=smtp_raw.pop("username", None),
                password=smtp_raw.pop("password", None),
                timeout=float(smtp_raw.pop("timeout_seconds", 10.0)),
            )
            if smtp_raw:
                raise SupervisionConfigError(f"unknown smtp key(s): {', '.join(smtp_raw)}")
            retry_raw = dict(data.get("retry", {}))
            retry = RetryPolicy(
                max_attempts=int(retry_raw.pop("max_attempts", 5)),
                first_delay=float(retry_raw.pop("first_delay_seconds", 2.0)),
                max_delay=float(retry_raw.pop("max_delay_seconds", 60.0)),
            )
            if retry_raw or retry.max_attempts < 1:
                raise SupervisionConfigError("bad [supervision.retry] settings")
            base = data.get("public_base_url")
            return cls(
                calendar=calendar,
                recipients=RecipientDirectory.from_config(list(data.get("recipients", ()))),
                smtp=smtp,
                retry=retry,
                public_base_url=None if base is None else str(base).rstrip("/"),
                interval_seconds=float(data.get("interval_seconds", 30.0)),
                report_dir=Path(str(data.get("report_dir", "./reports"))),
                breach_targets=tuple(
                    str(t) for t in data.get("breach_targets", cls.breach_targets)
                ),
                unacked_fallback_targets=tuple(
                    str(t)
                    for t in data.get("unacked_fallback_targets", cls.unacked_fallback_targets)
                ),
            )
        except SupervisionConfigError:
            raise
        except (TypeError, ValueError) as exc:
            raise SupervisionConfigError(f"bad [supervision] configuration: {exc}") from exc
