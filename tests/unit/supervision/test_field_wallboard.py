"""The wallboard's field engineers: dispatched, on the way, on site, waiting for a part,
and the breached clocks by kind."""

from datetime import UTC, datetime, timedelta

from routing.domain.levels import FaultLevel, SlaPolicy
from routing.records import TicketStatus
from supervision.domain.calendar import CHINA_STANDARD_TIME, WorkingCalendar
from supervision.domain.sla import SlaTicket, assess
from supervision.domain.wallboard import CallFloor, EmergencyState, build_snapshot, field_board

T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def ticket(number: str, status: TicketStatus = TicketStatus.IN_PROGRESS, **kw: object) -> SlaTicket:
    return SlaTicket(
        number=number,
        level=FaultLevel.P1,
        status=status,
        created_at=T0,
        responded_at=h(0.1),
        **kw,  # type: ignore[arg-type]
    )


TICKETS = [
    ticket("A"),  # nobody sent; on-site clock breached at h(3)
    ticket("B", dispatched_at=h(0.2)),
    ticket("C", dispatched_at=h(0.2), on_the_way_at=h(0.3)),
    ticket("D", dispatched_at=h(0.2), on_the_way_at=h(0.3), onsite_at=h(1)),  # decision late
    ticket("E", dispatched_at=h(0.2), onsite_at=h(1), part_needed_at=h(1.5)),
    ticket(
        "F",
        dispatched_at=h(0.2),
        onsite_at=h(1),
        part_needed_at=h(1.5),
        part_sent_at=h(2),
        part_received_at=h(2.5),
    ),  # part in: on site again
    ticket("G", TicketStatus.RESOLVED, dispatched_at=h(0.2), resolved_at=h(0.5)),
]


def test_engineers_out_and_breaches_by_clock() -> None:
    now = h(3.5)
    slas = [assess(t, SlaPolicy(), now, WorkingCalendar()) for t in TICKETS]
    board = field_board(slas)
    assert (board.dispatched, board.on_the_way, board.on_site, board.waiting_for_part) == (
        1,
        1,
        2,
        1,
    )
    assert dict(board.breaches_by_clock) == {
        "response": 0,
        "onsite": 3,  # A, B and C: arrival was due at h(2)
        "part_decision": 1,  # D: arrived h(1), nothing decided by h(3)
        "part_shipment": 0,
        "part_arrival": 0,
    }


def test_the_snapshot_message_carries_the_field_board() -> None:
    now = h(3.5)
    slas = [assess(t, SlaPolicy(), now, WorkingCalendar()) for t in TICKETS]
    snapshot = build_snapshot(now, CallFloor(zone=CHINA_STANDARD_TIME), [], slas, EmergencyState())
    field = snapshot.to_message()["field"]
    assert field["on_site"] == 2 and field["waiting_for_part"] == 1
    assert field["breaches_by_clock"]["part_decision"] == 1
