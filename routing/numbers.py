"""Phone-number normalisation for caller matching (Chinese numbering plan by default).

The same contact must match whether the directory or the caller id says
`+86 10 1234 5678`, `010-12345678`, `01012345678`, `0086 10 12345678`, `1012345678`, and a
mobile with or without `+86`/`86`. Extensions (`转8001`, `ext 12`, `-8001`, `#8001`) are noise
for matching and are kept apart. The key is E.164 (`+861012345678`) when the number is
valid; otherwise the bare digits, so an exact repeat of an odd number still matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from routing.errors import InvalidInput

MAX_RAW_LENGTH = 64

# Everything after one of these is an extension.
_EXTENSION_MARK = re.compile(r"(?:转|分机|ext\.?|extension|x|#|,|;|p|w)\s*(\d{1,6})\s*$", re.I)
_TRAILING_GROUP = re.compile(r"^(.*\d)[\s\-\u2010-\u2015/]+(\d{1,5})$")
_ALLOWED = re.compile(r"^[\d\s+\-()\u2010-\u2015./（）]*$")


class LineKind(StrEnum):
    FIXED = "fixed"
    MOBILE = "mobile"
    SERVICE = "service"  # 400/800 numbers, short service numbers
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PhoneKey:
    key: str  # what matching compares
    kind: LineKind
    valid: bool
    extension: str | None = None


def _line_kind(number: phonenumbers.PhoneNumber) -> LineKind:
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.MOBILE:
        return LineKind.MOBILE
    if kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return LineKind.FIXED
    if kind in (
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.SHARED_COST,
        PhoneNumberType.UAN,
        PhoneNumberType.PREMIUM_RATE,
    ):
        return LineKind.SERVICE
    return LineKind.UNKNOWN


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    digits = re.sub(r"[^\d+]", "", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("86") and len(digits) == 13 and digits[2] == "1":
        digits = "+" + digits  # 86 + an 11-digit mobile, sent without the plus
    try:
        number = phonenumbers.parse(digits, region)
    except NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _plausible_cn(text: str) -> str | None:
    """An E.164-shaped key for a number that is written like a Chinese one but that
    libphonenumber's metadata rejects (a newly allocated range, say): otherwise
    `010-80000000` and `+86 10 8000 0000` would get different keys."""
    digits = re.sub(r"\D", "", text)
    if text.lstrip().startswith("+"):
        if not digits.startswith("86"):
            return None
        national = digits[2:]
    elif digits.startswith("0086"):
        national = digits[4:]
    elif digits.startswith("86") and len(digits) in (12, 13):
        national = digits[2:]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        national = digits
    mobile = len(national) == 11 and national[0] == "1" and national[1] in "3456789"
    beijing = len(national) == 10 and national.startswith("10")
    other_area = 9 <= len(national) <= 11 and national[0] in "23456789"
    return "+86" + national if mobile or beijing or other_area else None


def normalise(raw: str, region: str = "CN") -> PhoneKey:
    """The matching key of `raw`. Raises InvalidInput when it is not a phone number at all."""
    if len(raw) > MAX_RAW_LENGTH:
        raise InvalidInput("phone", f"longer than {MAX_RAW_LENGTH} characters")
    if "\r" in raw or "\n" in raw:
        raise InvalidInput("phone", "contains CR/LF")
    text = raw.strip()
    extension: str | None = None
    marked = _EXTENSION_MARK.search(text)
    if marked and _parse(text[: marked.start()], region) is not None:
        extension = marked.group(1)
        text = text[: marked.start()].strip()
    if not _ALLOWED.match(text) or not re.search(r"\d", text):
        raise InvalidInput("phone", f"not a phone number: {raw[:40]!r}")
    number = _parse(text, region)
    if number is None:
        # "010-12345678-8001": a trailing short group is an extension if dropping it helps.
        group = _TRAILING_GROUP.match(text)
        if group and (candidate := _parse(group.group(1), region)) is not None:
            number, extension = candidate, group.group(2)
    if number is None and region == "CN":
        key = _plausible_cn(text)
        group = _TRAILING_GROUP.match(text)
        if key is None and group and (key := _plausible_cn(group.group(1))) is not None:
            extension = group.group(2)
        if key is not None:
            return PhoneKey(key=key, kind=LineKind.UNKNOWN, valid=False, extension=extension)
    if number is None:
        digits = re.sub(r"\D", "", text)
        return PhoneKey(key=digits, kind=LineKind.UNKNOWN, valid=False, extension=extension)
    key = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return PhoneKey(key=key, kind=_line_kind(number), valid=True, extension=extension)


def matching_key(raw: str, region: str = "CN") -> str | None:
    """The key for a caller id, or None for anonymous / unusable caller ids."""
    text = raw.strip()
    if not text or text.lower() in ("anonymous", "unknown", "<unknown>", "restricted"):
        return None
    try:
        return normalise(text, region).key or None
    except InvalidInput:
        return None
