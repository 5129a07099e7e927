"""What operators type in is checked before it reaches the journal or the PBX (pure)."""

from __future__ import annotations

import pytest

from fallback.domain.forms import PaperForm, paper_form, phone_number, single_line
from fallback.errors import InvalidRequest


@pytest.mark.parametrize(
    ("value", "options", "expected"),
    [
        ("  lead  ", {}, "lead"),
        (None, {"required": False}, ""),
        ("", {"required": False}, ""),
        ("x" * 500, {}, "x" * 500),
        ("x" * 900, {"limit": None}, "x" * 900),
    ],
)
def test_single_line_accepts(value: object, options: dict, expected: str) -> None:
    assert single_line(value, "a reason", **options) == expected


@pytest.mark.parametrize(
    ("value", "options", "message"),
    [
        ("", {}, "a reason is required"),
        ("   ", {}, "a reason is required"),
        (None, {}, "a reason is required"),
        (42, {}, "a reason is required"),
        ("drill\r\nAction: Hangup", {}, "a reason must be a single line"),
        ("  \n", {"required": False}, "a reason must be a single line"),
        ("x" * 501, {}, "a reason is longer than 500 characters"),
        ("x" * 21, {"limit": 20}, "a reason is longer than 20 characters"),
    ],
)
def test_single_line_refuses(value: object, options: dict, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        single_line(value, "a reason", **options)


@pytest.mark.parametrize(
    ("value", "required", "expected"),
    [
        ("13800138000", True, "13800138000"),
        (" +861088886666 ", True, "+861088886666"),
        (None, False, ""),
    ],
)
def test_phone_number_accepts(value: str | None, required: bool, expected: str) -> None:
    assert phone_number(value, required=required) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "caller number is required"),
        ("1", "must be digits"),
        ("138-0013", "must be digits"),
        ("138\r\nAction: Hangup", "single line"),
        ("1" * 26, "longer than 25"),
    ],
)
def test_phone_number_refuses(value: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        phone_number(value)


def test_paper_form_keeps_the_content() -> None:
    form = paper_form(
        site_code=" 234567 ",
        level=1,
        description="  MCU down\nall sites cut off  ",
        caller_number="",
    )
    assert form == PaperForm("234567", 1, "MCU down\nall sites cut off", None)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"description": "  "}, "description is required"),
        ({"description": "a\r\nb"}, "must not contain CR"),
        ({"level": 0}, "level must be 1, 2, 3 or 4"),
        ({"level": 5}, "level must be 1, 2, 3 or 4"),
        ({"level": True}, "level must be 1, 2, 3 or 4"),
        ({"level": "1"}, "level must be 1, 2, 3 or 4"),
        ({"site_code": "12a"}, "site code must be digits"),
        ({"site_code": "1" * 21}, "longer than 20"),
        ({"caller_number": "abc"}, "caller number must be digits"),
    ],
)
def test_paper_form_refuses(fields: dict, message: str) -> None:
    values = {"site_code": None, "level": 3, "description": "camera dark", "caller_number": None}
    with pytest.raises(InvalidRequest, match=message):
        paper_form(**(values | fields))
