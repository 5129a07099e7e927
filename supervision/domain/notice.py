"""What a notice says: title and Markdown body for an action, built from the ticket's clocks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from routing.domain.levels import LEVEL_LABELS
from supervision.domain.escalation import Action, ActionKind
from supervision.domain.sla import ClockState, TicketSla

ROLE_LABELS: Mapping[str, str] = {
    "duty_engineer": "值班工程师 duty engineer",
    "responsible_manager": "责任经理 responsible manager",
    "emergency_team": "应急小组 emergency team",
    "account_manager": "客户经理 account manager",
    "service_centre_head": "服务中心负责人 service-centre head",
    "remote_expert": "远程专家 remote expert",
    "expert_group": "专家组 expert group",
}

_KIND_LABELS: Mapping[ActionKind, str] = {
    ActionKind.ESCALATION: "升级 escalation",
    ActionKind.PROGRESS_REPORT: "进展通报 progress report",
    ActionKind.BREACH: "超时 SLA breach",
    ActionKind.UNACKNOWLEDGED: "无人确认 unacknowledged",
}

_CLOCK_LABELS: Mapping[ClockState, str] = {
    ClockState.RUNNING: "running",
    ClockState.PAUSED: "paused (waiting for customer)",
    ClockState.MET: "met",
    ClockState.BREACHED: "BREACHED",
    ClockState.MET_LATE: "met late",
}


@dataclass(frozen=True, slots=True)
class NoticeText:
    title: str
    markdown: str  # Markdown body (DingTalk/WeCom render it; e-mail sends it as plain text)


def describe_delta(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{sign}{hours}h{rest // 60:02d}m" if hours else f"{sign}{rest // 60}m"


def compose(
    action: Action,
    sla: TicketSla,
    now: datetime,
    *,
    zone: tzinfo,
    ack_code: str | None = None,
    ack_url: str | None = None,
) -> NoticeText:
    ticket = sla.ticket
    zh, en = LEVEL_LABELS[ticket.level]
    title = f"[P{int(ticket.level)} {zh}] {_KIND_LABELS[action.kind]}: {ticket.number}"
    roles = ", ".join(ROLE_LABELS.get(t, t) for t in action.targets)
    site = ticket.site_name or ticket.site_code or "unidentified site"
    lines = [
        f"### {title}",
        f"- **Level**: P{int(ticket.level)} {zh} ({en})",
        f"- **Site**: {site}" + (f" ({ticket.site_code})" if ticket.site_name else ""),
        f"- **Opened**: {ticket.created_at.astimezone(zone):%Y-%m-%d %H:%M} "
        f"({describe_delta(sla.active_elapsed)} active)",
        f"- **Why**: {action.reason}",
        f"- **For**: {roles}",
    ]
    for clock in sla.clocks:
        lines.append(
            f"- **{clock.kind.value} due** {clock.due.astimezone(zone):%m-%d %H:%M}: "
            f"{_CLOCK_LABELS[clock.state]}"
            + (
                f", {describe_delta(clock.remaining(now))} left"
                if clock.state is ClockState.RUNNING
                else ""
            )
        )
    if ticket.description:
        lines.append(f"- **Fault**: {_one_line(ticket.description)}")
    if ack_code is not None:
        link = f"[{ack_url}]({ack_url})" if ack_url else ""
        lines.append(f"- **Acknowledge**: code `{ack_code}` {link}".rstrip())
    return NoticeText(title=_one_line(title), markdown="\n".join(lines))


def _one_line(text: str) -> str:
    # Titles end up in mail headers and robot titles: never let CR/LF through.
    return " ".join(text.split())[:300]
