"""Engineer dispatch: the check-in link's token, and what each check-in step records.

The token in a check-in link is the engineer's only credential, so it is signed
(HMAC-SHA256 over the dispatch, the ticket number and the expiry), good for one ticket
and expires. `read_token` refuses a forged, malformed, expired or other ticket's token
before anything is looked up; the store then refuses a superseded dispatch or a closed
ticket. `step_effects` is the rule for one step: the first arrival wins (a replayed or
late "arrived" never moves the ticket's arrival), "fixed" resolves the ticket, "part
needed" starts the part clocks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from supervision.domain.errors import SupervisionError

CHANNELS = ("dingtalk", "wecom", "sms", "email", "webhook")
_SIGNATURE_BYTES = 16  # 128 bits of HMAC-SHA256: unforgeable, short enough for an SMS


class CheckinStep(StrEnum):
    ON_THE_WAY = "on_the_way"
    ARRIVED = "arrived"
    FIXED = "fixed"
    PART_NEEDED = "part_needed"


class Refusal(StrEnum):
    """Why a check-in link does not work (each has its own page)."""

    MALFORMED = "malformed"
    FORGED = "forged"  # bad signature, or signed for another ticket
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # signed by us but no such dispatch (database restored?)
    SUPERSEDED = "superseded"  # the ticket was re-dispatched to someone else
    CLOSED = "closed"  # the ticket is resolved or closed
    NOT_ARRIVED = "not_arrived"  # "fixed" / "part needed" before "arrived"


class CheckinRefused(SupervisionError):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(f"check-in refused: {reason.value}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CheckinClaim:
    """What a valid token says: this dispatch, of this ticket, until `expires_at`."""

    dispatch_id: int
    ticket_number: str
    expires_at: datetime


def _signature(key: bytes, dispatch_id: int, ticket_number: str, expires: int) -> str:
    message = f"checkin\n{dispatch_id}\n{ticket_number}\n{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def make_token(key: bytes, claim: CheckinClaim) -> str:
    """`<dispatch id>.<expiry, unix seconds>.<signature>`: URL-safe, no padding."""
    expires = int(claim.expires_at.timestamp())
    sig = _signature(key, claim.dispatch_id, claim.ticket_number, expires)
    return f"{claim.dispatch_id}.{expires}.{sig}"


def read_token(key: bytes, ticket_number: str, token: str, now: datetime) -> CheckinClaim:
    """The claim of a token presented for `ticket_number`; raises CheckinRefused."""
    parts = token.split(".")
    if len(token) > 100 or len(parts) != 3 or not all(p.isascii() for p in parts):
        raise CheckinRefused(Refusal.MALFORMED)
    raw_id, raw_expires, sig = parts
    if not (raw_id.isdigit() and raw_expires.isdigit()) or len(raw_id) > 12:
        raise CheckinRefused(Refusal.MALFORMED)
    dispatch_id, expires = int(raw_id), int(raw_expires)
    expected = _signature(key, dispatch_id, ticket_number, expires)
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        raise CheckinRefused(Refusal.FORGED)
    expires_at = datetime.fromtimestamp(expires, UTC)
    if now >= expires_at:
        raise CheckinRefused(Refusal.EXPIRED)
    return CheckinClaim(dispatch_id, ticket_number, expires_at)


@dataclass(frozen=True, slots=True)
class DispatchState:
    """One dispatch's check-in times, and the ticket's, as the store holds them."""

    superseded: bool
    ticket_open: bool
    on_the_way_at: datetime | None = None
    arrived_at: datetime | None = None
    fixed_at: datetime | None = None
    part_needed_at: datetime | None = None
    ticket_onsite_at: datetime | None = None
    ticket_part_needed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StepEffects:
    """What to write for one step: dispatch columns, ticket fields (with history), and
    whether anything was new (False = a replay, answered as "already recorded")."""

    dispatch: Mapping[str, object]
    ticket: Mapping[str, object]

    @property
    def replay(self) -> bool:
        return not self.dispatch and not self.ticket


def step_effects(state: DispatchState, step: CheckinStep, at: datetime) -> StepEffects:
    """The rule for one check-in step at `at`; raises CheckinRefused."""
    if state.superseded:
        raise CheckinRefused(Refusal.SUPERSEDED)
    if not state.ticket_open:
        raise CheckinRefused(Refusal.CLOSED)
    dispatch: dict[str, object] = {}
    ticket: dict[str, object] = {}
    if step is CheckinStep.ON_THE_WAY:
        if state.on_the_way_at is None and state.arrived_at is None:
            dispatch["on_the_way_at"] = at
    elif step is CheckinStep.ARRIVED:
        if state.arrived_at is None:
            dispatch["arrived_at"] = at
        # The first arrival on the ticket counts, whoever recorded it.
        if state.ticket_onsite_at is None:
            ticket["onsite_at"] = at
    else:
        if state.arrived_at is None and state.ticket_onsite_at is None:
            raise CheckinRefused(Refusal.NOT_ARRIVED)
        if step is CheckinStep.FIXED:
            if state.fixed_at is None:
                dispatch["fixed_at"] = at
                ticket["status"] = "resolved"
        elif state.part_needed_at is None:
            dispatch["part_needed_at"] = at
            if state.ticket_part_needed_at is None:
                ticket["part_needed_at"] = at
    return StepEffects(dispatch, ticket)


def check_location(
    latitude: float | None, longitude: float | None, accuracy_m: float | None
) -> tuple[float, float, float | None] | None:
    """A phone's position if it is one (both coordinates, in range), else None."""
    if latitude is None or longitude is None:
        return None
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        return None
    if accuracy_m is not None and not 0.0 <= accuracy_m <= 1_000_000.0:
        accuracy_m = None
    return latitude, longitude, accuracy_m
