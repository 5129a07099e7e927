"""On-call paging rules: who is on duty, who is paged next, when a page escalates.

The rota is a list of duty periods (shifts). At a moment, the engineers on call are those
whose shift covers it, in rota order (earliest start first, then import order); the
site's own assigned engineer goes first when on duty. After them come the engineers of
the shifts starting next: whoever takes over is the natural next person to wake. A
ticket's page goes to the first engineer of that order not yet paged for it; a page
nobody acknowledged within the escalation time is followed by a page to the next one.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

CHANNELS = ("dingtalk", "wecom", "sms", "email", "webhook")
ROTA_COLUMNS = ("start", "end", "engineer", "phone", "channel", "address")
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{2,30}$")


class RotaRowError(ValueError):
    """A rota row that cannot be a shift; the message says which column and why."""


@dataclass(frozen=True, slots=True)
class ShiftDraft:
    """A duty period before it is stored."""

    starts_at: datetime
    ends_at: datetime
    engineer: str
    phone: str
    channel: str
    address: str


@dataclass(frozen=True, slots=True)
class Shift:
    id: int
    starts_at: datetime
    ends_at: datetime
    engineer: str
    phone: str
    channel: str
    address: str

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


def _one_line(name: str, value: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise RotaRowError(f"{name}: required")
    if len(text) > limit or any(c in text for c in "\r\n\0"):
        raise RotaRowError(f"{name}: one line of at most {limit} characters")
    return text


def _instant(name: str, value: str) -> datetime:
    text = _one_line(name, value, 40)
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise RotaRowError(f"{name}: not an ISO 8601 time ({text!r})") from exc
    if at.tzinfo is None or at.utcoffset() is None:
        raise RotaRowError(f"{name}: needs a UTC offset, e.g. 2026-12-05T08:00+08:00")
    return at


def check_contact(channel: str, phone: str, address: str) -> tuple[str, str, str]:
    """The channel, phone and address of an engineer, checked; raises RotaRowError."""
    channel = channel.strip().lower()
    if channel not in CHANNELS:
        raise RotaRowError(f"channel: one of {'|'.join(CHANNELS)}, not {channel!r}")
    phone = _one_line("phone", phone, 64)
    if not _PHONE.match(phone):
        raise RotaRowError(f"phone: not a telephone number ({phone!r})")
    address = _one_line("address", address, 500)
    if channel == "email":
        if address.count("@") != 1 or " " in address:
            raise RotaRowError(f"address: not an e-mail address ({address!r})")
    elif not address.startswith(("http://", "https://")):
        raise RotaRowError(f"address: the {channel} channel needs an http(s) URL")
    return channel, phone, address


def parse_rota_row(row: Mapping[str, str | None]) -> ShiftDraft:
    """One CSV row (`start`, `end`, `engineer`, `phone`, `channel`, `address`)."""
    missing = [c for c in ROTA_COLUMNS if row.get(c) is None]
    if missing:
        raise RotaRowError(f"missing column(s): {', '.join(missing)}")
    start = _instant("start", row["start"] or "")
    end = _instant("end", row["end"] or "")
    if end <= start:
        raise RotaRowError("end: must be after start")
    engineer = _one_line("engineer", row["engineer"] or "", 100)
    channel, phone, address = check_contact(
        row["channel"] or "", row["phone"] or "", row["address"] or ""
    )
    return ShiftDraft(start, end, engineer, phone, channel, address)


def duty_order(
    shifts: Iterable[Shift], at: datetime, *, site_engineers: Collection[str] = ()
) -> list[Shift]:
    """Whom to page for a fault at `at`, first to last, each engineer once."""
    ordered = sorted(shifts, key=lambda s: (s.starts_at, s.id))
    on_duty = [s for s in ordered if s.covers(at)]
    own = [s for s in on_duty if s.engineer in site_engineers]
    others = [s for s in on_duty if s.engineer not in site_engineers]
    following = [s for s in ordered if s.starts_at > at]
    result: list[Shift] = []
    seen: set[str] = set()
    for shift in (*own, *others, *following):
        if shift.engineer not in seen:
            seen.add(shift.engineer)
            result.append(shift)
    return result


def next_to_page(order: Sequence[Shift], already_paged: Collection[str]) -> Shift | None:
    """The first engineer of `order` not paged for this ticket yet (None: nobody left)."""
    return next((s for s in order if s.engineer not in already_paged), None)


@dataclass(frozen=True, slots=True)
class PageState:
    """What escalation needs of a ticket's pages."""

    seq: int
    state: str  # requested / sending / delivered / failed / no_one
    requested_at: datetime
    sent_at: datetime | None
    acked_at: datetime | None


def escalation_due(pages: Sequence[PageState], after: timedelta) -> datetime | None:
    """When the ticket's next engineer is due to be paged, or None (acknowledged, nobody
    left, or the last page still on its way). The clock runs from the last page's
    sending; a page that could not be delivered escalates at once."""
    if not pages or any(p.acked_at is not None for p in pages):
        return None
    last = max(pages, key=lambda p: p.seq)
    if last.state == "failed":
        return last.requested_at
    if last.state != "delivered" or last.sent_at is None:
        return None
    return last.sent_at + after
