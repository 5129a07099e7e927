"""Fault levels and the service-commitment tables of DESIGN.md, as configuration data.

The defaults below are the figures the hotline works to; every one of them can be
replaced from configuration (see `SlaPolicy.from_mapping`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import IntEnum
from typing import Any


class FaultLevel(IntEnum):
    """1 is the most urgent. Values are what the caller presses in the IVR."""

    P1 = 1  # 紧急: whole system down, basic service lost, danger to people
    P2 = 2  # 严重: service degraded, main service still up
    P3 = 3  # 一般: minor or intermittent
    P4 = 4  # 咨询: information, configuration, how-to

    @classmethod
    def parse(cls, value: object) -> FaultLevel:
        try:
            return cls(int(str(value).strip()))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"fault level must be 1, 2, 3 or 4, not {value!r}") from exc


LEVEL_LABELS: Mapping[FaultLevel, tuple[str, str]] = {
    FaultLevel.P1: ("紧急", "critical"),
    FaultLevel.P2: ("严重", "major"),
    FaultLevel.P3: ("一般", "minor"),
    FaultLevel.P4: ("咨询", "consultation"),
}


@dataclass(frozen=True, slots=True)
class DistanceBand:
    """On-site arrival commitment for sites up to `max_km` from the service centre."""

    max_km: float | None  # None = beyond every other band
    onsite: timedelta


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """One rung of the escalation ladder: `after` the ticket opened, notify `targets`."""

    after: timedelta
    targets: tuple[str, ...]


def _h(hours: float) -> timedelta:
    return timedelta(hours=hours)


def _m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


def _positive(name: str, value: float) -> float:
    if value <= 0:
        raise ValueError(f"{name} must be more than 0")
    return value


DEFAULT_RESPONSE: Mapping[FaultLevel, timedelta] = {
    FaultLevel.P1: _m(30),
    FaultLevel.P2: _h(2),
    FaultLevel.P3: _h(2),
    FaultLevel.P4: _h(2),
}
DEFAULT_REMOTE_RESPONSE: Mapping[FaultLevel, timedelta] = {FaultLevel.P3: _h(4)}
DEFAULT_FEATURE_REQUEST_RESPONSE = _h(48)
DEFAULT_ONSITE: Mapping[FaultLevel, timedelta | None] = {
    FaultLevel.P1: _h(2),
    FaultLevel.P2: _h(12),
    FaultLevel.P3: _h(24),
    FaultLevel.P4: None,
}
DEFAULT_DISTANCE_BANDS: tuple[DistanceBand, ...] = (
    DistanceBand(50, _h(5)),
    DistanceBand(100, _h(12)),
    DistanceBand(400, _h(24)),
    DistanceBand(None, timedelta(days=3)),
)
DEFAULT_ESCALATION: Mapping[FaultLevel, tuple[EscalationStep, ...]] = {
    FaultLevel.P1: (
        EscalationStep(_m(15), ("duty_engineer", "responsible_manager")),
        EscalationStep(_m(30), ("emergency_team",)),
        EscalationStep(_m(45), ("account_manager",)),
        EscalationStep(_m(60), ("service_centre_head", "remote_expert")),
        EscalationStep(_m(120), ("expert_group",)),
    ),
    FaultLevel.P2: (
        EscalationStep(_m(15), ("duty_engineer",)),
        EscalationStep(_m(45), ("emergency_team",)),
        EscalationStep(_m(60), ("account_manager",)),
    ),
    FaultLevel.P3: (
        EscalationStep(_m(15), ("duty_engineer",)),
        EscalationStep(_m(60), ("emergency_team",)),
    ),
    FaultLevel.P4: (EscalationStep(_m(15), ("duty_engineer",)),),
}
# Queue priority per level: Asterisk serves the highest QUEUE_PRIO first.
DEFAULT_QUEUE_PRIORITY: Mapping[FaultLevel, int] = {
    FaultLevel.P1: 10,
    FaultLevel.P2: 7,
    FaultLevel.P3: 4,
    FaultLevel.P4: 1,
}


@dataclass(frozen=True)
class SlaPolicy:
    """Every service commitment, as data. Build from configuration with `from_mapping`."""

    response: Mapping[FaultLevel, timedelta] = field(default_factory=lambda: dict(DEFAULT_RESPONSE))
    remote_response: Mapping[FaultLevel, timedelta] = field(
        default_factory=lambda: dict(DEFAULT_REMOTE_RESPONSE)
    )
    feature_request_response: timedelta = DEFAULT_FEATURE_REQUEST_RESPONSE
    onsite: Mapping[FaultLevel, timedelta | None] = field(
        default_factory=lambda: dict(DEFAULT_ONSITE)
    )
    distance_bands: tuple[DistanceBand, ...] = DEFAULT_DISTANCE_BANDS
    escalation: Mapping[FaultLevel, tuple[EscalationStep, ...]] = field(
        default_factory=lambda: dict(DEFAULT_ESCALATION)
    )
    queue_priority: Mapping[FaultLevel, int] = field(
        default_factory=lambda: dict(DEFAULT_QUEUE_PRIORITY)
    )
    progress_report_interval: timedelta = _h(1)  # level-1 progress reports
    im_ack_window: timedelta = _m(10)
    email_ack_window: timedelta = _h(2)  # working hours
    # After the engineer's arrival: decide on a spare part, ship it, get it to the site.
    part_decision_window: timedelta = _h(2)
    part_shipment_window: timedelta = _h(24)
    part_arrival_working_days: float = 2.0  # on the working calendar

    def onsite_for_distance(self, distance_km: float | None) -> timedelta | None:
        if distance_km is None:
            return None
        for band in self.distance_bands:
            if band.max_km is None or distance_km <= band.max_km:
                return band.onsite
        return None

    def onsite_window(self, level: FaultLevel, distance_km: float | None) -> timedelta | None:
        """The on-site commitment: the stricter (shorter) of the level and distance rules.

        Level 4 (consultation) has no on-site commitment whatever the distance.
        """
        by_level = self.onsite.get(level)
        if by_level is None:
            return None
        by_distance = self.onsite_for_distance(distance_km)
        if by_distance is None:
            return by_level
        return min(by_level, by_distance)

    def response_window(
        self, level: FaultLevel, *, remote: bool = False, feature_request: bool = False
    ) -> timedelta:
        if feature_request and level is FaultLevel.P4:
            return self.feature_request_response
        if remote and level in self.remote_response:
            return self.remote_response[level]
        return self.response[level]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SlaPolicy:
        """Build from a TOML-like mapping; minutes everywhere. Unknown keys are an error.

        Example::

            [sla.response_minutes]   1 = 30, 2 = 120, 3 = 120, 4 = 120
            [sla.onsite_minutes]     1 = 120, 2 = 720, 3 = 1440
            [[sla.distance_bands]]   max_km = 50, onsite_minutes = 300
            [sla.escalation]         1 = [{after_minutes = 15, targets = ["duty_engineer"]}]
            [sla.queue_priority]     1 = 10
            part_decision_minutes = 120, part_shipment_minutes = 1440,
            part_arrival_working_days = 2
        """
        known = {
            "response_minutes",
            "remote_response_minutes",
            "feature_request_response_minutes",
            "onsite_minutes",
            "distance_bands",
            "escalation",
            "queue_priority",
            "progress_report_minutes",
            "im_ack_minutes",
            "email_ack_minutes",
            "part_decision_minutes",
            "part_shipment_minutes",
            "part_arrival_working_days",
        }
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown SLA setting(s): {', '.join(sorted(unknown))}")
        base = cls()

        def per_level(key: str, default: Mapping[FaultLevel, Any]) -> dict[FaultLevel, Any]:
            out = dict(default)
            for raw_level, minutes in dict(data.get(key, {})).items():
                level = FaultLevel.parse(raw_level)
                out[level] = None if minutes is None else _m(float(minutes))
            return out

        bands = base.distance_bands
        if "distance_bands" in data:
            bands = tuple(
                DistanceBand(
                    None if b.get("max_km") is None else float(b["max_km"]),
                    _m(float(b["onsite_minutes"])),
                )
                for b in data["distance_bands"]
            )
        escalation = dict(base.escalation)
        for raw_level, steps in dict(data.get("escalation", {})).items():
            escalation[FaultLevel.parse(raw_level)] = tuple(
                EscalationStep(_m(float(s["after_minutes"])), tuple(s["targets"])) for s in steps
            )
        priority = dict(base.queue_priority)
        for raw_level, prio in dict(data.get("queue_priority", {})).items():
            priority[FaultLevel.parse(raw_level)] = int(prio)
        return cls(
            response=per_level("response_minutes", base.response),
            remote_response=per_level("remote_response_minutes", base.remote_response),
            feature_request_response=_m(
                float(data.get("feature_request_response_minutes", 48 * 60))
            ),
            onsite=per_level("onsite_minutes", base.onsite),
            distance_bands=bands,
            escalation=escalation,
            queue_priority=priority,
            progress_report_interval=_m(float(data.get("progress_report_minutes", 60))),
            im_ack_window=_m(float(data.get("im_ack_minutes", 10))),
            email_ack_window=_m(float(data.get("email_ack_minutes", 120))),
            part_decision_window=_m(float(data.get("part_decision_minutes", 120))),
            part_shipment_window=_m(float(data.get("part_shipment_minutes", 24 * 60))),
            part_arrival_working_days=_positive(
                "part_arrival_working_days", float(data.get("part_arrival_working_days", 2))
            ),
        )
