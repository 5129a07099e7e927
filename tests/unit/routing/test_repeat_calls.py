"""Which open ticket a call joins: the repeat-call rule, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routing.domain.repeat_calls import OpenTicketView, RepeatRule, repeat_target

AT = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
M = timedelta(minutes=1)
W = 240 * M


def t(
    number: str, level: int, ago: timedelta, status: str = "open", call: str = "c0"
) -> OpenTicketView:
    return OpenTicketView(number, level, status, AT - ago, call)


@pytest.mark.parametrize(
    ("level", "window", "tickets", "joined"),
    [
        # nothing open: a new ticket
        (2, W, [], None),
        # same level, opened 20 min ago: joins
        (2, W, [t("A", 2, 20 * M)], "A"),
        # an open ticket at a more urgent level takes a less urgent call
        (3, W, [t("A", 1, 20 * M)], "A"),
        # a less urgent ticket never takes a more urgent call
        (1, W, [t("A", 2, 20 * M)], None),
        # window edge: exactly 240 min ago joins, 241 does not
        (2, W, [t("A", 2, 240 * M)], "A"),
        (2, W, [t("A", 2, 241 * M)], None),
        # window 0 = merging off
        (2, timedelta(0), [t("A", 2, 1 * M)], None),
        # resolved / closed tickets are not open; callback_due and in_progress are
        (2, W, [t("A", 2, 5 * M, "resolved")], None),
        (2, W, [t("A", 2, 5 * M, "closed")], None),
        (2, W, [t("A", 2, 5 * M, "callback_due")], "A"),
        (2, W, [t("A", 2, 5 * M, "in_progress")], "A"),
        # a ticket of the site written first though opened after the call (its event
        # waited, e.g. a retried write) is the site's ticket too, within the window
        (2, W, [t("A", 2, -1 * M)], "A"),
        (2, W, [t("A", 2, -240 * M)], "A"),
        (2, W, [t("A", 2, -241 * M)], None),
        # the call's own ticket is never "a repeat" of itself
        (2, W, [t("A", 2, 1 * M, call="me")], None),
        # most urgent first, then most recent
        (3, W, [t("A", 3, 5 * M), t("B", 2, 60 * M)], "B"),
        (2, W, [t("A", 2, 90 * M), t("B", 2, 30 * M)], "B"),
        (2, W, [t("A", 2, 30 * M), t("B", 2, 90 * M)], "A"),
    ],
)
def test_repeat_target(
    level: int, window: timedelta, tickets: list[OpenTicketView], joined: str | None
) -> None:
    got = repeat_target(call_id="me", level=level, at=AT, window=window, candidates=tickets)
    assert (got.number if got is not None else None) == joined


def test_rule_of_one_call() -> None:
    rule = RepeatRule(call_id="me", level=2, at=AT, window=W)
    assert rule.since == AT - W
    tickets = [t("A", 3, 5 * M), t("B", 2, 60 * M), t("C", 2, 1 * M, call="me")]
    chosen = rule.choose(tickets)
    assert chosen is not None and chosen.number == "B"
    assert RepeatRule(call_id="me", level=2, at=AT, window=timedelta(0)).choose(tickets) is None
