from datetime import UTC, datetime, timedelta

import pytest

from routing.domain.levels import FaultLevel, SlaPolicy
from supervision.domain.sla import (
    ClockKind,
    ClockState,
    Pause,
    SlaTicket,
    TicketStatus,
    assess,
)

T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
POLICY = SlaPolicy()


def ticket(level: int, **kw: object) -> SlaTicket:
    base: dict[str, object] = {
        "number": "T1",
        "level": FaultLevel(level),
        "status": TicketStatus.OPEN,
        "created_at": T0,
    }
    base.update(kw)
    return SlaTicket(**base)  # type: ignore[arg-type]


def m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("level", "distance", "remote", "feature", "response", "onsite"),
    [
        (1, None, False, False, m(30), m(120)),
        (1, 30.0, False, False, m(30), m(120)),  # level rule stricter than 50 km band (5 h)
        (2, None, False, False, m(120), m(720)),
        (2, 40.0, False, False, m(120), m(300)),  # within 50 km: 5 h beats 12 h
        (2, 100.0, False, False, m(120), m(720)),  # 100 km band 12 h equals level rule
        (3, None, False, False, m(120), m(1440)),
        (3, 80.0, False, False, m(120), m(720)),
        (3, 399.0, False, False, m(120), m(1440)),
        (3, 900.0, False, False, m(120), m(1440)),  # beyond 400 km: 3 days, level is stricter
        (3, None, True, False, m(240), None),  # remote support: 4 h, no on-site clock
        (4, None, False, False, m(120), None),
        (4, 10.0, False, False, m(120), None),  # consultations never get an on-site clock
        (4, None, False, True, m(48 * 60), None),  # feature request
    ],
)
def test_deadlines_by_level_and_distance(
    level: int,
    distance: float | None,
    remote: bool,
    feature: bool,
    response: timedelta,
    onsite: timedelta | None,
) -> None:
    sla = assess(
        ticket(level, distance_km=distance, remote=remote, feature_request=feature),
        POLICY,
        T0 + m(1),
    )
    resp = sla.clock(ClockKind.RESPONSE)
    assert resp is not None and resp.due == T0 + response
    assert resp.state is ClockState.RUNNING
    site = sla.clock(ClockKind.ONSITE)
    if onsite is None:
        assert site is None
    else:
        assert site is not None and site.due == T0 + onsite


@pytest.mark.parametrize(
    ("minutes", "responded", "state"),
    [
        (29, None, ClockState.RUNNING),
        (30, None, ClockState.BREACHED),
        (45, 20, ClockState.MET),
        (45, 35, ClockState.MET_LATE),
        (45, 30, ClockState.MET),
    ],
)
def test_response_clock_states(minutes: int, responded: int | None, state: ClockState) -> None:
    t = ticket(1, responded_at=None if responded is None else T0 + m(responded))
    clock = assess(t, POLICY, T0 + m(minutes)).clock(ClockKind.RESPONSE)
    assert clock is not None and clock.state is state


def test_pause_moves_the_deadline_and_shows_paused() -> None:
    # Waiting for the customer from minute 10 to minute 40: the 30-min response moves to 60.
    t = ticket(1, pauses=(Pause(T0 + m(10), T0 + m(40)),))
    sla = assess(t, POLICY, T0 + m(50))
    resp = sla.clock(ClockKind.RESPONSE)
    assert resp is not None and resp.due == T0 + m(60) and resp.state is ClockState.RUNNING
    assert sla.active_elapsed == m(20)

    open_pause = ticket(1, pauses=(Pause(T0 + m(10)),))
    sla = assess(open_pause, POLICY, T0 + m(50))
    resp = sla.clock(ClockKind.RESPONSE)
    assert resp is not None and resp.state is ClockState.PAUSED
    assert resp.due == T0 + m(70)  # 20 min were left when the pause began
    assert sla.paused and not sla.breached


def test_pause_after_the_deadline_does_not_cure_a_breach() -> None:
    t = ticket(1, pauses=(Pause(T0 + m(40), T0 + m(60)),))
    resp = assess(t, POLICY, T0 + m(70)).clock(ClockKind.RESPONSE)
    assert resp is not None and resp.state is ClockState.BREACHED and resp.due == T0 + m(30)


def test_resolved_ticket_has_met_clocks_and_no_elapsed_growth() -> None:
    t = ticket(2, status=TicketStatus.RESOLVED, resolved_at=T0 + m(90))
    sla = assess(t, POLICY, T0 + m(600))
    assert all(c.state is ClockState.MET for c in sla.clocks)
    assert sla.active_elapsed == m(90)
    assert sla.next_due() is None


def test_deadlines_fixed_at_opening_win_over_the_policy() -> None:
    t = ticket(3, response_due=T0 + m(45), onsite_due=T0 + m(600))
    sla = assess(t, POLICY, T0 + m(50))
    resp, site = sla.clock(ClockKind.RESPONSE), sla.clock(ClockKind.ONSITE)
    assert resp is not None and resp.state is ClockState.BREACHED and resp.due == T0 + m(45)
    assert site is not None and site.due == T0 + m(600)
