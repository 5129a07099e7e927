"""The backfill after an outage: paper tickets typed into the ticket database, waivers, the
reconciliation that links the tickets calls got automatically, and closing the backfill.

Everything is read from the emergency journal (every controller's records) and written
to it, so the backfill survives restarts and take-overs. A paper is typed in once (409
otherwise), into a new ticket or into the one its call already has; the backfill closes
only when every emergency call is accounted for, and at once when there was none.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from calls.clock import Clock
from fallback.call_journal import CallJournal
from fallback.call_records import complete_call_record
from fallback.domain import backfill as bf
from fallback.domain import mode as md
from fallback.domain.forms import PaperForm, paper_form, single_line
from fallback.errors import (
    BackfillConflict,
    BackfillIncomplete,
    TicketSystemUnavailable,
    UnknownPaperNumber,
)
from fallback.feed import SupervisorFeed
from fallback.journal import EmergencyJournal
from fallback.paper import PaperNumberAllocator
from fallback.ports import BackfillOutcome, BackfillTicket, BackfillTicketSink
from fallback.records import BackfillItem, Reconciliation
from fallback.switchover import Switchover
from routing.ports import CallStore

log = logging.getLogger(__name__)


class PaperBackfill:
    """Implements `fallback.ports.BackfillDesk` over the journal and the ticket sink.

    `call_records`: the main call records; a backfilled or linked emergency call's record
    is completed from the journal. `require_paper`: a call whose ticket was opened
    automatically counts as reconciled only once its paper is typed in. The ticket
    system may hang as well as refuse: it gets `ticket_timeout` seconds."""

    def __init__(
        self,
        *,
        journal: EmergencyJournal,
        paper: PaperNumberAllocator,
        sink: BackfillTicketSink,
        calls: CallJournal,
        mode: Switchover,
        feed: SupervisorFeed,
        clock: Clock,
        call_records: CallStore | None,
        require_paper: bool,
        ticket_timeout: float,
    ) -> None:
        self.journal = journal
        self.paper = paper
        self.sink = sink
        self.calls = calls
        self.mode = mode
        self.feed = feed
        self.clock = clock
        self.call_records = call_records
        self.require_paper = require_paper
        self.ticket_timeout = ticket_timeout
        self.lock = asyncio.Lock()

    def ledger(self) -> bf.BackfillLedger:
        return bf.fold(self.journal.records())

    def open_items(self) -> list[BackfillItem]:
        return bf.open_items(self.ledger(), require_paper=self.require_paper)

    async def items(self) -> list[BackfillItem]:
        """The open backfill as the journal has it: every controller's calls (reads only)."""
        await self.calls.refresh()
        return self.open_items()

    async def reconciliation(self) -> Reconciliation:
        """Where the backfill stands (reads only)."""
        await self.calls.refresh()
        return bf.reconcile(self.open_items())

    # --- linking the tickets calls got anyway ---------------------------------------------------

    async def run_reconciliation(self, interval: float) -> None:
        """The leader's reconciliation pass, every `interval` seconds while the backfill has
        calls without a ticket: links the tickets those calls got automatically."""
        while True:
            await asyncio.sleep(interval)
            if any(i.call_id is not None and i.ticket_number is None for i in self.open_items()):
                await self.link_automatic_tickets()

    async def link_automatic_tickets(self) -> None:
        """Calls that got their ticket anyway (database still up when they came in) are
        linked to that ticket, never given a second one. The paper's content may still
        be typed in afterwards; it then goes into that ticket."""
        async with self.lock:
            await self._link_automatic_tickets()

    async def _link_automatic_tickets(self) -> None:
        linked: list[tuple[str, str]] = []
        for item in bf.open_items(self.ledger()):
            if item.call_id is None or item.ticket_number is not None or item.waived:
                continue
            try:
                async with asyncio.timeout(self.ticket_timeout):
                    number = await self.sink.ticket_for_call(item.call_id)
            except Exception as exc:  # opportunistic: the call simply stays unaccounted for
                log.warning(
                    "call %s: ticket system unavailable while reconciling: %r", item.call_id, exc
                )
                break
            if number is not None:
                await self.journal.append(
                    {
                        "kind": "backfill",
                        "paper_number": item.paper_number,
                        "call_id": item.call_id,
                        "ticket_number": number,
                        "linked": True,
                        "content": False,
                        "by": bf.SYSTEM,
                        "at": self.clock().isoformat(),
                    }
                )
                log.info("call %s: already had ticket %s", item.call_id, number)
                linked.append((item.call_id, number))
        if linked:
            # One reading of the journal for the pass: an outage leaves hundreds of calls
            # to link, and the journal holds every record of each.
            calls = self.ledger().calls
            for call_id, number in linked:
                await self._restore_call_record(call_id, number, calls)

    async def _restore_call_record(
        self,
        call_id: str,
        ticket_number: str,
        calls: Mapping[str, bf.EmergencyCall] | None = None,
    ) -> None:
        """The call's record completed from the journal (`calls`: the journal's calls as
        just read, else read now)."""
        if self.call_records is None:
            return
        call = (calls if calls is not None else self.ledger().calls).get(call_id)
        if call is None:
            return
        await complete_call_record(
            self.call_records, call, ticket_number, now=self.clock(), timeout=self.ticket_timeout
        )

    # --- typing papers in -------------------------------------------------------------------

    async def submit(
        self,
        paper_number: str,
        *,
        site_code: str | None,
        level: int,
        description: str,
        caller_number: str | None,
        by: str,
    ) -> str:
        paper = self.paper.format.normalise(paper_number)
        by = single_line(by, "who types the paper ticket in", limit=100)
        form = paper_form(
            site_code=site_code, level=level, description=description, caller_number=caller_number
        )
        await self.calls.refresh()
        async with self.lock:
            now = self.clock()
            ticket = self._ticket(paper, form, by, now)
            outcome = await self._open_ticket(ticket)
            await self._journal_entry(ticket, form, outcome, now)
        if ticket.call_id is not None:
            await self._restore_call_record(ticket.call_id, outcome.ticket_number)
        log.info(
            "paper ticket %s (call %s) entered as ticket %s by %s",
            paper,
            ticket.call_id,
            outcome.ticket_number,
            by,
        )
        await self.feed.publish(
            {
                "type": "backfill",
                "paper_number": paper,
                "ticket_number": outcome.ticket_number,
                "call_id": ticket.call_id,
            }
        )
        return outcome.ticket_number

    def _ticket(self, paper: str, form: PaperForm, by: str, now: datetime) -> BackfillTicket:
        """What the ticket sink gets: the paper's content plus what the journal knows of its
        call. Refuses a paper already typed in, waived, closed or never issued."""
        ledger = self.ledger()
        refused = bf.refusal(ledger, paper)
        if refused is not None:
            raise BackfillConflict(refused)
        if paper in ledger.closed:
            raise BackfillConflict(f"the backfill of paper ticket {paper} is closed")
        call = ledger.call_by_paper(paper)
        if call is None and not self.paper.is_issued(paper):
            raise UnknownPaperNumber(f"paper number {paper} was never issued")
        return BackfillTicket(
            paper_number=paper,
            call_id=None if call is None else call.call_id,
            site_code=form.site_code or (None if call is None else call.site_code),
            level=form.level,
            description=form.description,
            caller_number=form.caller_number or ("" if call is None else call.caller_number),
            caller_name="" if call is None else call.caller_name,
            started_at=(call.started_at or call.queued_at or now) if call else now,
            agent=None if call is None else call.agent,
            by=by,
        )

    async def _open_ticket(self, ticket: BackfillTicket) -> BackfillOutcome:
        try:
            async with asyncio.timeout(self.ticket_timeout):
                return await self.sink.backfill(ticket)
        except TimeoutError as exc:
            raise TicketSystemUnavailable(
                f"the ticket system did not answer within {self.ticket_timeout:g} s"
            ) from exc

    async def _journal_entry(
        self, ticket: BackfillTicket, form: PaperForm, outcome: BackfillOutcome, now: datetime
    ) -> None:
        at = now.isoformat()
        if ticket.call_id is None:
            await self.journal.append(
                {
                    "kind": "paper",
                    "paper_number": ticket.paper_number,
                    "caller_number": form.caller_number,
                    "by": ticket.by,
                    "at": at,
                }
            )
        await self.journal.append(
            {
                "kind": "backfill",
                "paper_number": ticket.paper_number,
                "call_id": ticket.call_id,
                "ticket_number": outcome.ticket_number,
                "linked": not outcome.created,
                "content": True,
                "by": ticket.by,
                "at": at,
            }
        )

    async def waive(self, paper_number: str, *, reason: str, by: str) -> None:
        paper = self.paper.format.normalise(paper_number)
        reason = single_line(reason, "a reason")
        by = single_line(by, "who waives", limit=100)
        await self.calls.refresh()
        async with self.lock:
            ledger = self.ledger()
            refused = bf.refusal(ledger, paper)
            if refused is not None:
                raise BackfillConflict(refused)
            if ledger.call_by_paper(paper) is None and not self.paper.is_issued(paper):
                raise UnknownPaperNumber(f"paper number {paper} was never issued")
            await self.journal.append(
                {
                    "kind": "waive",
                    "paper_number": paper,
                    "reason": reason,
                    "by": by,
                    "at": self.clock().isoformat(),
                }
            )
        log.info("paper ticket %s waived by %s: %s", paper, by, reason)
        await self.feed.publish({"type": "backfill", "paper_number": paper, "waived": True})

    # --- closing ----------------------------------------------------------------------------

    async def close_backfill(self, by: str) -> None:
        by = single_line(by, "who closes the backfill", limit=100)
        await self.calls.refresh()
        async with self.mode.lock, self.lock:
            await self._link_automatic_tickets()
            items = self.open_items()
            result = bf.reconcile(items)
            if not result.done:
                raise BackfillIncomplete([i.paper_number for i in items if not i.accounted_for])
            step = md.close_backfill(self.mode.state, by=by, at=self.clock(), missing=0)
            await self.journal.append(
                {
                    "kind": "backfill_closed",
                    "paper_numbers": [i.paper_number for i in items],
                    "by": by,
                    "at": self.clock().isoformat(),
                }
            )
            await self.mode.apply(step)
        log.info("backfill closed by %s (%d items)", by, len(items))

    async def close_if_nothing_to_backfill(self) -> None:
        """Right after the switch back (under the mode lock): with no emergency call left
        to account for, recovering ends at once."""
        # Call events still queued may be emergency calls: journal them before deciding.
        try:
            await asyncio.wait_for(self.calls.drain(), 5.0)
        except TimeoutError:
            log.warning("call events still pending: backfill left open")
            return
        # The seat system is back: the calls that got their ticket anyway are linked now,
        # so the backfill screen shows which papers still need typing in.
        async with self.lock:
            await self._link_automatic_tickets()
        if self.open_items() or self.mode.state.mode is not md.Mode.RECOVERING:
            return
        step = md.close_backfill(self.mode.state, by=bf.SYSTEM, at=self.clock(), missing=0)
        step = replace(
            step,
            audit=tuple(replace(a, reason="no emergency calls to backfill") for a in step.audit),
        )
        await self.mode.apply(step)
