"""`OnCallService`: pages the engineer on call for every level-1 ticket, and the next
one on the rota when a page goes unacknowledged (leader only).

A page is first a durable request (written with the ticket by the tickets stage at the
IVR's level-1 keypress, `page_requested` then wakes the pass; `request_page`; or found by
the pass: a ticket an agent raised to level 1, the pass
woken at once by the console's word on the bus, `bus.topics.TICKET_LEVELS`). The
leader's pass claims each request (exactly one controller gets it), picks the engineer
(`supervision.domain.oncall`), sends the notice through the channel the rota names and
records the outcome; then it requests the next page of every ticket whose last page
went unacknowledged for the escalation time (or could not be delivered).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bus import MessageBus, Subscription
from bus.topics import TICKET_LEVELS
from calls.clock import Clock, utc_now
from supervision.domain.errors import DeliveryError, SupervisionConfigError
from supervision.domain.oncall import duty_order, escalation_due, next_to_page
from supervision.notify.channels import Channel, OutboundNotice
from supervision.notify.recipients import Recipient
from supervision.oncall.ports import OnCallStore
from supervision.oncall.records import Page
from translations import format_local, translator

log = logging.getLogger(__name__)

# How far ahead the rota is read for "the next engineer" (the shifts starting next).
LOOKAHEAD = timedelta(days=2)
DESK_ZONE = ZoneInfo("Asia/Shanghai")


class OnCallService:
    def __init__(
        self,
        store: OnCallStore,
        channels: Mapping[str, Channel],
        *,
        clock: Clock = utc_now,
        escalate_after: timedelta = timedelta(minutes=10),
        interval: float = 5.0,
        ack_base_url: str | Callable[[], str] | None = None,
        language: str = "zh-CN",
        zone: ZoneInfo = DESK_ZONE,
        attempts: int = 3,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        bus: MessageBus | None = None,
    ) -> None:
        """`interval`: seconds between passes when nothing wakes one earlier; `bus`: where
        the console says a ticket's level changed (a raise to level 1 wakes the pass)."""
        self.store = store
        self.bus = bus
        self.channels = dict(channels)
        self.clock = clock
        self.escalate_after = escalate_after
        self.interval = interval
        # A callable is asked at each page: the console's address is known once it listens.
        self._ack_base = ack_base_url
        self._gettext = translator(language).gettext
        self.zone = zone
        self.attempts = attempts
        self._sleep = sleep
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        # Level raises older than this when the leader starts were someone else's to page.
        self._raised_since: datetime | None = None
        self._released = False  # pages a previous leader claimed, put back once

    # --- the LevelOnePager port (routing) -----------------------------------------------

    async def request_page(
        self,
        *,
        ticket_number: str,
        site_code: str | None,
        caller_number: str,
        reason: str,
        at: datetime,
    ) -> None:
        if await self.store.has_pages(ticket_number):
            return  # paged already (a repeat call, a replayed event): escalation goes on
        if await self.store.add_page(
            ticket_number=ticket_number,
            seq=1,
            reason=reason,
            site_code=site_code,
            caller_number=caller_number,
            at=at,
        ):
            log.info("ticket %s: on-call page requested (%s)", ticket_number, reason)
            self._wake.set()

    def page_requested(self, ticket_number: str, reason: str) -> None:
        """The ticket's first page was written with the ticket (the call events' writer):
        the pass sends it now."""
        log.info("ticket %s: on-call page requested (%s)", ticket_number, reason)
        self._wake.set()

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._raised_since = self.clock() - self.escalate_after
            self._released = False
            self._task = asyncio.create_task(self._run(), name="oncall-pages")
        if self._listener is None and self.bus is not None:
            try:
                levels = await self.bus.subscribe(TICKET_LEVELS)
            except Exception as exc:  # the bus is down: the periodic pass finds the raises
                log.error("on-call paging does not hear level changes: %s", exc)
            else:
                self._listener = asyncio.create_task(
                    self._hear_levels(levels), name="oncall-levels"
                )

    async def stop(self) -> None:
        for task in (self._listener, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._listener = self._task = None
        await self.drain()

    async def _hear_levels(self, levels: Subscription) -> None:
        """Wake the pass when a ticket becomes level 1 (its history says so already)."""
        try:
            async for message in levels:
                if message.get("type") == "ticket_level" and message.get("level") == 1:
                    self._wake.set()
        finally:
            await levels.close()

    async def drain(self) -> None:
        """Wait for the pages being sent (tests, clean shutdown)."""
        while self._sending:
            await asyncio.gather(*tuple(self._sending), return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # the database may be down: try again next round
                log.exception("on-call pass failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            self._wake.clear()

    async def run_once(self) -> None:
        """One pass: pages for level raises, escalations due, then every requested page
        sent (in the background: a slow channel holds up nothing else)."""
        now = self.clock()
        if not self._released:
            released = await self.store.release_unsent()
            self._released = True
            if released:
                log.warning("%d page(s) claimed but never sent: sending them now", released)
        since = self._raised_since or now - self.escalate_after
        for ticket in await self.store.raised_to_level_one(since):
            await self.request_page(
                ticket_number=ticket.number,
                site_code=ticket.site_code,
                caller_number=ticket.caller_number,
                reason="level_1",
                at=now,
            )
        await self._escalate(now)
        for page in await self.store.claim_requested():
            task = asyncio.create_task(self._send(page), name=f"oncall-page-{page.id}")
            self._sending.add(task)
            task.add_done_callback(self._sent)

    async def _escalate(self, now: datetime) -> None:
        for number, pages in (await self.store.unacknowledged()).items():
            due = escalation_due(pages, self.escalate_after)
            if due is None or due > now:
                continue
            last = await self.store.last_page(number)
            if last is None or last.state == "no_one":
                continue
            if await self.store.add_page(
                ticket_number=number,
                seq=last.seq + 1,
                reason="escalation",
                site_code=last.site_code,
                caller_number=last.caller_number,
                at=now,
            ):
                log.warning(
                    "ticket %s: page %d to %s not acknowledged: paging the next engineer",
                    number,
                    last.seq,
                    last.engineer or "-",
                )
                self._wake.set()

    # --- sending ---------------------------------------------------------------------------

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The page stays `sending`; the next leader start puts it back in the queue.
            log.error("%s failed: %r", task.get_name(), task.exception())

    async def _send(self, page: Page) -> None:
        now = self.clock()
        shifts = await self.store.shifts_between(now, now + LOOKAHEAD)
        own = await self.store.site_engineers(page.site_code) if page.site_code else []
        order = duty_order(shifts, now, site_engineers=own)
        shift = next_to_page(order, await self.store.engineers_paged(page.ticket_number))
        if shift is None:
            log.error("ticket %s: nobody (left) on the on-call rota to page", page.ticket_number)
            await self.store.mark_no_one(page.id)
            return
        await self.store.assign(page.id, shift)
        channel = self.channels.get(shift.channel)
        try:
            recipient = Recipient(
                name=shift.engineer,
                roles=frozenset({"on_call"}),
                channel=shift.channel,
                address=shift.address,
                at_mobiles=(shift.phone,),
            )
        except SupervisionConfigError as exc:  # a rota row no channel can use
            channel, recipient = None, None
            error = str(exc)
        else:
            error = "no such channel"
        notice = self.notice(page, shift.engineer)
        for attempt in range(1, self.attempts + 1):
            if channel is None or recipient is None:
                break
            try:
                await channel.deliver(notice, recipient)
            except DeliveryError as exc:
                error = str(exc)
                log.warning(
                    "ticket %s: page to %s via %s failed (attempt %d): %s",
                    page.ticket_number,
                    shift.engineer,
                    shift.channel,
                    attempt,
                    exc,
                )
                if not exc.retryable:
                    break
                if attempt < self.attempts:
                    await self._sleep(float(2 ** (attempt - 1)))
                continue
            await self.store.mark_sent(page.id, attempts=attempt, at=self.clock())
            log.info(
                "ticket %s: paged %s via %s (page %d)",
                page.ticket_number,
                shift.engineer,
                shift.channel,
                page.seq,
            )
            return
        await self.store.mark_failed(page.id, attempts=self.attempts, error=error)
        self._wake.set()  # the next engineer is due at once

    def wake(self) -> None:
        """Run the next pass now (a request or a rota change)."""
        self._wake.set()

    def ack_url(self, code: str) -> str | None:
        base = self._ack_base() if callable(self._ack_base) else self._ack_base
        return f"{base.rstrip('/')}/oncall/ack/{code}" if base else None

    def notice(self, page: Page, engineer: str) -> OutboundNotice:
        """What the engineer reads: ticket, site, caller number, and how to acknowledge."""
        _ = self._gettext
        site = page.site_code or _("unidentified site")
        title = _("[P1] On-call page: ticket %(ticket)s, site %(site)s") % {
            "ticket": page.ticket_number,
            "site": site,
        }
        url = self.ack_url(page.ack_code)
        lines = [
            f"### {title}",
            "- " + _("Ticket: %(ticket)s") % {"ticket": page.ticket_number},
            "- " + _("Site: %(site)s") % {"site": site},
            "- " + _("Caller: %(number)s") % {"number": page.caller_number or "-"},
            "- "
            + _("Requested at: %(time)s") % {"time": format_local(page.requested_at, self.zone)},
            "- " + _("Engineer: %(name)s") % {"name": engineer},
        ]
        if page.seq > 1:
            lines.append("- " + _("The previous engineer did not acknowledge in time."))
        lines.append(
            "- "
            + _("Acknowledge: code %(code)s %(url)s") % {"code": page.ack_code, "url": url or ""}
        )
        return OutboundNotice(
            notice_id=page.id,
            ticket_number=page.ticket_number,
            title=" ".join(title.split())[:300],
            markdown="\n".join(line.rstrip() for line in lines),
            ack_code=page.ack_code,
            ack_url=url,
            step_key=f"oncall:{page.seq}",
            details=(
                ("site_code", page.site_code or ""),
                ("caller_number", page.caller_number),
                ("engineer", engineer),
                ("page", str(page.seq)),
            ),
        )
