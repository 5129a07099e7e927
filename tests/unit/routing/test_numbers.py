from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.errors import InvalidInput
from routing.numbers import LineKind, matching_key, normalise

BEIJING = "+861012345678"
MOBILE = "+8613800138000"


@pytest.mark.parametrize(
    ("raw", "key", "kind", "extension"),
    [
        ("+86 10 1234 5678", BEIJING, LineKind.FIXED, None),
        ("010-12345678", BEIJING, LineKind.FIXED, None),
        ("01012345678", BEIJING, LineKind.FIXED, None),
        ("0086 10 12345678", BEIJING, LineKind.FIXED, None),
        ("00861012345678", BEIJING, LineKind.FIXED, None),
        ("1012345678", BEIJING, LineKind.FIXED, None),  # trunk 0 dropped by the carrier
        ("(010)12345678", BEIJING, LineKind.FIXED, None),
        ("（010）1234-5678", BEIJING, LineKind.FIXED, None),
        ("010-12345678-8001", BEIJING, LineKind.FIXED, "8001"),
        ("010-12345678转8001", BEIJING, LineKind.FIXED, "8001"),
        ("010 1234 5678 ext 12", BEIJING, LineKind.FIXED, "12"),
        ("010-12345678#66", BEIJING, LineKind.FIXED, "66"),
        ("13800138000", MOBILE, LineKind.MOBILE, None),
        ("+8613800138000", MOBILE, LineKind.MOBILE, None),
        ("+86 138 0013 8000", MOBILE, LineKind.MOBILE, None),
        ("8613800138000", MOBILE, LineKind.MOBILE, None),
        ("008613800138000", MOBILE, LineKind.MOBILE, None),
        ("138-0013-8000", MOBILE, LineKind.MOBILE, None),
        ("027-87654321", "+862787654321", LineKind.FIXED, None),
        ("0755-88889999", "+8675588889999", LineKind.FIXED, None),
        ("400-800-1234", "+864008001234", LineKind.SERVICE, None),
        ("+44 20 7946 0958", "+442079460958", LineKind.FIXED, None),
    ],
)
def test_normalisation_table(raw: str, key: str, kind: LineKind, extension: str | None) -> None:
    result = normalise(raw)
    assert (result.key, result.kind, result.extension, result.valid) == (key, kind, extension, True)


def test_unparseable_numbers_keep_their_digits() -> None:
    local = normalise("12345678")  # no area code: cannot be placed, still comparable
    assert (local.key, local.valid) == ("12345678", False)
    assert normalise("95588").key == "95588"


@pytest.mark.parametrize("raw", ["", "abc", "010\r\n12345678", "1" * 65, "DROP TABLE"])
def test_garbage_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput):
        normalise(raw)


@pytest.mark.parametrize("raw", ["", "anonymous", "<unknown>", "Restricted", "abc"])
def test_unusable_caller_ids(raw: str) -> None:
    assert matching_key(raw) is None


MOBILE_PREFIXES = ["130", "135", "138", "139", "150", "158", "177", "186", "189", "199"]


@given(
    prefix=st.sampled_from(MOBILE_PREFIXES),
    rest=st.text(alphabet="0123456789", min_size=8, max_size=8),
    style=st.sampled_from(["{n}", "+86{n}", "+86 {a} {b} {c}", "0086{n}", "86{n}", "{a}-{b}-{c}"]),
)
def test_any_way_of_writing_a_mobile_gives_one_key(prefix: str, rest: str, style: str) -> None:
    number = prefix + rest
    written = style.format(n=number, a=number[:3], b=number[3:7], c=number[7:])
    assert normalise(written).key == normalise(number).key == "+86" + number


@given(
    area=st.sampled_from(["10", "20", "27", "28", "29"]),
    first=st.sampled_from("2345678"),
    rest=st.text(alphabet="0123456789", min_size=7, max_size=7),
    style=st.sampled_from(
        ["0{a}{s}", "0{a}-{s}", "+86 {a} {s}", "0086{a}{s}", "(0{a}){s}", "0{a}-{s}-801", "{a}{s}"]
    ),
)
def test_any_way_of_writing_a_fixed_line_gives_one_key(
    area: str, first: str, rest: str, style: str
) -> None:
    subscriber = first + rest
    assert normalise(style.format(a=area, s=subscriber)).key == f"+86{area}{subscriber}"


@pytest.mark.parametrize(
    "written",
    [
        "010-80000000",
        "01080000000",
        "+86 10 8000 0000",
        "0086 10 80000000",
        "(010)80000000",
        "1080000000",
        "010-80000000-801",
    ],
)
def test_a_range_the_metadata_does_not_know_still_gets_one_key(written: str) -> None:
    # libphonenumber rejects Beijing 8xxxxxxx numbers; the caller and the directory
    # must still meet on one key however the number is written.
    assert normalise(written).key == "+861080000000"
