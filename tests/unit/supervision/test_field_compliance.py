"""Arrival and spare-part compliance for the monthly report, by level and distance band."""

from datetime import UTC, datetime, timedelta

import pytest

from routing.domain.levels import SlaPolicy
from supervision.domain.calendar import CHINA_STANDARD_TIME, WorkingCalendar
from supervision.domain.field_compliance import (
    arrival_outcome,
    band_labels,
    band_of,
    field_compliance,
    part_outcome,
)
from supervision.domain.monthly import TicketFact

T = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Beijing
POLICY = SlaPolicy()
CAL = WorkingCalendar()


def h(hours: float) -> datetime:
    return T + timedelta(hours=hours)


def fact(level: int = 1, distance: float | None = 30.0, **kw: object) -> TicketFact:
    base = TicketFact(
        "T1", level, "in_progress", "call", T, h(0.5), None, None, "3201", "x", "county", ""
    )
    values = {name: getattr(base, name) for name in TicketFact.__slots__}  # type: ignore[attr-defined]
    values.update({"onsite_due": h(2), "distance_km": distance, "dispatched_at": h(0.2)})
    values.update(kw)
    return TicketFact(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("distance", "band"),
    [
        (None, "unknown"),
        (0.0, "≤50 km"),
        (50.0, "≤50 km"),
        (50.1, "≤100 km"),
        (400.0, "≤400 km"),
        (401.0, ">400 km"),
    ],
)
def test_distance_bands_follow_the_policy(distance: float | None, band: str) -> None:
    assert band_of(distance, POLICY) == band
    assert band_labels(POLICY) == ["≤50 km", "≤100 km", "≤400 km", ">400 km", "unknown"]


@pytest.mark.parametrize(
    ("kw", "now", "outcome"),
    [
        ({"onsite_at": h(1.5)}, h(3), "met"),
        ({"onsite_at": h(2)}, h(3), "met"),  # exactly at the deadline
        ({"onsite_at": h(2.1)}, h(3), "breached"),
        ({}, h(1), "pending"),
        ({}, h(2), "breached"),
        ({"resolved_at": h(1), "status": "resolved"}, h(5), None),  # fixed remotely
        ({"dispatched_at": None}, h(5), None),  # nobody was sent
        ({"onsite_due": None, "onsite_at": h(1)}, h(5), None),  # level 4: no commitment
        ({"dispatched_at": None, "onsite_at": h(1)}, h(5), "met"),  # recorded by hand
    ],
)
def test_arrival_outcome(kw: dict[str, object], now: datetime, outcome: str | None) -> None:
    assert arrival_outcome(fact(**kw), now) == outcome


NEEDED = h(3)  # Wednesday 13:00 in Beijing


@pytest.mark.parametrize(
    ("sent", "received", "now", "outcome"),
    [
        (None, None, NEEDED + timedelta(hours=23), "pending"),
        (None, None, NEEDED + timedelta(hours=24), "breached"),  # not shipped in 24 h
        (NEEDED + timedelta(hours=25), None, NEEDED + timedelta(hours=26), "breached"),
        # Shipped Wednesday 14:00: 2 working days end Friday 14:00 (Beijing).
        (h(4), None, datetime(2026, 11, 20, 13, 59, tzinfo=CHINA_STANDARD_TIME), "pending"),
        (h(4), None, datetime(2026, 11, 20, 14, 0, tzinfo=CHINA_STANDARD_TIME), "breached"),
        (h(4), datetime(2026, 11, 20, 11, 0, tzinfo=CHINA_STANDARD_TIME), h(100), "met"),
        (h(4), datetime(2026, 11, 20, 15, 0, tzinfo=CHINA_STANDARD_TIME), h(100), "breached"),
    ],
)
def test_part_delivery_outcome(
    sent: datetime | None, received: datetime | None, now: datetime, outcome: str
) -> None:
    t = fact(onsite_at=h(1), part_needed_at=NEEDED, part_sent_at=sent, part_received_at=received)
    assert part_outcome(t, POLICY, CAL, now) == outcome
    assert part_outcome(fact(onsite_at=h(1)), POLICY, CAL, now) is None


def test_figures_by_level_and_by_distance() -> None:
    tickets = [
        fact(1, 30.0, onsite_at=h(1)),  # P1, ≤50 km, met
        fact(1, 700.0, onsite_at=h(3)),  # P1, >400 km, breached
        fact(2, 80.0, onsite_due=h(12), onsite_at=h(11)),  # P2, ≤100 km, met
        fact(3, None, onsite_due=h(24)),  # P3, unknown, pending at h(5)
        fact(
            2,
            80.0,
            onsite_due=h(12),
            onsite_at=h(1),
            part_needed_at=h(2),
            part_sent_at=h(5),
            part_received_at=h(20),
        ),  # P2 ≤100 km: arrival met, part met
    ]
    f = field_compliance(tickets, POLICY, CAL, h(5))
    by_level = {r.group: (r.tickets, r.met, r.breached, r.pending) for r in f.arrival_by_level}
    assert by_level == {
        "P1": (2, 1, 1, 0),
        "P2": (2, 2, 0, 0),
        "P3": (1, 0, 0, 1),
        "P4": (0, 0, 0, 0),
    }
    by_band = {r.group: (r.met, r.breached, r.pending) for r in f.arrival_by_distance}
    assert by_band == {
        "≤50 km": (1, 0, 0),
        "≤100 km": (2, 0, 0),
        "≤400 km": (0, 0, 0),
        ">400 km": (0, 1, 0),
        "unknown": (0, 0, 1),
    }
    assert [r.rate for r in f.arrival_by_level] == [0.5, 1.0, None, None]
    parts = {r.group: (r.tickets, r.met) for r in f.parts_by_level if r.tickets}
    assert parts == {"P2": (1, 1)}
    assert {r.group: r.met for r in f.parts_by_distance if r.tickets} == {"≤100 km": 1}
