from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from routing.domain.numbering import looks_like_ticket_number, ticket_number
from routing.domain.ticket_form import (
    AGENT_FIELDS,
    FormError,
    history_text,
    validate_changes,
)
from routing.errors import InvalidInput, RoutingError


def test_typed_values() -> None:
    values = validate_changes(
        {
            "level": "3",
            "site_code": "",
            "rma_quantity": 2,
            "spare_sent_on": "2026-11-20",
            "expected_resolution": "2026-11-22T10:00:00+08:00",
            "problem_type": "complaint",
            "contact_email": "ops@example.cn",
            "description": "多行\n描述 <script>alert(1)</script>",
        }
    )
    assert values["level"] == 3 and values["site_code"] is None
    assert values["spare_sent_on"] == date(2026, 11, 20)
    assert values["expected_resolution"] == datetime(2026, 11, 22, 2, tzinfo=UTC)
    assert values["description"].startswith("多行\n")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"level": 5}, "level"),
        ({"level": True}, "level"),
        ({"site_code": "12a"}, "site_code"),
        ({"status": "deleted"}, "status"),
        ({"description": "x" * 4001}, "description"),
        ({"owner": "y" * 201}, "owner"),
        ({"caller_number": "1\r\nAction: Hangup"}, "caller_number"),
        ({"description": "bell\x07"}, "description"),
        ({"contact_email": "not-an-address"}, "contact_email"),
        ({"expected_resolution": "2026-11-22T10:00:00"}, "expected_resolution"),
        ({"spare_sent_on": "yesterday"}, "spare_sent_on"),
        ({"rma_quantity": -1}, "rma_quantity"),
        ({"number": "HL-1"}, "number"),
    ],
)
def test_bad_values_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(FormError) as err:
        validate_changes(changes)
    assert err.value.field == field
    assert isinstance(err.value, InvalidInput) and isinstance(err.value, RoutingError)


def test_agents_cannot_set_system_fields() -> None:
    with pytest.raises(FormError):
        validate_changes({"response_due": "2026-11-22T10:00:00+00:00"}, allowed=AGENT_FIELDS)


def test_history_text() -> None:
    assert history_text(None) is None
    assert history_text(3) == "3"
    tz = timezone(timedelta(hours=8))
    assert history_text(datetime(2026, 1, 1, tzinfo=tz)) == "2026-01-01T00:00:00+08:00"


def test_ticket_numbers() -> None:
    assert ticket_number(date(2026, 11, 21), 42) == "HL-20261121-0042"
    assert ticket_number(date(2026, 11, 21), 12345, "B2") == "HL-20261121-12345-B2"
    assert looks_like_ticket_number("hl-20261121-0042")
    assert not looks_like_ticket_number("1795304030.13")
    with pytest.raises(InvalidInput):
        ticket_number(date(2026, 11, 21), 1, "bad node")
