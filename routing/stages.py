"""The routing package's stages of the call pipeline: the screen-pop and the tickets
with their call records. Both write shared state (the pop may open the ticket), so
both run on the leader only, fenced."""

from __future__ import annotations

from calls import (
    AgentNoAnswer,
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallQueued,
    CallStarted,
)
from pipeline import Origin, RetryPolicy, Stage
from routing.errors import STORE_OUTAGE
from routing.fanout import ConsoleFanout
from routing.tickets import CallTicketService

# A pop that reaches the agent a minute after the answer still helps; later it does not.
POP_GIVE_UP_SECONDS = 60.0
TICKETS_STAGE = "tickets"
# The events each stage's handler acts on (`ConsoleFanout.handle`,
# `CallTicketService.handle`); a call's other events never reach their lanes.
SCREEN_POP_EVENTS = (AgentRinging, CallAnswered, AgentNoAnswer, CallEnded)
TICKETS_EVENTS = (CallStarted, CallQueued, AgentRinging, CallAnswered, CallAbandoned, CallEnded)


def screen_pop_stage(fanout: ConsoleFanout) -> Stage:
    """First: a pop prepared while ringing goes out before the answer is written."""
    return Stage(
        "screen-pop",
        10,
        fanout.handle,
        retry=RetryPolicy(STORE_OUTAGE, give_up_after=POP_GIVE_UP_SECONDS),
        leader_only=True,
        events=SCREEN_POP_EVENTS,
    )


def tickets_stage(call_tickets: CallTicketService) -> Stage:
    """Every call's ticket and call record, also for calls rebuilt from the PBX's CDR;
    retried for as long as the database is down, the events waiting kept in the spool
    on disk: no call may end without a record."""
    return Stage(
        TICKETS_STAGE,
        20,
        call_tickets.handle,
        retry=RetryPolicy(STORE_OUTAGE),
        leader_only=True,
        origins=frozenset(Origin),
        spool=True,
        events=TICKETS_EVENTS,
    )
