"""The sweep that gives every call a record, even one no controller saw on AMI.

`UnseenCallSweep` reads the PBX's CDR rows that have no call record
(`routing.ports.CdrSource`), rebuilds the calls (`routing.domain.unseen_calls`) and submits
each one to the call pipeline as the live path would have (`CallAnswered` when an agent
took it, then `CallEnded`), with origin `cdr`: the tickets stage takes them, the consoles
do not: the call record is written, a
caller who reached an agent has a ticket in that agent's name, and one who waited in
vain has a ticket marked for callback. Calls the tracker still follows, or that ended
within `margin` (their live events may still be on the way), are left alone; a later
round takes them if they still have no record. Idempotent: a call is taken once it has
a record.

`close_open` does the same for calls that have a record but never got an end: they ended
while no controller watched (a crash, a cut AMI link). Every record with no end whose
call the PBX no longer has (the tracker, resynchronised from `CoreShowChannels`, does not
follow it) gets its `CallEnded` with the CDR's end time and outcome, or, without CDR
rows, the outcome its record implies (`routing.domain.unseen_calls.closing`). It runs at
every AMI log-in (after the resync) and with every sweep round, only while the PBX's
picture is current, and once per call: a closed record is no longer open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from datetime import timedelta

from calls import CallAnswered, CallEnded, CallOutcome, CallSnapshot, CallState, DomainCallEvent
from calls.clock import Clock, utc_now
from routing.domain.unseen_calls import Closing, UnseenCall, closing, unseen_calls
from routing.errors import RoutingError
from routing.ports import CallStore, CdrSource, SiteDirectory
from routing.records import CallRecord, MatchKind

log = logging.getLogger(__name__)

# The call pipeline's submit, bound to the `cdr` origin.
Submit = Callable[[DomainCallEvent], None]


class UnseenCallSweep:
    def __init__(
        self,
        cdr: CdrSource,
        sites: SiteDirectory,
        submit: Submit,
        *,
        live_calls: Callable[[], Collection[str]] = frozenset,
        calls: CallStore | None = None,
        pbx_synced: Callable[[], bool] = lambda: False,
        lookback: timedelta = timedelta(hours=24),
        margin: timedelta = timedelta(minutes=2),
        clock: Clock = utc_now,
    ) -> None:
        self.cdr = cdr
        self.sites = sites
        self.submit = submit
        self.live_calls = live_calls
        # Records with no end are closed only while the tracker's picture is current
        # (AMI logged in and resynchronised): otherwise every live call would look gone.
        self.calls = calls
        self.pbx_synced = pbx_synced
        self.closed = 0
        self.lookback = lookback
        self.margin = margin
        self.clock = clock
        self.recovered = 0

    async def sweep(self) -> list[str]:
        """One round; returns the call ids that got a record."""
        now = self.clock()
        entries = await self.cdr.unrecorded(now - self.lookback)
        if not entries:
            return []
        calls = unseen_calls(entries, known=set(self.live_calls()), ended_before=now - self.margin)
        done: list[str] = []
        for call in calls:
            snapshot = await self._snapshot(call)
            log.warning(
                "call %s from %r was not seen on AMI: recorded from the PBX's CDR (%s)",
                call.call_id,
                call.caller_number,
                call.outcome.value,
            )
            if call.answered_at is not None and call.agent_interface:
                self.submit(CallAnswered(snapshot, call.answered_at, call.agent_interface, "", 0))
            self.submit(CallEnded(snapshot, call.ended_at))
            done.append(call.call_id)
        self.recovered += len(done)
        return done

    async def _snapshot(self, call: UnseenCall) -> CallSnapshot:
        """The call as the ticket service knows calls; the site when the caller's number
        names exactly one (the IVR's answers are not in the CDR)."""
        site_code: str | None = None
        if call.caller_number:
            try:
                match = await self.sites.match_caller(call.caller_number)
                if match.kind is MatchKind.UNIQUE:
                    site_code = match.site_code
            except RoutingError as exc:
                log.warning("call %s: site lookup failed (%s)", call.call_id, exc)
        answered = call.answered_at
        return CallSnapshot(
            call_id=call.call_id,
            channel=call.channel,
            caller_number=call.caller_number,
            caller_name=call.caller_name,
            state=CallState.ENDED,
            started_at=call.started_at,
            queue=call.queue,
            queued_at=call.started_at if call.waited_for_agent else None,
            agent_interface=call.agent_interface,
            agent_member_name=call.agent_interface,
            answered_at=answered,
            ended_at=call.ended_at,
            outcome=call.outcome,
            hold_seconds=None,
            talk_seconds=(
                int((call.ended_at - answered).total_seconds()) if answered is not None else None
            ),
            site_code=site_code,
            level=None,
            variables={"HOTLINE_SITE": site_code} if site_code else {},
            resynced=True,
        )

    async def close_open(self) -> list[str]:
        """Give every call record with no end whose call the PBX no longer has its end;
        returns their call ids."""
        if self.calls is None or not self.pbx_synced():
            return []
        # No margin here: a call the resynchronised tracker does not follow, whose events
        # are not on their way through the tickets stage either, has ended.
        records = await self.calls.open_calls(self.clock())
        live = set(self.live_calls())
        stale = [r for r in records if r.call_id not in live]
        if not stale:
            return []
        rows = await self.cdr.rows_of([r.call_id for r in stale])
        closed: list[str] = []
        for record in stale:
            end = closing(record, [row for row in rows if row.linkedid == record.call_id])
            log.warning(
                "call %s: ended while no controller watched; closed at %s (%s, %s)",
                record.call_id,
                end.ended_at.isoformat(),
                end.outcome.value,
                "from the CDR" if end.from_cdr else "no CDR: last known moment",
            )
            self.submit(CallEnded(_ended_snapshot(record, end), end.ended_at))
            closed.append(record.call_id)
        self.closed += len(closed)
        return closed

    async def run_forever(self, interval: float) -> None:
        """A round every `interval` seconds; a failing round is logged and retried."""
        while True:
            try:
                await self.sweep()
                await self.close_open()
            except asyncio.CancelledError:
                raise
            except RoutingError as exc:  # the database is down: emergency mode's business
                log.warning("CDR sweep skipped (%s); retrying in %.0f s", exc, interval)
            except Exception:
                log.exception("CDR sweep failed; retrying in %.0f s", interval)
            await asyncio.sleep(interval)


def _ended_snapshot(record: CallRecord, end: Closing) -> CallSnapshot:
    answered = end.answered_at
    queued_at = record.queued_at
    if queued_at is None and end.outcome in (CallOutcome.ANSWERED, CallOutcome.ABANDONED):
        # It reached a queue while no controller saw it (the PBX says answered or given
        # up there): it gets its ticket; the start is the closest known moment.
        queued_at = record.started_at
    return CallSnapshot(
        call_id=record.call_id,
        channel="",
        caller_number=record.caller_number,
        caller_name=record.caller_name,
        state=CallState.ENDED,
        started_at=record.started_at,
        queue=record.queue,
        queued_at=queued_at,
        agent_interface=end.agent_interface,
        agent_member_name=record.agent or end.agent_interface,
        answered_at=answered,
        ended_at=end.ended_at,
        outcome=end.outcome,
        hold_seconds=record.hold_seconds,
        talk_seconds=(
            int((end.ended_at - answered).total_seconds()) if answered is not None else None
        ),
        site_code=record.site_code,
        level=record.level,
        variables={"HOTLINE_SITE": record.site_code} if record.site_code else {},
        resynced=True,
    )
