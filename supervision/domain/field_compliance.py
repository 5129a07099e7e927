"""Field-work compliance for the monthly report: arrival on site and spare-part delivery,
by fault level and by distance band.

Arrival counts the tickets an engineer was sent to (or whose arrival was recorded): met
when the engineer arrived by the ticket's on-site deadline, breached when later or still
not there past it. A ticket resolved before anyone arrived no longer needed the visit and
is left out. Part delivery counts the tickets that needed a part: met when it was shipped
within the shipment window and received within the arrival window (working days on the
working calendar), breached when either was missed, pending while both can still be met.
The part clocks are the SLA engine's own (`supervision.domain.sla.field_clocks`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from routing.domain.levels import FaultLevel, SlaPolicy
from routing.records import TicketStatus
from supervision.domain.calendar import WorkingCalendar
from supervision.domain.monthly import TicketFact
from supervision.domain.sla import ClockKind, ClockState, SlaTicket, field_clocks

UNKNOWN_DISTANCE = "unknown"


@dataclass(frozen=True, slots=True)
class FieldCompliance:
    measure: str  # "arrival" or "part_delivery"
    group: str  # "P1".."P4", or a distance band ("≤50 km", ">400 km", "unknown")
    tickets: int
    met: int
    breached: int
    pending: int

    @property
    def rate(self) -> float | None:
        decided = self.met + self.breached
        return self.met / decided if decided else None


@dataclass(frozen=True, slots=True)
class FieldFigures:
    arrival_by_level: tuple[FieldCompliance, ...]
    arrival_by_distance: tuple[FieldCompliance, ...]
    parts_by_level: tuple[FieldCompliance, ...]
    parts_by_distance: tuple[FieldCompliance, ...]

    def rows(self) -> tuple[FieldCompliance, ...]:
        return (
            *self.arrival_by_level,
            *self.arrival_by_distance,
            *self.parts_by_level,
            *self.parts_by_distance,
        )


def band_labels(policy: SlaPolicy) -> list[str]:
    """The distance bands in order, as the report writes them, then "unknown"."""
    labels: list[str] = []
    previous: float | None = None
    for band in policy.distance_bands:
        if band.max_km is None:
            labels.append(f">{previous:g} km" if previous is not None else "any distance")
        else:
            labels.append(f"≤{band.max_km:g} km")
            previous = band.max_km
    return [*labels, UNKNOWN_DISTANCE]


def band_of(distance_km: float | None, policy: SlaPolicy) -> str:
    if distance_km is None:
        return UNKNOWN_DISTANCE
    labels = band_labels(policy)
    for index, band in enumerate(policy.distance_bands):
        if band.max_km is None or distance_km <= band.max_km:
            return labels[index]
    return UNKNOWN_DISTANCE  # beyond every band and no open-ended one


def arrival_outcome(t: TicketFact, now: datetime) -> str | None:
    """ "met", "breached", "pending", or None when the ticket does not count."""
    if t.onsite_due is None or (t.dispatched_at is None and t.onsite_at is None):
        return None
    if t.onsite_at is not None:
        return "met" if t.onsite_at <= t.onsite_due else "breached"
    if t.resolved_at is not None and t.resolved_at < t.onsite_due:
        return None  # fixed remotely before the visit was due
    return "breached" if now >= t.onsite_due else "pending"


def part_outcome(
    t: TicketFact, policy: SlaPolicy, calendar: WorkingCalendar, now: datetime
) -> str | None:
    if t.part_needed_at is None:
        return None
    ticket = SlaTicket(
        number=t.number,
        level=FaultLevel.parse(t.level),
        status=TicketStatus(t.status),
        created_at=t.created_at,
        onsite_at=t.onsite_at,
        part_needed_at=t.part_needed_at,
        part_sent_at=t.part_sent_at,
        part_received_at=t.part_received_at,
    )
    states = {
        c.kind: c.state
        for c in field_clocks(ticket, policy, calendar, now)
        if c.kind in (ClockKind.PART_SHIPMENT, ClockKind.PART_ARRIVAL)
    }
    late = (ClockState.BREACHED, ClockState.MET_LATE)
    if any(s in late for s in states.values()):
        return "breached"
    if states.get(ClockKind.PART_ARRIVAL) is ClockState.MET:
        return "met"
    return "pending"


def _tally(
    measure: str, groups: Sequence[str], outcomes: Iterable[tuple[str, str]]
) -> tuple[FieldCompliance, ...]:
    counts = {g: [0, 0, 0, 0] for g in groups}
    for group, outcome in outcomes:
        row = counts.setdefault(group, [0, 0, 0, 0])
        row[0] += 1
        row[{"met": 1, "breached": 2, "pending": 3}[outcome]] += 1
    return tuple(FieldCompliance(measure, g, *row) for g, row in counts.items())


def field_compliance(
    tickets: Iterable[TicketFact],
    policy: SlaPolicy,
    calendar: WorkingCalendar,
    now: datetime,
) -> FieldFigures:
    levels = [f"P{int(lv)}" for lv in FaultLevel]
    bands = band_labels(policy)
    arrivals: list[tuple[str, str, str]] = []
    parts: list[tuple[str, str, str]] = []
    for t in tickets:
        level, band = f"P{t.level}", band_of(t.distance_km, policy)
        if (arrival := arrival_outcome(t, now)) is not None:
            arrivals.append((level, band, arrival))
        if (part := part_outcome(t, policy, calendar, now)) is not None:
            parts.append((level, band, part))
    return FieldFigures(
        arrival_by_level=_tally("arrival", levels, ((lv, o) for lv, _, o in arrivals)),
        arrival_by_distance=_tally("arrival", bands, ((b, o) for _, b, o in arrivals)),
        parts_by_level=_tally("part_delivery", levels, ((lv, o) for lv, _, o in parts)),
        parts_by_distance=_tally("part_delivery", bands, ((b, o) for _, b, o in parts)),
    )
