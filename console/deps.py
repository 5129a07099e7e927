"""What the console needs from the rest of the system, built by the composition root.

`ConsoleDeps` holds only ports (Protocols); `hotline serve` passes the real adapters,
tests pass the same real adapters on a temporary database.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from bus import MessageBus
from bus.topics import TICKET_LEVELS
from calls.clock import Clock, utc_now
from calls.control import CallControl
from console.audit import InMemoryAudit
from console.ports import (
    AccessAudit,
    LoginAttempts,
    PresenceBoard,
    SessionActivity,
    SessionRevocations,
)
from console.presence import ConsolePresence
from console.throttling import LocalLoginAttempts, LocalSessionActivity
from fallback.ports import BackfillDesk, ConsoleHeartbeat, EmergencyControl, HealthBoard
from lifecycle import HealthState
from routing.domain.levels import SlaPolicy
from routing.ports import CallStore, SiteDirectory, TicketStore, UserStore
from routing.records import Ticket
from translations import DEFAULT_LANGUAGE

log = logging.getLogger(__name__)

# --- health ----------------------------------------------------------------------------------

# Each component maps to "ok" / "down" / "disabled" ... or to a mapping with a "status" key
# and any details (latency, error text) the supervisor page should show.
ComponentState = HealthState
HealthProbe = Callable[[], Awaitable[Mapping[str, ComponentState]]]

HEALTHY_STATES = frozenset({"ok", "up", "disabled", "not_configured", "in_process"})


@dataclass(slots=True)
class ConsoleDeps:
    tickets: TicketStore
    calls: CallStore
    sites: SiteDirectory
    users: UserStore
    bus: MessageBus
    call_control: CallControl
    emergency: EmergencyControl
    backfill: BackfillDesk
    health: HealthProbe
    session_secret: str | bytes
    # Logged-out sessions: the shared database under `hotline serve`, so every console
    # process refuses a logged-out token (`storage.revocations.RevocationRepository`).
    revocations: SessionRevocations
    main_queue: str = "hotline-main"
    # Emergency health checks, audit log and callback list for the supervisor page.
    board: HealthBoard | None = None
    # Told about every console heartbeat (the emergency health watch counts live consoles).
    heartbeat: ConsoleHeartbeat | None = None
    # Open consoles and failed log-ins: this process only, unless shared through Redis
    # (`console.redis_state`).
    presence: PresenceBoard = field(default_factory=ConsolePresence)
    clock: Clock = utc_now
    session_ttl: timedelta = timedelta(hours=12)  # one shift and a bit
    max_body_bytes: int = 64 * 1024
    login_attempts: LoginAttempts = field(default_factory=LocalLoginAttempts)
    # Deadlines of tickets opened by hand in the console (pass `settings.sla_policy()`).
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    # Set True behind TLS so browsers send the session cookie only over HTTPS.
    secure_cookies: bool = False
    # Peers whose X-Forwarded-For is believed (addresses, CIDRs): the reverse proxies.
    trusted_proxies: tuple[str, ...] = ()
    # A session unused this long is refused (None = only the token's own expiry).
    session_idle: timedelta | None = None
    session_activity: SessionActivity = field(default_factory=LocalSessionActivity)
    # The access audit trail (`storage.audit.AuditRepository` under `hotline serve`).
    audit: AccessAudit = field(default_factory=InMemoryAudit)
    audit_retention: timedelta | None = timedelta(days=365)
    # Pages and messages when neither the person nor the browser chose (HOTLINE_LOCALE),
    # and the zone pages write times in (HOTLINE_TIMEZONE).
    locale: str = DEFAULT_LANGUAGE
    timezone: str = "Asia/Shanghai"
    # The SLA clocks of tickets as the API shows them (`clocks` of each ticket, in order;
    # supervision's dispatch service under `hotline serve`); None = no clocks shown.
    ticket_clocks: Callable[[Sequence[Any]], Awaitable[list[list[dict[str, Any]]]]] | None = None


def json_value(value: Any) -> Any:
    """JSON-able form of records from other packages (dataclasses, enums, times)."""
    if hasattr(value, "as_json"):
        return value.as_json()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: json_value(getattr(value, name)) for name in value.__dataclass_fields__}
    if hasattr(value, "value") and type(value).__module__ != "builtins":  # enums
        return json_value(value.value)
    return value


async def tickets_json(deps: ConsoleDeps, tickets: Sequence[Any]) -> list[dict[str, Any]]:
    """Tickets as JSON, each with its SLA `clocks` (empty when none are wired)."""
    hook = deps.ticket_clocks
    clocks = await hook(tickets) if hook is not None and tickets else [[] for _ in tickets]
    out: list[dict[str, Any]] = []
    for ticket, ticket_clocks in zip(tickets, clocks, strict=True):
        data: dict[str, Any] = json_value(ticket)
        data["clocks"] = ticket_clocks
        out.append(data)
    return out


async def update_ticket(
    deps: ConsoleDeps,
    number: str,
    changes: Mapping[str, object],
    by: str,
    *,
    note: str,
    at: datetime,
) -> Ticket:
    """An agent's changes to ticket `number`; a level change is said on the bus
    (`bus.topics.TICKET_LEVELS`), so a ticket raised to level 1 is paged at once. A bus
    that fails is logged: the on-call pass finds the raise in the history anyway."""
    ticket = await deps.tickets.update(number, changes, by, note=note, at=at)
    if "level" in changes:
        message = {"type": "ticket_level", "ticket_number": ticket.number, "level": ticket.level}
        try:
            await deps.bus.publish(TICKET_LEVELS, message)
        except Exception as exc:
            log.error("ticket %s: could not announce its level change: %s", number, exc)
    return ticket
