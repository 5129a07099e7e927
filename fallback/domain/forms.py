"""What people type in during and after an outage, checked before anything is journaled
(pure): names and reasons, the content of a paper ticket, the number to call back.

Every field reaches the journal and may reach the PBX, so none may carry CR or LF.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fallback.errors import InvalidRequest

_NUMBER = re.compile(r"\+?[0-9]{2,20}")
_SITE = re.compile(r"[0-9]{1,20}")


def single_line(value: object, what: str, *, required: bool = True, limit: int | None = 500) -> str:
    """`value` stripped; `InvalidRequest` when it is required and empty, spans lines, or is
    longer than `limit` characters (no limit: None)."""
    raw = value if isinstance(value, str) else ""
    text = raw.strip()
    if required and not text:
        raise InvalidRequest(f"{what} is required")
    if "\r" in raw or "\n" in raw:
        raise InvalidRequest(f"{what} must be a single line")
    if limit is not None and len(text) > limit:
        raise InvalidRequest(f"{what} is longer than {limit} characters")
    return text


def phone_number(value: str | None, *, required: bool = True) -> str:
    """A caller's number: digits, optionally after `+` ("" when optional and empty)."""
    number = single_line(value, "caller number", required=required, limit=25)
    if number and not _NUMBER.fullmatch(number):
        raise InvalidRequest(f"caller number must be digits (optionally +): {number!r}")
    return number


@dataclass(frozen=True, slots=True)
class PaperForm:
    """The content of one paper ticket as the operator types it in."""

    site_code: str | None
    level: int
    description: str
    caller_number: str | None


def paper_form(
    *, site_code: str | None, level: object, description: str, caller_number: str | None
) -> PaperForm:
    """Check a paper ticket's content: a description (several lines allowed, no CR), a fault
    level 1-4, and optionally the site code and the caller's number."""
    text = (description or "").strip()
    if not text:
        raise InvalidRequest("description is required")
    if "\r" in text:
        raise InvalidRequest("description must not contain CR")
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 4:
        raise InvalidRequest(f"level must be 1, 2, 3 or 4, not {level!r}")
    site = single_line(site_code, "site code", required=False, limit=20) or None
    if site is not None and not _SITE.fullmatch(site):
        raise InvalidRequest(f"site code must be digits: {site!r}")
    number = phone_number(caller_number, required=False) or None
    return PaperForm(site_code=site, level=level, description=text, caller_number=number)
