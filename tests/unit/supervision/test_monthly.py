from datetime import UTC, date, datetime, timedelta

import pytest

from supervision.domain.calendar import CHINA_STANDARD_TIME as CST
from supervision.domain.monthly import (
    CallFact,
    EmergencyPeriod,
    Month,
    TicketFact,
    compliance,
    day_figures,
    summarise,
)

T = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)


def call(
    cid: str,
    at: datetime,
    outcome: str,
    wait: int = 10,
    paper: str | None = None,
    ticket: str | None = None,
) -> CallFact:
    q = at + timedelta(seconds=20)
    ans = q + timedelta(seconds=wait) if outcome == "answered" else None
    return CallFact(cid, at, q, ans, outcome, 1, "3201", paper, ticket)


def ticket(n: str, level: int, responded: int | None, due: int = 30) -> TicketFact:
    return TicketFact(
        n,
        level,
        "open",
        "call",
        T,
        T + timedelta(minutes=due),
        None if responded is None else T + timedelta(minutes=responded),
        None,
        "3201",
        "会议室",
        "county",
        "",
    )


@pytest.mark.parametrize(
    ("text", "ok"), [("2026-11", True), ("2026-1", True), ("2026-13", False), ("Nov", False)]
)
def test_month_parse(text: str, ok: bool) -> None:
    if ok:
        assert str(Month.parse(text)).startswith("2026-")
    else:
        with pytest.raises(ValueError):
            Month.parse(text)


def test_month_bounds_are_local_days() -> None:
    m = Month.parse("2026-12")
    start, end = m.bounds(CST)
    assert start.astimezone(UTC) == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 12, 31, 16, tzinfo=UTC)
    assert len(m.days()) == 31 and m.days()[0] == date(2026, 12, 1)


def test_day_figures_and_service_level() -> None:
    calls = [
        call("a", T, "answered", wait=5),
        call("b", T, "answered", wait=21),
        call("c", T, "abandoned"),
        call("d", T, "ivr_hangup"),
        call("late", datetime(2026, 11, 30, 16, 30, tzinfo=UTC), "answered"),  # December
    ]
    days = day_figures(Month.parse("2026-11"), calls, CST, timedelta(seconds=20))
    d = days[9]
    assert (d.day, d.answered, d.abandoned, d.answered_in_target, d.other) == (
        date(2026, 11, 10),
        2,
        1,
        1,
        1,
    )
    assert d.service_level == pytest.approx(1 / 3)
    assert sum(x.answered for x in days) == 2
    assert days[0].service_level is None


def test_compliance_counts_met_breached_pending() -> None:
    now = T + timedelta(minutes=40)
    rows = compliance(
        [
            ticket("1", 1, 20),
            ticket("2", 1, 35),
            ticket("3", 1, None),
            ticket("4", 2, None, due=120),
        ],
        now,
    )
    p1, p2 = rows[0], rows[1]
    assert (p1.tickets, p1.met, p1.breached, p1.pending) == (3, 1, 2, 0)
    assert p1.rate == pytest.approx(1 / 3)
    assert (p2.pending, p2.rate) == (1, None)


def test_emergency_periods_and_backfill() -> None:
    calls = [
        call("e1", T, "answered", paper="P-1", ticket="HL-1"),
        call("e2", T + timedelta(minutes=30), "answered", paper="P-2"),
        call("e3", T + timedelta(hours=5), "answered", paper="P-3", ticket="HL-3"),
        call("n", T, "answered"),
    ]
    f = summarise(Month.parse("2026-11"), calls, [], [], [1, None, 5], zone=CST, now=T)
    assert [(p.calls, p.backfilled) for p in f.emergency] == [(2, 1), (1, 1)]
    assert f.totals["backfill_pending"] == 1
    assert f.satisfaction == {"1": 1, "2": 0, "3": 0, "4": 0, "5": 1, "n/a": 1}
    known = [EmergencyPeriod(T - timedelta(minutes=5), T + timedelta(hours=1), "seat down")]
    f = summarise(Month.parse("2026-11"), calls, [], [], [], zone=CST, now=T, emergency=known)
    assert [(p.reason, p.calls, p.backfilled) for p in f.emergency] == [("seat down", 2, 1)]
