"""The main call record of an emergency call, completed from the journal once the call's
ticket is known: its paper number and ticket, and the whole record when the outage or a
controller crash lost it."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from calls import CallOutcome, CallSnapshot, CallState
from fallback.domain.backfill import EmergencyCall
from routing.ports import CallStore

log = logging.getLogger(__name__)


def snapshot_of(call: EmergencyCall, now: datetime) -> CallSnapshot:
    """The call as the journal has it (a call with no time known starts `now`)."""
    try:
        outcome = None if call.outcome is None else CallOutcome(call.outcome)
    except ValueError:
        outcome = None
    return CallSnapshot(
        call_id=call.call_id,
        channel=call.channel or "",
        caller_number=call.caller_number,
        caller_name=call.caller_name,
        state=CallState.ENDED if call.ended_at is not None else CallState.QUEUED,
        started_at=call.started_at or call.queued_at or now,
        queue=call.queue,
        queued_at=call.queued_at,
        agent_interface=call.agent_interface,
        agent_member_name=call.agent,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        outcome=outcome,
        hold_seconds=call.hold_seconds,
        talk_seconds=call.talk_seconds,
        site_code=call.site_code,
        level=call.level,
        variables=dict(call.ivr),
        resynced=True,
    )


async def complete_call_record(
    store: CallStore, call: EmergencyCall, ticket_number: str, *, now: datetime, timeout: float
) -> None:
    """Write the journaled call into `store` with its ticket and paper number. A failure is
    logged: the ticket is what counts, and the record can be redone."""
    # The journal names pool desks by interface; the record's agent is a console user.
    agent = call.agent if call.agent and call.agent != call.agent_interface else None
    snapshot = snapshot_of(call, now)
    try:
        async with asyncio.timeout(timeout):
            await store.upsert(
                snapshot,
                agent=agent,
                ticket_number=ticket_number,
                paper_number=call.paper_number,
            )
    except Exception as exc:
        log.warning("call %s: call record not completed from the journal: %r", call.call_id, exc)
