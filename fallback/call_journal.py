"""The durable call journal path: which calls are emergency calls, and everything about them
written to the emergency journal, independent of the failed seat system.

A call that joins the emergency queue (or the main queue while in emergency mode) gets a
paper number (`PaperNumberAllocator`) and a `call` record; later events add the agent, the
IVR's answers, the end. With a replicated journal a paper number is announced (bus,
channel variable, the answering agent) only once the replica has confirmed it. On entry
into emergency mode, calls taken while the seat system was already failing are journaled
too. The call pipeline's `emergency-journal` stage hands the events in.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any, Protocol

from calls import (
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallIdentified,
    CallQueued,
    CallSnapshot,
    CallState,
    DomainCallEvent,
)
from calls.clock import Clock
from calls.control import CallControl
from calls.errors import CallControlError
from fallback.domain import backfill as bf
from fallback.errors import JournalError, JournalNotReplicated
from fallback.feed import SupervisorFeed
from fallback.journal import EmergencyJournal
from fallback.paper import PaperNumberAllocator
from fallback.ports import PaperNumberNotice
from fallback.switchover import Switchover
from pipeline import RetryPolicy, Stage

log = logging.getLogger(__name__)

# Calls remembered with no healthy round to prune them on.
_RECENT_LIMIT = 5000


def _call_fields(call: CallSnapshot) -> dict[str, Any]:
    ivr = {k: v for k, v in call.variables.items() if k.startswith("HOTLINE_")}
    return {
        "caller_number": call.caller_number,
        "caller_name": call.caller_name,
        "channel": call.channel,
        "started_at": call.started_at.isoformat(),
        "queued_at": None if call.queued_at is None else call.queued_at.isoformat(),
        "queue": call.queue,
        "site_code": call.site_code,
        "level": call.level,
        "ivr": ivr,
    }


def _first_fields(call: CallSnapshot, paper_number: str) -> dict[str, Any]:
    """A call's first record: what the snapshot knows, including an answer or an end it
    already had (a call caught by the switch)."""
    fields = _call_fields(call) | {"paper_number": paper_number}
    for key in ("answered_at", "ended_at"):
        value = getattr(call, key)
        if value is not None:
            fields[key] = value.isoformat()
    if call.agent_interface:
        fields["agent"] = call.agent_member_name or call.agent_interface
        fields["agent_interface"] = call.agent_interface
    if call.outcome is not None:
        fields["outcome"] = call.outcome.value
    return fields


class CallJournal:
    """Journals emergency calls: paper numbers by call id, and each change of those calls."""

    def __init__(
        self,
        *,
        control: CallControl,
        journal: EmergencyJournal,
        paper: PaperNumberAllocator,
        mode: Switchover,
        feed: SupervisorFeed,
        clock: Clock,
        paper_notice: PaperNumberNotice | None,
        drill_context: str,
        outage_margin: timedelta,
    ) -> None:
        self.control = control
        self.journal = journal
        self.paper = paper
        self.mode = mode
        self.feed = feed
        self.clock = clock
        self.paper_notice = paper_notice
        self.drill_context = drill_context
        self.outage_margin = outage_margin
        # Calls: paper number per call id; calls known to be talking; first queue seen.
        self.paper_by_call: dict[str, str] = {}
        self._talking: set[str] = set()
        self._first_queue: dict[str, str] = {}
        # Calls seen lately (latest snapshot, end time): on entry, the ones taken while the
        # seat system was already failing are journaled too (their tickets may be lost).
        self._recent: dict[str, tuple[CallSnapshot, datetime | None]] = {}
        self._last_healthy_at: datetime | None = None
        self._call_lock = asyncio.Lock()
        # Call events handed in and not yet journaled (the pipeline's emergency stage).
        self._in_flight = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        # Calls whose paper number is journaled but not yet confirmed on the replica:
        # nobody is told that number (the backfill lists it once it is replicated).
        self._unconfirmed: set[str] = set()

    def is_talking(self, call_id: str) -> bool:
        """The call is known to be talking to an agent (never to be redirected)."""
        return call_id in self._talking

    def paper_number_of(self, call_id: str) -> str | None:
        return self.paper_by_call.get(call_id)

    def learn_papers(self) -> None:
        """Take the paper numbers every controller journaled; numbering goes on above them."""
        for call in bf.fold(self.journal.records()).calls.values():
            self.paper_by_call.setdefault(call.call_id, call.paper_number)
            self.paper.raise_floor(call.paper_number)

    async def refresh(self) -> None:
        """Push this host's unreplicated records and read the other controllers' ones."""
        await self.journal.catch_up()
        self.learn_papers()
        await self.feed.announce_replication()

    def saw_healthy(self, at: datetime) -> None:
        """The seat system was healthy at `at`: calls ended well before are forgotten."""
        self._last_healthy_at = at
        self._forget_calls_before(at - self.outage_margin)

    # --- the pipeline stage -----------------------------------------------------------------

    async def handle_call_event(self, event: DomainCallEvent) -> None:
        """The pipeline's emergency-journal stage: journal what `event` changes. A journal
        write failure is shown on the supervisor's page and raised (the stage retries)."""
        self._in_flight += 1
        self._quiet.clear()
        try:
            await self.process_call_event(event)
        except JournalError as exc:
            # Disk or replica trouble may pass (space freed, replica back); the stage
            # retries. A wasted (refused) paper number is fine.
            self.feed.journal_error = str(exc)
            log.error("call %s: journal write failed: %s", event.call_id, exc)
            if isinstance(exc, JournalNotReplicated):
                self.journal.replication_failed(exc)
            await self.feed.announce_replication()
            raise
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._quiet.set()
        await self.feed.announce_replication()

    async def drain(self) -> None:
        """Wait until every call event handed in is processed (journaled)."""
        await self._quiet.wait()

    async def process_call_event(self, event: DomainCallEvent) -> None:
        call_id = event.call_id
        self._recent[call_id] = (event.call, event.at if isinstance(event, CallEnded) else None)
        if len(self._recent) > _RECENT_LIMIT:
            self._forget_calls_before(event.at - 10 * self.outage_margin)
        if isinstance(event, CallQueued):
            await self._queued(event)
        elif isinstance(event, CallAnswered):
            await self._answered(event)
        elif isinstance(event, CallIdentified):
            await self._identified(event)
        elif isinstance(event, CallAbandoned):
            if call_id in self.paper_by_call:
                await self._update(
                    call_id, event.at, {"outcome": "abandoned", "hold_seconds": event.hold_seconds}
                )
        elif isinstance(event, CallEnded):
            await self._ended(event)
        # CallLeftQueue: answered, redirected or timed out; the next event says which.

    async def _queued(self, event: CallQueued) -> None:
        call = event.call
        self._talking.discard(event.call_id)
        queue = call.queue or ""
        self._first_queue.setdefault(event.call_id, queue)
        if self._is_drill(call):
            return
        if queue == self.mode.switch.emergency_queue:
            await self._journal_emergency_call(event)
        elif self.mode.state.active:
            # A straggler: its IVR chose the main queue just before the switch. It is an
            # emergency-mode call all the same (its ticket may be lost); the next health
            # round moves it to the pool.
            log.warning("call %s: joined %s in emergency mode", event.call_id, queue)
            self.mode.mark_out_of_sync()
            await self._journal_emergency_call(event)

    async def _answered(self, event: CallAnswered) -> None:
        self._talking.add(event.call_id)
        if event.call_id not in self.paper_by_call:
            return
        await self._update(
            event.call_id,
            event.at,
            {
                "agent": event.member_name or event.interface,
                "agent_interface": event.interface,
                "answered_at": event.at.isoformat(),
                "hold_seconds": event.hold_seconds,
            },
        )
        await self._notify(event.interface, event.member_name, event.call_id, event.call)

    async def _identified(self, event: CallIdentified) -> None:
        if event.call_id not in self.paper_by_call:
            return
        fields: dict[str, Any] = {"ivr": {event.variable: event.value}}
        if event.variable == "HOTLINE_SITE":
            fields["site_code"] = event.value
        elif event.variable == "HOTLINE_LEVEL":
            fields["level"] = event.value
        await self._update(event.call_id, event.at, fields)

    async def _ended(self, event: CallEnded) -> None:
        call = event.call
        self._talking.discard(event.call_id)
        self._first_queue.pop(event.call_id, None)
        if event.call_id not in self.paper_by_call:
            return
        await self._update(
            event.call_id,
            event.at,
            {
                "ended_at": (call.ended_at or event.at).isoformat(),
                "outcome": None if call.outcome is None else call.outcome.value,
                "talk_seconds": call.talk_seconds,
                "agent": call.agent_member_name or call.agent_interface,
                "agent_interface": call.agent_interface,
            },
        )

    # --- journaling -------------------------------------------------------------------------

    def _is_drill(self, call: CallSnapshot) -> bool:
        return f"@{self.drill_context}-" in call.channel or "HOTLINE_DRILL" in call.variables

    def _forget_calls_before(self, cutoff: datetime) -> None:
        for call_id, (_call, ended) in list(self._recent.items()):
            if ended is not None and ended < cutoff:
                del self._recent[call_id]

    async def journal_calls_caught_by_the_outage(self) -> None:
        """Calls that reached a queue since the last healthy check (or are still live) may
        have lost their ticket and call record with the database: journal them as well, so
        the backfill lists them (a call whose ticket did get written is linked to it)."""
        since = self._last_healthy_at
        for call, ended in list(self._recent.values()):
            if call.queued_at is None or call.call_id in self.paper_by_call:
                continue  # never queued: no ticket by design; or already journaled
            if ended is None and call.state in (CallState.QUEUED, CallState.AGENT_RINGING):
                continue  # still waiting: journaled as it joins the emergency queue
            if ended is not None and since is not None and ended < since - self.outage_margin:
                continue
            if self._is_drill(call):
                continue
            try:
                await self._journal_call(call, self.clock(), {"caught_by_switch": True})
            except JournalError as exc:
                self.feed.journal_error = str(exc)
                log.error("call %s: not journaled at the switch: %s", call.call_id, exc)
                continue
            if ended is None and call.agent_interface:
                await self._notify(
                    call.agent_interface, call.agent_member_name or "", call.call_id, call
                )

    async def _journal_emergency_call(self, event: CallQueued) -> None:
        call = event.call
        call_id = event.call_id
        extra: dict[str, Any] = {}
        first = self._first_queue.get(call_id)
        if first and first != call.queue:
            extra["moved_from"] = first
        if call_id in self.paper_by_call:
            await self._update(call_id, event.at, {"queue": call.queue} | extra)
            return
        await self._journal_call(call, event.at, extra)

    async def _journal_call(self, call: CallSnapshot, at: datetime, extra: dict[str, Any]) -> None:
        call_id = call.call_id
        async with self._call_lock:  # the worker and the switch may both get here
            if call_id in self.paper_by_call:
                return
            number = await self.paper.allocate(call_id, at)
            fields = _first_fields(call, number) | extra
            self.paper_by_call[call_id] = number
            try:
                await self.journal.append(
                    {"kind": "call", "call_id": call_id, "at": at.isoformat(), "fields": fields},
                    confirm=True,
                )
            except JournalNotReplicated as exc:
                # On this host's disk, not yet on the replica: acknowledge nothing.
                self._unconfirmed.add(call_id)
                log.error(
                    "call %s: paper number %s journaled on this host only, not announced: %s",
                    call_id,
                    number,
                    exc,
                )
                return
            except JournalError:
                del self.paper_by_call[call_id]
                raise
        log.info("call %s: emergency call journaled with paper number %s", call_id, number)
        await self._announce(call, number)

    async def _announce(self, call: CallSnapshot, number: str) -> None:
        await self.feed.publish(
            {
                "type": "paper_number",
                "call_id": call.call_id,
                "paper_number": number,
                "caller_number": call.caller_number,
            }
        )
        if call.ended_at is not None or call.outcome is not None:
            return  # caught by the switch after it ended: no channel left to label
        try:
            # The dialplan/IVR may speak or show it; failing here loses nothing.
            await self.control.setvar("HOTLINE_PAPER", number, channel=call.channel)
        except CallControlError as exc:
            log.warning("call %s: could not set HOTLINE_PAPER: %s", call.call_id, exc)

    async def _update(self, call_id: str, at: datetime, fields: dict[str, Any]) -> None:
        await self.journal.append(
            {"kind": "call", "call_id": call_id, "at": at.isoformat(), "fields": fields}
        )

    async def _notify(
        self, interface: str, member_name: str, call_id: str, call: CallSnapshot
    ) -> None:
        if self.paper_notice is None or call_id in self._unconfirmed:
            return
        try:
            await self.paper_notice(
                interface=interface,
                member_name=member_name,
                call_id=call_id,
                paper_number=self.paper_by_call[call_id],
                caller_number=call.caller_number,
            )
        except Exception:
            log.exception("call %s: could not tell the agent the paper number", call_id)


class CallEventHandler(Protocol):
    async def handle_call_event(self, event: DomainCallEvent) -> None: ...


def emergency_journal_stage(handler: CallEventHandler) -> Stage:
    """The emergency journal's place in the call pipeline: on every node that tracks
    calls, independent of the database. A journal write that failed (disk, or no paper
    number without the replica) is retried until it succeeds, the event kept in the
    pipeline's spool meanwhile: no emergency call goes unjournaled."""
    return Stage(
        "emergency-journal",
        30,
        handler.handle_call_event,
        retry=RetryPolicy((JournalError,), initial=0.2, longest=2.0),
        spool=True,
    )
