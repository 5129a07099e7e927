"""The clocks after dispatch, against the tables: arrival (stricter of level and distance),
part decision 2 h after arrival, shipment 24 h, arrival 2 working days, all configurable."""

from datetime import UTC, date, datetime, timedelta

import pytest

from routing.domain.levels import FaultLevel, SlaPolicy
from supervision.domain.calendar import CHINA_STANDARD_TIME, WorkingCalendar
from supervision.domain.escalation import ActionKind, SupervisionPolicy, plan
from supervision.domain.sla import (
    ClockKind,
    ClockState,
    Pause,
    SlaTicket,
    TicketStatus,
    assess,
)

# Wednesday 2026-11-18 10:00 in Beijing.
T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
POLICY = SlaPolicy()
CAL = WorkingCalendar()


def h(hours: float) -> timedelta:
    return timedelta(hours=hours)


def ticket(level: int = 1, **kw: object) -> SlaTicket:
    base: dict[str, object] = {
        "number": "T1",
        "level": FaultLevel(level),
        "status": TicketStatus.IN_PROGRESS,
        "created_at": T0,
    }
    base.update(kw)
    return SlaTicket(**base)  # type: ignore[arg-type]


def local(y: int, mo: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, mo, d, hh, mm, tzinfo=CHINA_STANDARD_TIME)


@pytest.mark.parametrize(
    ("level", "distance", "window"),
    [
        (1, None, h(2)),
        (1, 30.0, h(2)),  # level 2 h is stricter than the 50 km band's 5 h
        (1, 700.0, h(2)),
        (2, 30.0, h(5)),  # within 50 km: 5 h beats the level's 12 h
        (2, 90.0, h(12)),
        (2, 300.0, h(12)),  # 400 km band 24 h: the level's 12 h is stricter
        (3, 90.0, h(12)),  # 100 km band 12 h beats the level's 24 h
        (3, 300.0, h(24)),
        (3, 1000.0, h(24)),  # beyond 400 km: 3 days; the level's 24 h is stricter
    ],
)
def test_arrival_due_is_the_stricter_of_level_and_distance(
    level: int, distance: float | None, window: timedelta
) -> None:
    sla = assess(ticket(level, distance_km=distance), POLICY, T0, CAL)
    onsite = sla.clock(ClockKind.ONSITE)
    assert onsite is not None
    assert onsite.due == T0 + window


@pytest.mark.parametrize(
    ("arrived_after", "now_after", "state"),
    [
        (h(1.5), h(1.6), ClockState.MET),
        (h(2.5), h(2.6), ClockState.MET_LATE),
        (None, h(1.9), ClockState.RUNNING),
        (None, h(2), ClockState.BREACHED),
    ],
)
def test_arrival_check_in_stops_the_onsite_clock(
    arrived_after: timedelta | None, now_after: timedelta, state: ClockState
) -> None:
    arrived = T0 + arrived_after if arrived_after is not None else None
    sla = assess(ticket(1, onsite_at=arrived), POLICY, T0 + now_after, CAL)
    onsite = sla.clock(ClockKind.ONSITE)
    assert onsite is not None
    assert onsite.state is state


ARRIVED = T0 + h(1)


@pytest.mark.parametrize(
    ("kw", "now_after_arrival", "state"),
    [
        ({}, h(1.99), ClockState.RUNNING),
        ({}, h(2), ClockState.BREACHED),  # due exactly 2 h after arrival
        ({"part_needed_at": ARRIVED + h(1)}, h(3), ClockState.MET),
        ({"part_needed_at": ARRIVED + h(2.5)}, h(3), ClockState.MET_LATE),
        (
            {"status": TicketStatus.RESOLVED, "resolved_at": ARRIVED + h(0.5)},
            h(3),
            ClockState.MET,
        ),
    ],
)
def test_part_decision_is_due_two_hours_after_arrival(
    kw: dict[str, object], now_after_arrival: timedelta, state: ClockState
) -> None:
    sla = assess(ticket(onsite_at=ARRIVED, **kw), POLICY, ARRIVED + now_after_arrival, CAL)
    decision = sla.clock(ClockKind.PART_DECISION)
    assert decision is not None
    assert decision.due == ARRIVED + h(2)
    assert decision.state is state


def test_no_field_clock_before_arrival_and_none_without_a_calendar() -> None:
    before = assess(ticket(), POLICY, T0 + h(1), CAL)
    assert [c.kind for c in before.clocks] == [ClockKind.RESPONSE, ClockKind.ONSITE]
    arrived = ticket(onsite_at=ARRIVED, part_needed_at=ARRIVED, part_sent_at=ARRIVED)
    assert [c.kind for c in assess(arrived, POLICY, T0 + h(2)).clocks] == [
        ClockKind.RESPONSE,
        ClockKind.ONSITE,
    ]


@pytest.mark.parametrize(
    ("sent_after", "now_after", "state"),
    [
        (None, h(23.9), ClockState.RUNNING),
        (None, h(24), ClockState.BREACHED),
        (h(20), h(30), ClockState.MET),
        (h(25), h(30), ClockState.MET_LATE),
    ],
)
def test_part_shipment_is_due_24_hours_after_the_part_is_needed(
    sent_after: timedelta | None, now_after: timedelta, state: ClockState
) -> None:
    needed = ARRIVED + h(1)
    sent = needed + sent_after if sent_after is not None else None
    sla = assess(
        ticket(onsite_at=ARRIVED, part_needed_at=needed, part_sent_at=sent),
        POLICY,
        needed + now_after,
        CAL,
    )
    shipment = sla.clock(ClockKind.PART_SHIPMENT)
    assert shipment is not None
    assert shipment.due == needed + h(24)
    assert shipment.state is state


@pytest.mark.parametrize(
    ("sent", "due"),
    [
        # Wednesday 10:00: 8 h Wednesday, 9 h Thursday, 1 h Friday.
        (local(2026, 11, 18, 10), local(2026, 11, 20, 10)),
        # Friday 15:00: 3 h Friday, 9 h Monday, 6 h Tuesday.
        (local(2026, 11, 20, 15), local(2026, 11, 24, 15)),
        # Saturday evening: Monday and Tuesday, full days.
        (local(2026, 11, 21, 20), local(2026, 11, 24, 18)),
        # Before the National Day holidays (1-8 Oct off): a full 30 Sep, then 9 Oct.
        (local(2026, 9, 30, 9), local(2026, 10, 9, 18)),
    ],
)
def test_part_arrival_is_due_two_working_days_after_shipment(sent: datetime, due: datetime) -> None:
    calendar = WorkingCalendar.build(
        holidays=[date(2026, 10, d) for d in range(1, 9)], extra_workdays=["2026-10-10"]
    )
    sla = assess(
        ticket(onsite_at=ARRIVED, part_needed_at=ARRIVED, part_sent_at=sent),
        POLICY,
        sent + h(1),
        calendar,
    )
    arrival = sla.clock(ClockKind.PART_ARRIVAL)
    assert arrival is not None
    assert arrival.due == due
    assert arrival.state is ClockState.RUNNING


def test_part_arrival_met_by_the_received_date_and_breached_without_it() -> None:
    sent = local(2026, 11, 20, 15)
    base = ticket(onsite_at=ARRIVED, part_needed_at=ARRIVED, part_sent_at=sent)
    late = assess(base, POLICY, local(2026, 11, 24, 15, 1), CAL)
    assert late.clock(ClockKind.PART_ARRIVAL).state is ClockState.BREACHED  # type: ignore[union-attr]
    received = SlaTicket(**{**_fields(base), "part_received_at": local(2026, 11, 23, 12)})
    on_time = assess(received, POLICY, local(2026, 11, 30, 9), CAL)
    assert on_time.clock(ClockKind.PART_ARRIVAL).state is ClockState.MET  # type: ignore[union-attr]


def _fields(t: SlaTicket) -> dict[str, object]:
    return {name: getattr(t, name) for name in SlaTicket.__slots__}  # type: ignore[attr-defined]


def test_every_duration_comes_from_configuration() -> None:
    policy = SlaPolicy.from_mapping(
        {
            "onsite_minutes": {1: 60},
            "distance_bands": [{"max_km": 50, "onsite_minutes": 30}, {"onsite_minutes": 600}],
            "part_decision_minutes": 45,
            "part_shipment_minutes": 600,
            "part_arrival_working_days": 1,
        }
    )
    sent = local(2026, 11, 18, 10)
    sla = assess(
        ticket(
            1,
            distance_km=20.0,
            onsite_at=ARRIVED,
            part_needed_at=ARRIVED + h(0.5),
            part_sent_at=sent,
        ),
        policy,
        sent,
        CAL,
    )
    due = {c.kind: c.due for c in sla.clocks}
    assert due[ClockKind.ONSITE] == T0 + timedelta(minutes=30)
    assert due[ClockKind.PART_DECISION] == ARRIVED + timedelta(minutes=45)
    assert due[ClockKind.PART_SHIPMENT] == ARRIVED + h(0.5) + h(10)
    assert due[ClockKind.PART_ARRIVAL] == local(2026, 11, 19, 10)
    with pytest.raises(ValueError, match="part_arrival_working_days"):
        SlaPolicy.from_mapping({"part_arrival_working_days": 0})


def test_a_pause_while_waiting_for_the_customer_moves_the_part_decision() -> None:
    paused = ticket(onsite_at=ARRIVED, pauses=(Pause(ARRIVED + h(1), ARRIVED + h(1.5)),))
    decision = assess(paused, POLICY, ARRIVED + h(2.2), CAL).clock(ClockKind.PART_DECISION)
    assert decision is not None
    assert decision.due == ARRIVED + h(2.5)
    assert decision.state is ClockState.RUNNING


def test_a_part_decision_overdue_escalates_once_as_a_breach() -> None:
    arrived = ticket(1, onsite_at=ARRIVED)
    policy = SupervisionPolicy(calendar=CAL)
    before = plan([arrived], {}, ARRIVED + h(1.9), policy)
    assert not [a for a in before.actions if a.key.endswith("part_decision")]
    after = plan([arrived], {}, ARRIVED + h(2), policy)
    breaches = [a for a in after.actions if a.kind is ActionKind.BREACH]
    assert [a.key for a in breaches if "part_decision" in a.key] == ["T1/breach/part_decision"]
    assert breaches[-1].due_at == ARRIVED + h(2)
