"""On-call rules, table-driven: duty order, who is paged next, when a page escalates,
and the rota CSV's rows (bad ones reported by line)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from supervision.domain.oncall import (
    PageState,
    RotaRowError,
    Shift,
    duty_order,
    escalation_due,
    next_to_page,
    parse_rota_row,
)
from supervision.oncall.rota_file import RotaFileError, read_rota

AT = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def shift(i: int, name: str, start: timedelta, hours: float = 12) -> Shift:
    return Shift(i, AT + start, AT + start + hours * H, name, "139", "webhook", "http://x")


ROTA = [
    shift(1, "A", -2 * H),  # on duty, started first
    shift(2, "B", -1 * H),  # on duty
    shift(3, "C", 10 * H),  # next shift
    shift(4, "D", -20 * H, 8),  # over
    shift(5, "A", 12 * H),  # A again later: listed once
]


@pytest.mark.parametrize(
    ("own", "expected"),
    [
        ((), ["A", "B", "C"]),
        (("B",), ["B", "A", "C"]),  # the site's own engineer first when on duty
        (("C",), ["A", "B", "C"]),  # ... not when off duty
    ],
)
def test_duty_order(own: tuple[str, ...], expected: list[str]) -> None:
    assert [s.engineer for s in duty_order(ROTA, AT, site_engineers=own)] == expected


def test_shift_boundaries() -> None:
    edge = [shift(1, "A", 0 * H, 1), shift(2, "B", 1 * H, 1)]
    assert [s.engineer for s in duty_order(edge, AT + H)] == ["B"]  # end excluded
    assert [s.engineer for s in duty_order(edge, AT)] == ["A", "B"]


@pytest.mark.parametrize(
    ("paged", "expected"),
    [((), "A"), (("A",), "B"), (("A", "B"), "C"), (("A", "B", "C"), None)],
)
def test_next_to_page(paged: tuple[str, ...], expected: str | None) -> None:
    got = next_to_page(duty_order(ROTA, AT), paged)
    assert (got.engineer if got else None) == expected


def page(seq: int, state: str, sent: timedelta | None, acked: bool = False) -> PageState:
    return PageState(
        seq, state, AT, AT + sent if sent is not None else None, AT + H if acked else None
    )


@pytest.mark.parametrize(
    ("pages", "due"),
    [
        ([], None),
        ([page(1, "delivered", 1 * M)], AT + 11 * M),
        ([page(1, "delivered", 1 * M, acked=True)], None),
        ([page(1, "delivered", 0 * M), page(2, "delivered", 12 * M)], AT + 22 * M),
        ([page(1, "delivered", 0 * M, acked=True), page(2, "delivered", 12 * M)], None),
        ([page(1, "sending", None)], None),  # still on its way
        ([page(1, "requested", None)], None),
        ([page(1, "failed", None)], AT),  # undeliverable: the next one at once
        ([page(1, "no_one", None)], None),
    ],
)
def test_escalation_due(pages: list[PageState], due: datetime | None) -> None:
    assert escalation_due(pages, 10 * M) == due


GOOD = {
    "start": "2026-12-05T08:00+08:00",
    "end": "2026-12-05T20:00+08:00",
    "engineer": "王工",
    "phone": "13900139000",
    "channel": "webhook",
    "address": "https://hooks.example/oncall",
}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"start": "2026-12-05T08:00"}, "start: needs a UTC offset"),
        ({"end": "tomorrow"}, "end: not an ISO 8601 time"),
        ({"end": "2026-12-05T07:00+08:00"}, "end: must be after start"),
        ({"engineer": " "}, "engineer: required"),
        ({"channel": "pager"}, "channel: one of dingtalk|wecom|sms|email|webhook"),
        ({"phone": "call me"}, "phone: not a telephone number"),
        ({"channel": "email"}, "address: not an e-mail address"),
        ({"address": "ftp://x"}, "address: the webhook channel needs an http(s) URL"),
        ({"engineer": "a\nb"}, "engineer: one line"),
    ],
)
def test_bad_rota_rows(change: dict[str, str], reason: str) -> None:
    with pytest.raises(RotaRowError, match=re.escape(reason)):
        parse_rota_row(GOOD | change)


def test_good_rota_row() -> None:
    draft = parse_rota_row(GOOD | {"channel": " DingTalk "})
    assert draft.starts_at == datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
    assert draft.channel == "dingtalk"
    assert parse_rota_row(GOOD | {"channel": "email", "address": "wang@example.cn"})


def test_rota_file_reports_bad_rows_by_line() -> None:
    data = (
        "\ufeffstart,end,engineer,phone,channel,address,note\n"
        "2026-12-05T08:00+08:00,2026-12-05T20:00+08:00,王工,13900139000,webhook,http://h/1,x\n"
        "2026-12-05T20:00,2026-12-06T08:00+08:00,李工,13900139001,sms,http://h/2,\n"
        "\n"
        '2026-12-05T20:00+08:00,2026-12-06T08:00+08:00,"赵工\n'
        '二",13900139002,fax,http://h/3,\n'
        "2026-12-06T08:00+08:00,2026-12-06T20:00+08:00,钱工,13900139003,email,q@example.cn,\n"
    ).encode()
    rota = read_rota(data)
    assert [(line, d.engineer) for line, d in rota.shifts] == [(2, "王工"), (7, "钱工")]
    assert rota.rows_read == 4
    assert rota.errors == [
        "line 3: start: needs a UTC offset, e.g. 2026-12-05T08:00+08:00",
        "line 5: engineer: one line of at most 100 characters",
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"start,end,engineer\n", "missing required column(s): phone, channel, address"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_unreadable_rota_files(data: bytes, reason: str) -> None:
    with pytest.raises(RotaFileError, match=re.escape(reason)):
        read_rota(data)
