"""Engineer dispatch: send an engineer with a signed check-in link, take their check-ins,
and show the ticket's clocks.

::

    dispatch = DispatchService(store=DispatchRepository(db), tickets=tickets, sites=sites,
                               policy=supervision_config.policy(sla), key=secret, ...)
    app.include_router(router(dispatch, require_agent=..., current_user=...))  # .web
    ...
    await dispatch.stop()   # notices in flight are cancelled, the HTTP client closed

The notice to the engineer goes through the supervision channels (DingTalk, WeCom, SMS
gateway, e-mail, JSON webhook) in a background task with retries; its delivery state is
kept on the dispatch. Who may be sent comes from `EngineerSource`: the site's assigned
engineers and the engineers the directory knows; an on-call rota can stand in for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx

from calls.clock import Clock, utc_now
from routing.domain.levels import FaultLevel
from routing.errors import InvalidInput, StoreUnavailable, TicketNotFound
from routing.ports import SiteDirectory, TicketStore
from routing.records import SiteRecord, Ticket
from supervision.dispatch.notice import DispatchNoticeText, compose_dispatch_notice
from supervision.dispatch.ports import DispatchOrder, DispatchRecord, DispatchStore, EngineerChoice
from supervision.domain.dispatch import (
    CHANNELS,
    CheckinClaim,
    CheckinRefused,
    CheckinStep,
    Refusal,
    StepEffects,
    check_location,
    make_token,
    read_token,
)
from supervision.domain.errors import DeliveryError, SupervisionConfigError
from supervision.domain.escalation import SupervisionPolicy
from supervision.domain.sla import ClockState, Pause, SlaTicket, assess
from supervision.notify.channels import (
    Channel,
    DingTalkRobot,
    OutboundNotice,
    SmsGateway,
    SmtpMailer,
    SmtpSettings,
    WeComRobot,
)
from supervision.notify.dispatcher import RetryPolicy
from supervision.notify.recipients import Recipient, RecipientDirectory

log = logging.getLogger(__name__)

# The API speaks four clock states; "met late" is a breach that has since been met.
_API_STATE = {
    ClockState.RUNNING: "running",
    ClockState.PAUSED: "paused",
    ClockState.MET: "met",
    ClockState.BREACHED: "breached",
    ClockState.MET_LATE: "breached",
}


class EngineerSource(Protocol):
    """Who may be sent to a site: its assigned engineers first, then the others."""

    async def engineers(self, site_code: str | None) -> Sequence[EngineerChoice]: ...


@dataclass(frozen=True, slots=True)
class DispatchResult:
    record: DispatchRecord
    checkin_url: str


@dataclass(frozen=True, slots=True)
class CheckinView:
    """What the engineer's page shows: the ticket, the site and the dispatch."""

    claim: CheckinClaim
    ticket: Ticket
    site: SiteRecord | None
    dispatch: DispatchRecord


class DispatchService:
    def __init__(
        self,
        *,
        store: DispatchStore,
        tickets: TicketStore,
        sites: SiteDirectory,
        policy: SupervisionPolicy,
        key: bytes,
        channels: Mapping[str, Channel] | None = None,
        smtp: SmtpSettings | None = None,
        link_lifetime: timedelta = timedelta(hours=72),
        public_base_url: str | None = None,
        language: str = "zh-CN",
        clock: Clock = utc_now,
        retry: RetryPolicy | None = None,
        roster: EngineerSource | None = None,
        recipients: RecipientDirectory | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if len(key) < 16:
            raise SupervisionConfigError("the check-in signing key needs at least 16 bytes")
        self.store = store
        self.tickets = tickets
        self.sites = sites
        self.policy = policy
        self.clock = clock
        self.language = language
        self.link_lifetime = link_lifetime
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.roster: EngineerSource = roster or store
        self.recipients = recipients
        self._key = key
        self._http = httpx.AsyncClient(timeout=10.0)
        self._channels: dict[str, Channel] = (
            dict(channels)
            if channels is not None
            else {
                "dingtalk": DingTalkRobot(self._http),
                "wecom": WeComRobot(self._http),
                "sms": SmsGateway(self._http),
                "email": SmtpMailer(smtp or SmtpSettings()),
            }
        )
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._tasks: set[asyncio.Task[None]] = set()

    async def stop(self) -> None:
        for task in tuple(self._tasks):
            task.cancel()
        await asyncio.gather(*tuple(self._tasks), return_exceptions=True)
        await self._http.aclose()

    async def drain(self) -> None:
        """Wait for every notice in flight (tests, clean shutdown)."""
        while self._tasks:
            await asyncio.gather(*tuple(self._tasks), return_exceptions=True)

    # --- dispatch ------------------------------------------------------------------------

    async def dispatch(
        self,
        number: str,
        *,
        engineer: str,
        by: str,
        base_url: str,
        phone: str = "",
        channel: str = "",
        address: str = "",
    ) -> DispatchResult:
        """Record the dispatch and send the engineer the notice with the check-in link."""
        recipient = _recipient(engineer, phone, channel, address)
        if recipient is None and self.recipients is not None:
            # No channel given: the engineer's own entry in [supervision] recipients, if any.
            recipient = self.recipients.get(engineer)
            channel = recipient.channel if recipient is not None else ""
        ticket = await self.tickets.get(number)
        if ticket is None:
            raise TicketNotFound(number)
        now = self.clock()
        link_base = self.public_base_url or base_url.rstrip("/")
        record = await self.store.dispatch(
            DispatchOrder(
                ticket_number=number,
                engineer=engineer,
                phone=phone,
                channel=channel,
                address=address,
                by=by,
                at=now,
                expires_at=now + self.link_lifetime,
                link_base=link_base,
            )
        )
        token = make_token(self._key, CheckinClaim(record.id, number, record.expires_at))
        url = f"{link_base}/checkin/{number}/{token}"
        site = await self.sites.site_record(ticket.site_code) if ticket.site_code else None
        text = compose_dispatch_notice(ticket, site, record, url, self.language)
        log.info(
            "ticket %s (call %s): dispatch #%d to %s by %s, notice via %s",
            number,
            ticket.call_id or "-",
            record.id,
            engineer,
            by,
            channel or "nobody",
        )
        if recipient is None:
            await self.store.note_notice(record.id, "none")
        else:
            self._spawn(self._deliver(record, ticket, recipient, text, url), record.id)
        return DispatchResult(record, url)

    async def resend_unsent(self) -> int:
        """Send again the notices a previous run left undelivered (leader, at start)."""
        try:
            unsent = await self.store.unsent(self.clock())
        except StoreUnavailable as exc:
            log.warning("dispatch notices left unsent not re-sent: %s", exc)
            return 0
        count = 0
        for record, address, link_base in unsent:
            ticket = await self.tickets.get(record.ticket_number)
            if ticket is None or not ticket.is_open:
                continue
            recipient = _recipient(record.engineer, record.phone, record.channel, address)
            if recipient is None:
                continue
            claim = CheckinClaim(record.id, ticket.number, record.expires_at)
            token = make_token(self._key, claim)
            url = f"{self.public_base_url or link_base}/checkin/{ticket.number}/{token}"
            site = await self.sites.site_record(ticket.site_code) if ticket.site_code else None
            text = compose_dispatch_notice(ticket, site, record, url, self.language)
            self._spawn(self._deliver(record, ticket, recipient, text, url), record.id)
            count += 1
        if count:
            log.warning("re-sending %d dispatch notice(s) left unsent by the last run", count)
        return count

    def _spawn(self, delivery: Coroutine[Any, Any, None], dispatch_id: int) -> None:
        task = asyncio.create_task(delivery, name=f"dispatch-{dispatch_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self,
        record: DispatchRecord,
        ticket: Ticket,
        recipient: Recipient,
        text: DispatchNoticeText,
        url: str,
    ) -> None:
        attempts = 0
        while True:
            attempts += 1
            try:
                await self._send(record, ticket, recipient, text, url)
            except DeliveryError as exc:
                final = not exc.retryable or attempts >= self._retry.max_attempts
                log.warning(
                    "dispatch #%d notice to %s attempt %d failed: %s",
                    record.id,
                    recipient.name,
                    attempts,
                    exc,
                )
                if final:
                    await self.store.note_notice(record.id, "failed", str(exc))
                    return
                await self.store.note_notice(record.id, "retrying", str(exc))
                await self._sleep(self._retry.delay(attempts))
                continue
            await self.store.note_notice(record.id, "delivered")
            log.info("dispatch #%d notice delivered to %s", record.id, recipient.name)
            return

    async def _send(
        self,
        record: DispatchRecord,
        ticket: Ticket,
        recipient: Recipient,
        text: DispatchNoticeText,
        url: str,
    ) -> None:
        if recipient.channel == "webhook":
            await self._post_webhook(record, ticket, recipient, text, url)
            return
        channel = self._channels.get(recipient.channel)
        if channel is None:
            raise DeliveryError(recipient.channel, "channel not configured", retryable=False)
        await channel.deliver(
            OutboundNotice(
                record.id,
                ticket.number,
                text.title,
                text.markdown,
                "",
                url,
                f"{ticket.number}/dispatch/{record.id}",
            ),
            recipient,
        )

    async def _post_webhook(
        self,
        record: DispatchRecord,
        ticket: Ticket,
        recipient: Recipient,
        text: DispatchNoticeText,
        url: str,
    ) -> None:
        payload = {
            "type": "hotline.dispatch",
            "dispatch_id": record.id,
            "ticket_number": ticket.number,
            "site_code": ticket.site_code,
            "engineer": record.engineer,
            "phone": record.phone,
            "checkin_url": url,
            "title": text.title,
            "text": text.markdown,
        }
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            response = await self._http.post(
                recipient.address,
                content=body,
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
        except httpx.HTTPError as exc:
            raise DeliveryError("webhook", f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            retryable = response.status_code >= 500 or response.status_code == 429
            raise DeliveryError("webhook", f"HTTP {response.status_code}", retryable=retryable)

    # --- check-in ------------------------------------------------------------------------

    async def view(self, number: str, token: str) -> CheckinView:
        """What the check-in page shows; raises CheckinRefused with the reason."""
        claim = read_token(self._key, number, token, self.clock())
        record = await self.store.get(claim.dispatch_id, number)
        ticket = await self.tickets.get(number)
        if record is None or ticket is None:
            raise CheckinRefused(Refusal.UNKNOWN)
        if record.superseded_at is not None:
            raise CheckinRefused(Refusal.SUPERSEDED)
        site = await self.sites.site_record(ticket.site_code) if ticket.site_code else None
        return CheckinView(claim, ticket, site, record)

    async def check_in(
        self,
        number: str,
        token: str,
        step: CheckinStep,
        *,
        latitude: float | None = None,
        longitude: float | None = None,
        accuracy_m: float | None = None,
    ) -> tuple[StepEffects, DispatchRecord]:
        now = self.clock()
        claim = read_token(self._key, number, token, now)
        effects, record = await self.store.check_in(
            claim.dispatch_id,
            number,
            step,
            now,
            check_location(latitude, longitude, accuracy_m),
        )
        log.info(
            "ticket %s: dispatch #%d check-in %s by %s%s",
            number,
            record.id,
            step.value,
            record.engineer,
            " (already recorded)" if effects.replay else "",
        )
        return effects, record

    # --- what the console shows -----------------------------------------------------------

    async def engineers(self, number: str) -> list[EngineerChoice]:
        ticket = await self.tickets.get(number)
        if ticket is None:
            raise TicketNotFound(number)
        return list(await self.roster.engineers(ticket.site_code))

    async def ticket_clocks(self, tickets: Sequence[Ticket]) -> list[list[dict[str, Any]]]:
        """The clocks of each ticket, with its pauses (one read for all of them)."""
        pauses = await self.store.pauses([t.number for t in tickets])
        now = self.clock()
        return [self.clocks(t, now, pauses.get(t.number, ())) for t in tickets]

    def clocks(
        self, ticket: Ticket, now: datetime | None = None, pauses: Sequence[Pause] = ()
    ) -> list[dict[str, Any]]:
        """The ticket's clocks as the API shows them (`kind`, `due`, `met_at`, `state`)."""
        at = now or self.clock()
        sla = assess(sla_ticket(ticket, pauses), self.policy.sla, at, self.policy.calendar)
        met = {
            "response": ticket.responded_at or ticket.resolved_at,
            "onsite": ticket.onsite_at or ticket.resolved_at,
            "part_decision": _earliest(ticket.part_needed_at, ticket.resolved_at),
            "part_shipment": ticket.part_sent_at,
            "part_arrival": ticket.part_received_at,
        }
        return [
            {
                "kind": c.kind.value,
                "due": c.due.isoformat(),
                "met_at": (
                    m.isoformat()
                    if c.state in (ClockState.MET, ClockState.MET_LATE)
                    and (m := met.get(c.kind.value)) is not None
                    else None
                ),
                "state": _API_STATE[c.state],
            }
            for c in sla.clocks
        ]


def sla_ticket(ticket: Ticket, pauses: Sequence[Pause] = ()) -> SlaTicket:
    """The SLA engine's view of a stored ticket and its waits for the customer."""
    return SlaTicket(
        pauses=tuple(pauses),
        number=ticket.number,
        level=FaultLevel.parse(ticket.level),
        status=ticket.status,
        created_at=ticket.created_at,
        site_code=ticket.site_code,
        responded_at=ticket.responded_at,
        onsite_at=ticket.onsite_at,
        resolved_at=ticket.resolved_at,
        response_due=ticket.response_due,
        onsite_due=ticket.onsite_due,
        call_id=ticket.call_id,
        dispatched_at=ticket.dispatched_at,
        part_needed_at=ticket.part_needed_at,
        part_sent_at=ticket.part_sent_at,
        part_received_at=ticket.part_received_at,
    )


def _earliest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def _recipient(engineer: str, phone: str, channel: str, address: str) -> Recipient | None:
    """The engineer as a notice recipient, or None when no channel was given."""
    for name, value in (("engineer", engineer), ("phone", phone), ("address", address)):
        if "\r" in value or "\n" in value or any(ord(c) < 32 for c in value):
            raise InvalidInput(name, "must be a single line without control characters")
    if not engineer.strip():
        raise InvalidInput("engineer", "is required")
    if not channel:
        if address:
            raise InvalidInput("channel", "say which channel the address is for")
        return None
    if channel not in CHANNELS:
        raise InvalidInput("channel", f"must be one of {', '.join(CHANNELS)}")
    try:
        return Recipient(
            name=engineer,
            roles=frozenset({"engineer"}),
            channel=channel,
            address=address,
            at_mobiles=(phone,) if phone else (),
        )
    except SupervisionConfigError as exc:
        raise InvalidInput("address", str(exc)) from exc
