"""Call tracker: folds the AMI event stream into calls and publishes domain events.

Channels are grouped by ``Linkedid``. The tracker is synchronous and does no I/O: the
AMI client feeds it typed events (`handle`), and after a reconnect the resync result
(`resync`, which `ami.resync` reads). Each call is folded into a `TrackedCall`
(`ami.tracked_call`). Subscribers receive `calls` domain events; they must not block.

Rules taken from real Asterisk 22 recordings (see ../shared/asterisk-transcripts):
* ``QueueCallerLeave`` comes *before* ``AgentConnect``.
* ``AgentComplete`` may come after both ``Hangup``\\ s with no channel fields at all; the
  call is then found by (Queue, Interface) or it has already been closed by the Hangups.
* After a no-answer there are two ``DialEnd`` for the same leg; abandon while an agent
  rings gives ``DialEnd CANCEL`` and no ``AgentRingNoAnswer``.
* Nothing is replayed after a reconnect: a call connected meanwhile is only visible in
  ``CoreShowChannels`` (bridged ``Queue``/``AppQueue`` channels sharing a Linkedid).
* Before the queue, the dialplan may ``Dial()`` the customer's assigned engineers
  (asterisk-conf/extensions.conf). app_dial raises no Agent* events: ``DialBegin`` /
  ``DialEnd`` with the caller channel as ``Channel`` while the call is in no queue are read
  as ringing / answered / not answered (``NOANSWER``, ``BUSY``, ``CHANUNAVAIL``) /
  abandoned (``CANCEL`` before any answer). Queue legs also raise DialBegin/DialEnd on
  the caller channel, but only after ``QueueCallerJoin``, so they are told apart by it.
  Bridged, such a call shows in ``CoreShowChannels`` as ``Dial`` + ``AppDial``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from typing import Any

from ami import events as ev
from ami.protocol import AmiMessage
from ami.resync import LiveCall, ResyncChannel, live_calls, queue_of
from ami.tracked_call import TrackedCall
from calls.channels import interface_of
from calls.clock import Clock, utc_now
from calls.events import (
    AgentNoAnswer,
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallIdentified,
    CallLeftQueue,
    CallQueued,
    CallStarted,
    DomainCallEvent,
)
from calls.record import CallOutcome, CallState

log = logging.getLogger(__name__)

__all__ = ["MONITOR_FILE_VARIABLE", "CallTracker", "ResyncChannel", "Subscriber", "TrackedCall"]

Subscriber = Callable[[DomainCallEvent], None]


MONITOR_FILE_VARIABLE = "MIXMONITOR_FILENAME"


class CallTracker:
    def __init__(
        self,
        *,
        clock: Clock = utc_now,
        inbound_contexts: Iterable[str] = ("hotline-in",),
        ended_memory: int = 2000,
    ) -> None:
        self._clock = clock
        self._inbound = frozenset(inbound_contexts)
        self.calls: dict[str, TrackedCall] = {}  # live calls by Linkedid
        self._channel_call: dict[str, str] = {}  # Uniqueid -> Linkedid
        # Channels whose Linkedid we saw but that are not (yet) hotline calls
        # (originated drills, callbacks): kept so a later Newexten into hotline-in counts.
        self._others: dict[str, TrackedCall] = {}
        # Recently ended calls, so late AgentComplete/replays don't resurrect them.
        self._ended: OrderedDict[str, TrackedCall] = OrderedDict()
        self._ended_memory = ended_memory
        # Preferred-engineer Dial() legs still ringing: call id -> {dest Uniqueid: interface}.
        self._direct: dict[str, dict[str, str]] = {}
        self._subscribers: list[Subscriber] = []
        self.unknown_events = 0
        self._handlers: dict[type[ev.AmiEvent], Callable[[Any], None]] = {
            ev.Newchannel: self._on_newchannel,
            ev.Newexten: self._on_newexten,
            ev.VarSet: self._on_varset,
            ev.MixMonitorStart: self._on_mixmonitor_start,
            ev.QueueCallerJoin: self._on_join,
            ev.QueueCallerLeave: self._on_leave,
            ev.QueueCallerAbandon: self._on_abandon,
            ev.AgentCalled: self._on_agent_called,
            ev.AgentRingNoAnswer: self._on_ring_no_answer,
            ev.AgentConnect: self._on_agent_connect,
            ev.AgentComplete: self._on_agent_complete,
            ev.DialBegin: self._on_dial_begin,
            ev.DialEnd: self._on_dial_end,
            ev.Hangup: self._on_hangup,
            ev.BlindTransfer: self._on_transfer,
            ev.AttendedTransfer: self._on_transfer,
        }

    # --- subscription -------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def _publish(self, event: DomainCallEvent) -> None:
        for subscriber in tuple(self._subscribers):
            try:
                subscriber(event)
            except Exception:  # one broken subscriber must not starve the others
                log.exception(
                    "call %s: subscriber %r failed on %s",
                    event.call_id,
                    subscriber,
                    type(event).__name__,
                )

    # --- event intake ---------------------------------------------------------------

    def follows(self, name: str, message: AmiMessage) -> bool:
        """Whether `handle` would use this event: lets the client skip typing the rest."""
        cls = ev.EVENT_TYPES.get(name)
        if cls is None or cls not in self._handlers:
            return False
        if cls is ev.Newexten:
            # A dozen per call, and they only matter to a channel that is not yet a
            # hotline call (an originated drill or callback entering hotline-in).
            return bool(self._others)
        # Most VarSets are Asterisk's own noise; only HOTLINE_* ones describe the call
        # (and MixMonitor's file name, the call's recording).
        return (
            cls is not ev.VarSet
            or message.contains_text("Variable: HOTLINE_")
            or message.contains_text(f"Variable: {MONITOR_FILE_VARIABLE}")
        )

    def handle(self, event: ev.AmiEvent) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def handle_message(self, message: AmiMessage) -> None:
        """Convenience for replay: type the message and handle it."""
        cls = ev.EVENT_TYPES.get(message.event)
        if cls is not None and cls in self._handlers:
            self._handlers[cls](cls.from_message(message))

    def _call_for(self, e: ev.ChannelEvent) -> TrackedCall | None:
        linkedid = self._channel_call.get(e.uniqueid) or e.linkedid
        return self.calls.get(linkedid)

    def _on_newchannel(self, e: ev.Newchannel) -> None:
        if not e.linkedid:
            return
        call = self.calls.get(e.linkedid) or self._others.get(e.linkedid)
        if call is not None:
            call.channels[e.uniqueid] = e.channel
            self._channel_call[e.uniqueid] = e.linkedid
            return
        if e.linkedid in self._ended:
            return
        if e.uniqueid != e.linkedid:
            return  # a leg of a call we never saw start (e.g. before we connected)
        call = TrackedCall(
            call_id=e.linkedid,
            channel=e.channel,
            caller_number=e.caller_id_num,
            caller_name=e.caller_id_name,
            started_at=self._clock(),
        )
        call.channels[e.uniqueid] = e.channel
        self._channel_call[e.uniqueid] = e.linkedid
        if e.context in self._inbound:
            self._start(call)
        else:
            self._others[e.linkedid] = call

    def _start(self, call: TrackedCall) -> None:
        self.calls[call.call_id] = call
        log.info("call %s: started from %r (%s)", call.call_id, call.caller_number, call.channel)
        self._publish(CallStarted(call.snapshot(), call.started_at))

    def _on_newexten(self, e: ev.Newexten) -> None:
        if e.context not in self._inbound:
            return
        other = self._others.pop(e.linkedid, None)
        if other is not None:
            self._start(other)

    def _on_varset(self, e: ev.VarSet) -> None:
        if e.variable == MONITOR_FILE_VARIABLE:
            self._on_monitor_file(e)
            return
        if not e.variable.startswith("HOTLINE_"):
            return
        call = self._call_for(e)
        if call is None or e.uniqueid != call.call_id:
            return  # only the caller channel's variables describe the call
        if call.variables.get(e.variable) == e.value:
            return
        call.variables[e.variable] = e.value
        # CALLERID(num) is cleaned by the dialplan before the IVR; follow it.
        self._publish(CallIdentified(call.snapshot(), self._clock(), e.variable, e.value))

    def _on_monitor_file(self, e: ev.VarSet) -> None:
        call = self._call_for(e)
        if call is not None and e.uniqueid == call.call_id:
            call.monitor_file = e.value

    def _on_mixmonitor_start(self, e: ev.MixMonitorStart) -> None:
        """The dialplan's MixMonitor runs on the caller channel: its file is the call's
        recording (the name only; the controller finds it in its recordings directory)."""
        call = self._call_for(e)
        if call is None or e.uniqueid != call.call_id or not call.monitor_file:
            return
        call.adopt_recording(call.monitor_file)
        log.info("call %s: recorded to %s", call.call_id, call.recording)

    def _on_join(self, e: ev.QueueCallerJoin) -> None:
        call = self._call_for(e)
        if call is None:
            return
        now = self._clock()
        call.state = CallState.QUEUED
        call.queue = e.queue
        call.queue_position = e.position
        if call.queued_at is None:
            call.queued_at = now
        if e.caller_id_num and e.caller_id_num != call.caller_number:
            call.caller_number = e.caller_id_num  # cleaned by the dialplan
        if e.caller_id_name:
            call.caller_name = e.caller_id_name
        log.info("call %s: queued in %s at position %d", call.call_id, e.queue, e.position)
        self._publish(CallQueued(call.snapshot(), now, e.position))

    def _on_leave(self, e: ev.QueueCallerLeave) -> None:
        call = self._call_for(e)
        if call is None:
            return
        self._publish(CallLeftQueue(call.snapshot(), self._clock(), e.queue))

    def _on_abandon(self, e: ev.QueueCallerAbandon) -> None:
        call = self._call_for(e)
        if call is None:
            return
        call.outcome = CallOutcome.ABANDONED
        call.hold_seconds = e.hold_time
        log.info("call %s: abandoned in %s after %d s", call.call_id, e.queue, e.hold_time)
        self._publish(CallAbandoned(call.snapshot(), self._clock(), e.hold_time))

    def _on_agent_called(self, e: ev.AgentCalled) -> None:
        call = self._call_for(e)
        if call is None:
            return
        now = self._clock()
        call.state = CallState.AGENT_RINGING
        call.ringing_at = now
        call.agent_interface = e.interface
        call.agent_member_name = e.member_name
        call.agent_channel = e.dest_channel
        self._publish(AgentRinging(call.snapshot(), now, e.interface, e.member_name))

    def _on_ring_no_answer(self, e: ev.AgentRingNoAnswer) -> None:
        call = self._call_for(e)
        if call is None:
            return
        if call.state is CallState.AGENT_RINGING:
            call.state = CallState.QUEUED
        self._publish(AgentNoAnswer(call.snapshot(), self._clock(), e.interface, e.ring_time_ms))

    def _on_agent_connect(self, e: ev.AgentConnect) -> None:
        call = self._call_for(e)
        if call is None:
            return
        self._connect(call, e.interface, e.member_name, e.hold_time, e.dest_channel)

    def _connect(
        self, call: TrackedCall, interface: str, member_name: str, hold: int, agent_channel: str
    ) -> None:
        now = self._clock()
        call.state = CallState.CONNECTED
        call.answered_at = now
        call.agent_interface = interface
        call.agent_member_name = member_name
        call.agent_channel = agent_channel or call.agent_channel
        call.hold_seconds = hold
        call.outcome = CallOutcome.ANSWERED
        log.info("call %s: answered by %s", call.call_id, interface)
        self._publish(CallAnswered(call.snapshot(), now, interface, member_name, hold))

    def _direct_dial_call(self, e: ev.DialBegin | ev.DialEnd) -> TrackedCall | None:
        """The call whose caller channel dials outside any queue (preferred engineers)."""
        call = self._call_for(e)
        if call is None or e.uniqueid != call.call_id or call.queue is not None:
            return None
        return call

    def _on_dial_begin(self, e: ev.DialBegin) -> None:
        call = self._direct_dial_call(e)
        if call is None or call.state not in (CallState.IN_IVR, CallState.AGENT_RINGING):
            return
        now = self._clock()
        interface = interface_of(e.dest_channel)
        call.state = CallState.AGENT_RINGING
        call.ringing_at = now
        if call.queued_at is None:
            call.queued_at = now
        call.agent_interface = interface
        call.agent_member_name = interface
        call.agent_channel = e.dest_channel
        self._direct.setdefault(call.call_id, {})[e.dest_uniqueid] = interface
        log.info("call %s: preferred engineer %s rings", call.call_id, interface)
        self._publish(AgentRinging(call.snapshot(), now, interface, interface))

    def _on_dial_end(self, e: ev.DialEnd) -> None:
        call = self._direct_dial_call(e)
        if call is None:
            return
        legs = self._direct.get(call.call_id, {})
        interface = legs.pop(e.dest_uniqueid, None)
        if not legs:
            self._direct.pop(call.call_id, None)
        now = self._clock()
        since = call.queued_at or now
        if e.dial_status == "ANSWER":
            if call.state is CallState.CONNECTED:
                return
            # Also when the DialBegin was missed (resync while the engineer's phone rang).
            interface = interface or interface_of(e.dest_channel)
            hold = int((now - since).total_seconds())
            self._connect(call, interface, interface, hold, e.dest_channel)
            return
        if interface is None or call.state is CallState.CONNECTED:
            return  # a leg we do not know, or cancelled because another engineer answered
        ring_ms = int((now - (call.ringing_at or now)).total_seconds() * 1000)
        self._publish(AgentNoAnswer(call.snapshot(), now, interface, ring_ms))
        if e.dial_status == "CANCEL":
            if call.outcome is None:
                call.outcome = CallOutcome.ABANDONED
                call.hold_seconds = int((now - since).total_seconds())
                log.info("call %s: abandoned while preferred engineers rang", call.call_id)
                self._publish(CallAbandoned(call.snapshot(), now, call.hold_seconds))
        elif not legs and call.state is CallState.AGENT_RINGING:
            call.state = CallState.IN_IVR  # Dial() is over: on to the queue

    def _on_agent_complete(self, e: ev.AgentComplete) -> None:
        call = self._call_for(e) if e.linkedid else None
        if call is None:
            # Channel-less variant: find the connected call of that member in that queue.
            for candidate in self.calls.values():
                if (
                    candidate.state is CallState.CONNECTED
                    and candidate.queue == e.queue
                    and candidate.agent_interface == e.interface
                ):
                    call = candidate
                    break
        if call is None:
            # Already closed by its Hangups: fill in the talk time if we still know it.
            for ended in reversed(self._ended.values()):
                if ended.queue == e.queue and ended.agent_interface == e.interface:
                    ended.talk_seconds = e.talk_time
                    break
            return
        call.talk_seconds = e.talk_time
        call.hold_seconds = e.hold_time
        if e.reason == "transfer":
            call.outcome = CallOutcome.TRANSFERRED

    def _on_transfer(self, e: ev.AmiEvent) -> None:
        linkedid = (
            e.transferer_linkedid
            if isinstance(e, ev.BlindTransfer)
            else e.orig_transferer_linkedid
            if isinstance(e, ev.AttendedTransfer)
            else ""
        )
        call = self.calls.get(linkedid)
        if call is not None and e.message.get("Result") == "Success":
            call.outcome = CallOutcome.TRANSFERRED

    def _on_hangup(self, e: ev.Hangup) -> None:
        linkedid = self._channel_call.pop(e.uniqueid, None) or e.linkedid
        other = self._others.get(linkedid)
        if other is not None:
            other.channels.pop(e.uniqueid, None)
            if not other.channels:
                del self._others[linkedid]
            return
        call = self.calls.get(linkedid)
        if call is None:
            return
        call.channels.pop(e.uniqueid, None)
        if call.channels:
            return
        self._end(call)

    def _end(self, call: TrackedCall) -> None:
        now = self._clock()
        call.ended_at = now
        call.state = CallState.ENDED
        if call.outcome is None:
            call.outcome = CallOutcome.NO_AGENT if call.queued_at else CallOutcome.IVR_HANGUP
        if call.answered_at is not None and call.talk_seconds is None:
            call.talk_seconds = int((now - call.answered_at).total_seconds())
        del self.calls[call.call_id]
        self._direct.pop(call.call_id, None)
        for uniqueid in call.channels:
            self._channel_call.pop(uniqueid, None)
        self._ended[call.call_id] = call
        while len(self._ended) > self._ended_memory:
            self._ended.popitem(last=False)
        log.info("call %s: ended (%s)", call.call_id, call.outcome)
        self._publish(CallEnded(call.snapshot(), now))

    # --- resynchronisation after a reconnect ----------------------------------------------

    def resync(
        self, channels: Iterable[ResyncChannel], *, known_when_asked: Collection[str] | None = None
    ) -> list[TrackedCall]:
        """Reconcile with the PBX's list of live channels (CoreShowChannels).

        * Known calls with no live channel ended while we were away: they are closed
          with the best outcome we can infer (connected → answered; waiting → abandoned,
          so the caller gets a callback; in IVR → ivr_hangup). Only the calls in
          `known_when_asked` (the tracker's calls when the list was asked for; None: all)
          can be: a call that started while the list was on its way is missing from it
          but live by its own events.
        * Calls that progressed while we were away (the agent answered) get the domain
          events they missed, marked `resynced`.
        * Live hotline calls we never saw are adopted.
        Returns the calls that were adopted, so the caller can fetch their variables.
        """
        live = live_calls(channels)
        for call in list(self.calls.values()):
            found = live.get(call.call_id)
            if found is None:
                if known_when_asked is None or call.call_id in known_when_asked:
                    self._close_vanished(call)
            else:
                self._rebind(call, found)
                self._catch_up(call, found)
        adopted: list[TrackedCall] = []
        for found in live.values():
            new = self._adopt(found)
            if new is not None:
                adopted.append(new)
        return adopted

    def _close_vanished(self, call: TrackedCall) -> None:
        """A call with no live channel left ended while the link was down."""
        if call.outcome is None and call.state in (CallState.QUEUED, CallState.AGENT_RINGING):
            call.outcome = CallOutcome.ABANDONED
        call.channels.clear()
        call.resynced = True
        self._end(call)

    def _rebind(self, call: TrackedCall, live: LiveCall) -> None:
        """The call's channels are the live ones now."""
        live_ids = {ch.uniqueid for ch in live.channels}
        for uniqueid in list(call.channels):
            if uniqueid not in live_ids:
                del call.channels[uniqueid]
                self._channel_call.pop(uniqueid, None)
        for ch in live.channels:
            call.channels[ch.uniqueid] = ch.channel
            self._channel_call[ch.uniqueid] = call.call_id

    def _adopt(self, live: LiveCall) -> TrackedCall | None:
        """A live hotline call we never saw start, or None when it is not one."""
        if live.call_id in self.calls or live.call_id in self._ended:
            return None
        root = live.root
        if root is None or root.context not in self._inbound:
            return None
        call = TrackedCall(
            call_id=live.call_id,
            channel=root.channel,
            caller_number=root.caller_number,
            caller_name=root.caller_name,
            started_at=self._clock(),
            resynced=True,
        )
        self._rebind(call, live)
        self._start(call)
        self._catch_up(call, live)
        return call

    def _catch_up(self, call: TrackedCall, live: LiveCall) -> None:
        """Publish what `call` did while the link was down, as its caller channel shows."""
        root = live.root
        if root is None:
            return
        if root.application == "Queue" and root.bridge_id:
            if call.state is not CallState.CONNECTED:
                self._answered_in_queue(call, queue_of(root), live.bridged_with(root, "AppQueue"))
        elif root.application == "Dial" and root.bridge_id and call.queue is None:
            # Answered by a preferred engineer while we were away (Dial + AppDial bridged).
            engineer = live.bridged_with(root, "AppDial")
            if call.state is not CallState.CONNECTED and engineer is not None:
                if call.queued_at is None:
                    call.queued_at = self._clock()
                call.resynced = True
                interface = interface_of(engineer.channel)
                self._connect(call, interface, interface, 0, engineer.channel)
        elif root.application == "Queue" and call.state is CallState.IN_IVR:
            call.queue = queue_of(root)
            call.state = CallState.QUEUED
            call.queued_at = self._clock()
            call.resynced = True
            self._publish(CallQueued(call.snapshot(), call.queued_at, 0))

    def _answered_in_queue(
        self, call: TrackedCall, queue: str | None, agent: ResyncChannel | None
    ) -> None:
        """The caller channel is bridged in `queue`: a member (`agent`, when listed)
        answered while the link was down."""
        if call.queue is None:
            call.queue = queue
        if call.queued_at is None:
            call.queued_at = self._clock()
        interface = interface_of(agent.channel) if agent is not None else call.agent_interface or ""
        call.resynced = True
        self._connect(
            call,
            interface,
            call.agent_member_name or interface,
            0,
            agent.channel if agent is not None else "",
        )

    # --- introspection --------------------------------------------------------------

    def ended_call(self, call_id: str) -> TrackedCall | None:
        return self._ended.get(call_id)

    def call_by_agent(self, interface: str) -> TrackedCall | None:
        for call in self.calls.values():
            if call.agent_interface == interface and call.state in (
                CallState.AGENT_RINGING,
                CallState.CONNECTED,
            ):
                return call
        return None
