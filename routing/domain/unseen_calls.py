"""Calls the controller never saw, rebuilt from the PBX's call detail records.

A call that starts and ends while no controller is connected to AMI (a restart, a network
cut, a takeover in progress) raises events nobody reads. Asterisk still writes its CDR
(cdr_pgsql into the hotline database, asterisk-conf/cdr_pgsql.conf), so a sweep can find
every hotline call that has CDR rows but no call record, and give it one: with a callback
ticket when the caller reached the queue, as the live path would have done.

CDR rows of one call share the ``linkedid``; the caller's own rows have
``uniqueid == linkedid``. Asterisk 12+ may write several rows per call (one per party B
dialled or bridged): the call was answered by an agent when one of the caller's rows was
bridged to a ``dstchannel`` from ``Queue``/``Dial`` (disposition ``ANSWERED``, billsec
> 0); it waited for an agent when it ever ran ``Queue`` (or the preferred-engineer
``Dial``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from calls import CallOutcome
from calls.channels import interface_of
from routing.records import CallRecord

# The contexts an inbound hotline call's caller channel runs in (asterisk-conf).
HOTLINE_CONTEXTS = frozenset({"hotline-in", "hotline-requeue", "hotline-survey"})
AGENT_APPS = frozenset({"Queue", "Dial"})


@dataclass(frozen=True, slots=True)
class CdrEntry:
    """One CDR row, with the columns cdr_pgsql writes that the hotline reads."""

    linkedid: str
    uniqueid: str
    calldate: datetime  # the row's start
    clid: str
    src: str
    dcontext: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    duration: int  # seconds, start to end
    billsec: int  # seconds, answer to end
    disposition: str

    @property
    def ended_at(self) -> datetime:
        return self.calldate + timedelta(seconds=max(self.duration, 0))


@dataclass(frozen=True, slots=True)
class UnseenCall:
    call_id: str
    channel: str
    caller_number: str
    caller_name: str
    started_at: datetime
    ended_at: datetime
    outcome: CallOutcome
    queue: str | None
    waited_for_agent: bool
    answered_at: datetime | None
    agent_interface: str | None


def caller_name_of(clid: str) -> str:
    """`"Sun Mei" <13722223333>` → `Sun Mei`."""
    if "<" in clid:
        return clid.split("<", 1)[0].strip().strip('"').strip()
    return ""


def rebuild_call(rows: list[CdrEntry]) -> UnseenCall | None:
    """The call behind one linkedid's CDR rows, or None when it is not a hotline call."""
    call_id = rows[0].linkedid
    own = sorted((r for r in rows if r.uniqueid == call_id), key=lambda r: r.calldate)
    if not own or not any(r.dcontext in HOTLINE_CONTEXTS for r in own):
        return None  # not an inbound hotline call (drill, callback, agents calling)
    first = own[0]
    answered = next(
        (
            r
            for r in own
            if r.dstchannel
            and r.lastapp in AGENT_APPS
            and r.disposition == "ANSWERED"
            and r.billsec > 0
        ),
        None,
    )
    queue = next((r.lastdata.split(",", 1)[0] or None for r in own if r.lastapp == "Queue"), None)
    waited = answered is not None or any(r.lastapp in AGENT_APPS for r in own)
    if answered is not None:
        outcome = CallOutcome.ANSWERED
    elif waited:
        outcome = CallOutcome.ABANDONED  # gave up or timed out waiting: call back
    else:
        outcome = CallOutcome.IVR_HANGUP
    return UnseenCall(
        call_id=call_id,
        channel=first.channel,
        caller_number=first.src,
        caller_name=caller_name_of(first.clid),
        started_at=first.calldate,
        ended_at=max(r.ended_at for r in rows),
        outcome=outcome,
        queue=queue,
        waited_for_agent=waited,
        answered_at=(answered.ended_at - timedelta(seconds=answered.billsec) if answered else None),
        agent_interface=interface_of(answered.dstchannel) if answered else None,
    )


def unseen_calls(
    entries: Iterable[CdrEntry], *, known: Container[str], ended_before: datetime
) -> list[UnseenCall]:
    """Hotline calls in `entries` that have no record yet (`known`: call ids with a record
    or still live) and ended before `ended_before` (later ones may still be on their way
    through the live path), oldest first."""
    by_call: dict[str, list[CdrEntry]] = defaultdict(list)
    for entry in entries:
        if entry.linkedid and entry.linkedid not in known:
            by_call[entry.linkedid].append(entry)
    calls = []
    for rows in by_call.values():
        call = rebuild_call(rows)
        if call is not None and call.ended_at < ended_before:
            calls.append(call)
    return sorted(calls, key=lambda c: c.started_at)


@dataclass(frozen=True, slots=True)
class Closing:
    """How a call whose record never got an end (it ended while no controller watched,
    or the controller crashed) ended."""

    ended_at: datetime
    outcome: CallOutcome
    answered_at: datetime | None
    agent_interface: str | None
    from_cdr: bool  # False: no CDR row; the end is the last moment the record knew of


def closing(record: CallRecord, rows: list[CdrEntry]) -> Closing:
    """The end of `record`'s call: from its CDR rows when the PBX wrote any (their end
    time and what they say about the answer), otherwise inferred from the record itself
    (answered → answered; waited in a queue → abandoned, so the caller is called back;
    else it hung up in the IVR), ending at the last moment the record knew of."""
    rebuilt = rebuild_call(rows) if rows else None
    if rebuilt is not None:
        return Closing(
            ended_at=rebuilt.ended_at,
            outcome=rebuilt.outcome
            if rebuilt.outcome is not CallOutcome.IVR_HANGUP or record.queued_at is None
            else CallOutcome.ABANDONED,
            answered_at=rebuilt.answered_at or record.answered_at,
            agent_interface=rebuilt.agent_interface or record.agent_interface,
            from_cdr=True,
        )
    known = [t for t in (record.started_at, record.queued_at, record.answered_at) if t]
    if record.answered_at is not None:
        outcome = CallOutcome.ANSWERED
    elif record.queued_at is not None:
        outcome = CallOutcome.ABANDONED
    else:
        outcome = CallOutcome.IVR_HANGUP
    return Closing(
        ended_at=max(known),
        outcome=outcome,
        answered_at=record.answered_at,
        agent_interface=record.agent_interface,
        from_cdr=False,
    )
