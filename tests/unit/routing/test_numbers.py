from __future__ import annotations

import pytest

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
