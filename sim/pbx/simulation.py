"""The call simulation engine: channels, the hotline dialplan, queues, agents and callers.

It produces the AMI event stream of a real Asterisk 22 (same events, fields and field
order as the recordings in `/work/shared/asterisk-transcripts`) through an `EventSink`,
and runs the dialplan's `AGI()` step through the FastAGI client in `pbx.agi_client`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pbx.agi_client import (
    AgiSessionResult,
    CallerScript,
    agi_environment,
    parse_agi_args,
    run_agi_session,
)
from pbx.clock import SimClock
from pbx.domain.events import (
    BridgeSnapshot,
    ChannelSnapshot,
    ChannelState,
    DeviceStatus,
    Header,
    MemberSnapshot,
    bridge_event,
    channel_block,
    channel_event,
    dial_event,
    member_event,
)
from pbx.domain.queueing import (
    QueueConfig,
    Strategy,
    caller_number_digits,
    choose_members,
    insert_position,
    is_our_turn,
    next_rr_position,
    rolling_average,
)
from pbx.errors import BadCallSpec, UnknownChannel
from pbx.mixmonitor import MixMonitors

log = logging.getLogger(__name__)

EventSink = Callable[[list[Header]], None]

HOTLINE_NUMBER = "4000"  # caller id the agents' phones see on queue calls
HOTLINE_NAME = "Hotline"
QUEUE_TIMEOUT = 300.0  # Queue(...,,,300)
# [globals] HOTLINE_RECORDINGS of asterisk-conf/extensions.conf
RECORDINGS_DIR = "/var/spool/asterisk/monitor/hotline"
MAX_FINISHED_CALLS = 1000
CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "No user responding",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
}
AGI_RESULT_TEXT = {
    200: "Success",
    510: "Invalid or unknown command",
    511: "Command Not Permitted on a dead channel or intercept routine",
    520: "Usage",
}
_DIGIT_COMMANDS = ("GET DATA", "WAIT FOR DIGIT", "STREAM FILE", "CONTROL STREAM FILE")


class AgiRunner(Protocol):
    def __call__(
        self,
        host: str,
        port: int,
        *,
        script: str,
        env: Mapping[str, str],
        caller: CallerScript,
        variables: MutableMapping[str, str],
        on_command: Callable[[str, str], Awaitable[None] | None] | None = None,
        prompt_seconds: float = 0.0,
    ) -> Awaitable[AgiSessionResult]: ...


class _HungUp(Exception):
    def __init__(self, cause: int, soft: bool) -> None:
        super().__init__(cause)
        self.cause = cause
        self.soft = soft  # True: AMI Hangup (SoftHangupRequest) rather than the far end


class _Redirected(Exception):
    def __init__(self, target: tuple[str, str, int]) -> None:
        super().__init__(target)
        self.target = target


@dataclass(eq=False)
class SimChannel:
    name: str
    uniqueid: str
    linkedid: str
    tech: str
    state: ChannelState
    caller_num: str
    caller_name: str
    context: str
    exten: str
    priority: int
    created_at: float
    connected_num: str = ""
    connected_name: str = ""
    dnid: str = ""
    application: str = ""
    app_data: str = ""
    bridge_id: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    hangup_request: tuple[int, bool] | None = None
    redirect_to: tuple[str, str, int] | None = None
    owner: SimChannel | None = None  # an agent leg wakes the caller's coroutine
    peer: SimChannel | None = None  # the other half of a Local pair
    driven: bool = False  # a coroutine runs this channel's dialplan and obeys requests
    gone: bool = False

    def snapshot(self) -> ChannelSnapshot:
        return ChannelSnapshot(
            name=self.name,
            state=self.state,
            caller_num=self.caller_num,
            caller_name=self.caller_name,
            connected_num=self.connected_num,
            connected_name=self.connected_name,
            context=self.context,
            exten=self.exten,
            priority=self.priority,
            uniqueid=self.uniqueid,
            linkedid=self.linkedid,
        )

    def poke(self) -> None:
        self.wake.set()
        if self.owner is not None:
            self.owner.wake.set()


class ChannelVariables(MutableMapping[str, str]):
    """A channel's variable table as AGI/AMI see it: own variables, then dialplan
    functions (`CALLERID(num)`, `DB(family/key)`...), then globals."""

    def __init__(self, channel: SimChannel, sim: Simulation) -> None:
        self._channel = channel
        self._sim = sim

    def __getitem__(self, key: str) -> str:
        value = self._sim.read_variable(self._channel, key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: str) -> None:
        self._channel.variables[key] = value

    def __delitem__(self, key: str) -> None:
        del self._channel.variables[key]

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._channel.variables))

    def __len__(self) -> int:
        return len(self._channel.variables)


@dataclass(eq=False)
class SimAgent:
    """The behaviour of one agent phone (or Local/ destination)."""

    interface: str
    answer_after: float | None = 1.0  # None: rings until the member timeout, never answers
    talk_time: float | None = None  # None: the agent never hangs up first
    member_name: str | None = None
    ringing: int = 0
    in_call: bool = False
    calls_answered: int = 0

    @property
    def device_status(self) -> DeviceStatus:
        if self.in_call:
            return DeviceStatus.INUSE
        if self.ringing:
            return DeviceStatus.RINGING
        return DeviceStatus.NOT_INUSE


@dataclass(eq=False)
class SimMember:
    queue: str
    interface: str
    name: str
    state_interface: str
    penalty: int
    paused: bool
    paused_reason: str
    login_time: int
    last_pause: int = 0
    calls_taken: int = 0
    last_call: int = 0
    in_call: bool = False
    dynamic: bool = True


@dataclass(eq=False)
class QueueCaller:
    channel: SimChannel
    priority: int
    joined_at: float
    original_position: int
    ringing: bool = False  # app_queue's `pending`: members are being rung for this caller


@dataclass(eq=False)
class SimQueue:
    config: QueueConfig
    members: dict[str, SimMember] = field(default_factory=dict)
    entries: list[QueueCaller] = field(default_factory=list)
    rr_next: int = 0
    completed: int = 0
    abandoned: int = 0
    holdtime: int = 0
    talktime: int = 0
    waking: bool = False  # a wake-up of its callers is scheduled for this loop turn

    @property
    def name(self) -> str:
        return self.config.name

    def position_of(self, channel: SimChannel) -> int:
        for index, entry in enumerate(self.entries):
            if entry.channel is channel:
                return index + 1
        return 0


@dataclass(eq=False)
class SimBridge:
    uniqueid: str
    technology: str = "simple_bridge"
    channels: list[SimChannel] = field(default_factory=list)

    def snapshot(self) -> BridgeSnapshot:
        return BridgeSnapshot(self.uniqueid, self.technology, len(self.channels))


@dataclass(eq=False)
class _Leg:
    """One agent leg rung by the queue (for Local members: the ;1 half plus its ;2)."""

    member: SimMember
    agent: SimAgent | None
    channel: SimChannel
    peer: SimChannel | None  # Local ;2
    ring_started: float
    answer_at: float | None


@dataclass(eq=False)
class _DialLeg:
    """One engineer's phone rung by Dial() (not by the queue)."""

    interface: str
    agent: SimAgent
    channel: SimChannel
    ring_started: float
    answer_at: float | None
    ringing: bool = False


@dataclass(frozen=True)
class OriginateSpec:
    channel: str
    context: str = ""
    exten: str = ""
    priority: int = 1
    application: str = ""
    data: str = ""
    timeout: float = 30.0
    caller_id: str = ""
    variables: tuple[tuple[str, str], ...] = ()
    action_id: str | None = None


# Extensions an originated channel can run: the drill of asterisk-conf and the small test
# contexts of the e-actions recording; anything else that an Originate or Redirect points
# at does not exist here, so the channel is hung up.
DIALPLAN_SNIPPETS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    # asterisk-conf/extensions.conf: the emergency-pool drill answered by a pool member
    ("hotline-drill", "s"): (
        ("Answer", ""),
        ("UserEvent", "HotlineDrill,Status: answered,Channel: ${CHANNEL}"),
        ("Wait", "1"),
        ("Hangup", ""),
    ),
    ("hotline-test", "wait"): (("Answer", ""), ("Wait", "60")),
    ("hotline-test", "echo"): (("Answer", ""), ("Echo", "")),
    ("hotline-test", "redirected"): (
        ("Answer", ""),
        ("Verbose", "1,redirected ${CHANNEL}"),
        ("Wait", "60"),
    ),
}


def whole_seconds(duration: float) -> int:
    """Asterisk's integer seconds; the epsilon keeps a planned 1.0 s (computed as a
    difference of large epoch floats) from becoming 0.999999... and thus 0."""
    return max(int(duration + 1e-6), 0)


def parse_caller_id(raw: str) -> tuple[str, str]:
    """`"Name" <number>` → (number, name)."""
    raw = raw.strip()
    if "<" in raw and raw.endswith(">"):
        name, _, number = raw[:-1].partition("<")
        return number.strip(), name.strip().strip('"')
    return raw, ""


@dataclass(frozen=True)
class CallResult:
    linkedid: str
    outcome: str  # answered, abandoned, ivr_hangup, no_agent
    caller_number: str
    queue: str | None
    agent_interface: str | None
    hangup_by: str  # caller, agent, ivr, pbx
    agi: AgiSessionResult | None
    survey: AgiSessionResult | None
    started_at: float
    queued_at: float | None
    answered_at: float | None
    ended_at: float
    variables: Mapping[str, str]


@dataclass(eq=False)
class SimCall:
    linkedid: str
    caller_number: str
    caller_name: str
    channel: SimChannel
    script: CallerScript
    survey_script: CallerScript
    patience: float
    talk_time: float
    finished: asyncio.Future[CallResult]
    outcome: str = "ivr_hangup"
    queue: str | None = None
    agent_interface: str | None = None
    hangup_by: str = "caller"
    agi: AgiSessionResult | None = None
    survey: AgiSessionResult | None = None
    queued_at: float | None = None
    answered_at: float | None = None
    agent_leg: SimChannel | None = None
    # For the call detail record (pbx.cdr): the app that bridged the caller to the agent,
    # and when that bridge ended if the caller went on in the dialplan afterwards.
    answer_app: tuple[str, str] | None = None
    bridge_ended_at: float | None = None


class Simulation:
    """Owns every simulated object; `emit` goes to the AMI server's broadcast."""

    def __init__(
        self,
        *,
        clock: SimClock,
        agi_host: str = "127.0.0.1",
        agi_port: int = 4573,
        seed: int = 0,
        agi_runner: AgiRunner | None = None,
        prompt_seconds: float = 1.0,
        recordings_dir: Path | None = None,
    ) -> None:
        """`recordings_dir`: where the stand-in writes what the dialplan's MixMonitor
        records in its recordings directory; None: no recording can be written."""
        self.clock = clock
        self.agi_host = agi_host
        self.agi_port = agi_port
        self.prompt_seconds = prompt_seconds
        self._agi_runner: AgiRunner = agi_runner or run_agi_session
        self._rng = random.Random(seed)
        self._sinks: list[EventSink] = []
        self._finish_hooks: list[Callable[[SimCall], None]] = []
        self.started_at = clock.now()
        self._uid_seq = 0
        self._pjsip_seq = 0
        self._local_seq = 0
        self.channels: dict[str, SimChannel] = {}
        self.bridges: dict[str, SimBridge] = {}
        self.agents: dict[str, SimAgent] = {}
        self.queues: dict[str, SimQueue] = {
            "hotline-main": SimQueue(QueueConfig("hotline-main", Strategy.RRMEMORY, 8.0, 2.0)),
            "hotline-emergency": SimQueue(
                QueueConfig("hotline-emergency", Strategy.RINGALL, 15.0, 2.0)
            ),
        }
        self.astdb: dict[str, str] = {}  # "family/key" -> value
        self.globals: dict[str, str] = {}
        self.calls: list[SimCall] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.mixmonitors: MixMonitors[SimChannel] = MixMonitors(
            varset=self._varset,
            channel_event=lambda event, ch: self._chan_event(event, "call,all", ch),
            now=clock.now,
            pbx_dir=RECORDINGS_DIR,
            local_dir=recordings_dir,
        )

    # ----------------------------------------------------------------- plumbing
    def add_sink(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def on_call_finished(self, hook: Callable[[SimCall], None]) -> None:
        """`hook(call)` once each inbound call is over (e.g. to write its CDR)."""
        self._finish_hooks.append(hook)

    def emit(self, headers: list[Header]) -> None:
        for sink in self._sinks:
            sink(headers)

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        async def runner() -> None:
            await coro

        task = asyncio.get_running_loop().create_task(runner(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulation task %s failed", task.get_name(), exc_info=task.exception())

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for call in self.calls:
            if not call.finished.done():
                call.finished.cancel()
        self.mixmonitors.close_all()

    def _uniqueid(self) -> str:
        uid = f"{int(self.clock.now())}.{self._uid_seq}"
        self._uid_seq += 1
        return uid

    def _new_local_pair(
        self, name: str, cid_num: str, cid_name: str, context: str, exten: str
    ) -> tuple[SimChannel, SimChannel]:
        """A Local channel's two halves (`;1` down, `;2` ringing), one Linkedid, paired."""
        base = f"{name}-{self._local_seq:08x}"
        self._local_seq += 1
        one = self._new_channel(
            base + ";1",
            tech="Local",
            state=ChannelState.DOWN,
            caller_num=cid_num,
            caller_name=cid_name,
            context=context,
            exten=exten,
        )
        two = self._new_channel(
            base + ";2",
            tech="Local",
            state=ChannelState.RING,
            caller_num=cid_num,
            caller_name=cid_name,
            context=context,
            exten=exten,
            linkedid=one.linkedid,
        )
        one.peer, two.peer, two.owner = two, one, one
        return one, two

    def _new_channel(
        self,
        name: str,
        *,
        tech: str,
        state: ChannelState,
        caller_num: str,
        caller_name: str,
        context: str,
        exten: str,
        linkedid: str | None = None,
    ) -> SimChannel:
        uid = self._uniqueid()
        chan = SimChannel(
            name=name,
            uniqueid=uid,
            linkedid=linkedid or uid,
            tech=tech,
            state=state,
            caller_num=caller_num,
            caller_name=caller_name,
            context=context,
            exten=exten,
            priority=1,
            created_at=self.clock.now(),
        )
        self.channels[name] = chan
        return chan

    def _pjsip_name(self, endpoint: str) -> str:
        name = f"PJSIP/{endpoint}-{self._pjsip_seq:08x}"
        self._pjsip_seq += 1
        return name

    def _bridge_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _command_id(self) -> str:
        return str(self._rng.randrange(1, 2**31))

    # ----------------------------------------------------------------- events
    def _chan_event(self, event: str, privilege: str, ch: SimChannel, *extra: Header) -> None:
        self.emit(channel_event(event, privilege, ch.snapshot(), *extra))

    def _newexten(self, ch: SimChannel, priority: int, app: str, data: str) -> None:
        ch.priority = priority
        ch.application = app
        ch.app_data = data
        self._chan_event(
            "Newexten",
            "dialplan,all",
            ch,
            ("Extension", ch.exten),
            ("Application", app),
            ("AppData", data),
        )

    def _varset(self, ch: SimChannel, name: str, value: str) -> None:
        ch.variables[name] = value
        self._chan_event("VarSet", "dialplan,all", ch, ("Variable", name), ("Value", value))

    def _set_state(self, ch: SimChannel, state: ChannelState) -> None:
        ch.state = state
        self._chan_event("Newstate", "call,all", ch)

    def _hangup(self, ch: SimChannel, cause: int) -> None:
        if ch.gone:
            return
        ch.gone = True
        self.mixmonitors.hung_up(ch)
        self._chan_event(
            "Hangup",
            "call,all",
            ch,
            ("Cause", str(cause)),
            ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown")),
        )
        self.channels.pop(ch.name, None)

    def _member_snapshot(self, m: SimMember) -> MemberSnapshot:
        agent = self.agents.get(m.interface)
        if agent is None:
            # no phone behind a PJSIP interface: unregistered endpoint; Local stays NOT_INUSE
            local = m.interface.startswith("Local/")
            status = DeviceStatus.NOT_INUSE if local else DeviceStatus.UNAVAILABLE
        elif m.interface.startswith("Local/") and agent.ringing and not agent.in_call:
            status = DeviceStatus.INUSE  # a ringing Local pair is INUSE (see h-*.txt)
        else:
            status = agent.device_status
        return MemberSnapshot(
            queue=m.queue,
            name=m.name,
            interface=m.interface,
            state_interface=m.state_interface,
            penalty=m.penalty,
            calls_taken=m.calls_taken,
            last_call=m.last_call,
            last_pause=m.last_pause,
            login_time=m.login_time,
            in_call=m.in_call,
            status=status,
            paused=m.paused,
            paused_reason=m.paused_reason,
            dynamic=m.dynamic,
        )

    def member_snapshot(self, m: SimMember) -> MemberSnapshot:
        return self._member_snapshot(m)

    def _member_status_event(self, interface: str) -> None:
        for queue in self.queues.values():
            member = queue.members.get(interface)
            if member is not None:
                self.emit(member_event("QueueMemberStatus", self._member_snapshot(member)))

    def _device_state(self, device: str, state: str) -> None:
        self.emit(
            [
                ("Event", "DeviceStateChange"),
                ("Privilege", "call,all"),
                ("Device", device),
                ("State", state),
            ]
        )

    def _queue_avail_state(self, queue: SimQueue) -> None:
        available = any(not m.paused for m in queue.members.values())
        self._device_state(f"Queue:{queue.name}_avail", "NOT_INUSE" if available else "INUSE")

    def _notify_queue(self, queue: SimQueue) -> None:
        """Something that may let a caller of `queue` ring (or stop ringing) changed: its
        callers look at the queue on the loop's next turn, once for all the changes made
        until then."""
        if queue.waking:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop, so no caller waiting
            return
        queue.waking = True
        loop.call_soon(self._wake_callers, queue)

    def _wake_callers(self, queue: SimQueue) -> None:
        """Wake the callers that can act: those ringing members (an answer, a rejection),
        and, in queue order, as many of the others as members are free (app_queue's
        `is_our_turn`). A caller left asleep would only find it is not its turn and wait
        again; a hang-up or redirect wakes its channel directly."""
        queue.waking = False
        free = sum(1 for m in queue.members.values() if self._member_available(m))
        waiting = 0
        for entry in queue.entries:
            if not entry.ringing:
                waiting += 1
                if not is_our_turn(waiting, free):
                    continue
            entry.channel.wake.set()

    def _notify_all_queues(self) -> None:
        for queue in self.queues.values():
            self._notify_queue(queue)

    # ----------------------------------------------------------------- variables
    def read_variable(self, ch: SimChannel | None, name: str) -> str | None:
        """`${name}` on a channel (or globally when `ch` is None)."""
        upper = name.upper()
        if upper.startswith("DB(") and upper.endswith(")"):
            return self.astdb.get(name[3:-1].strip("/"))
        if ch is not None:
            functions = {
                "CALLERID(NUM)": ch.caller_num,
                "CALLERID(NAME)": ch.caller_name,
                "CALLERID(ALL)": f'"{ch.caller_name}" <{ch.caller_num}>',
                "CONNECTEDLINE(NUM)": ch.connected_num,
                "CONNECTEDLINE(NAME)": ch.connected_name,
                "CHANNEL": ch.name,
                "CHANNEL(NAME)": ch.name,
                "UNIQUEID": ch.uniqueid,
                "CHANNEL(UNIQUEID)": ch.uniqueid,
                "CHANNEL(LINKEDID)": ch.linkedid,
                "CONTEXT": ch.context,
                "EXTEN": ch.exten,
                "PRIORITY": str(ch.priority),
            }
            if upper in functions:
                return functions[upper]
            if name in ch.variables:
                return ch.variables[name]
        return self.globals.get(name)

    def write_variable(self, ch: SimChannel | None, name: str, value: str) -> None:
        """`Setvar`: a channel variable (VarSet on the channel), a function, or a global."""
        upper = name.upper()
        if ch is None:
            self.globals[name] = value
            self.emit(
                [
                    ("Event", "VarSet"),
                    ("Privilege", "dialplan,all"),
                    ("Channel", "none"),
                    ("Uniqueid", "none"),
                    ("Variable", name),
                    ("Value", value),
                ]
            )
            return
        if upper in ("CALLERID(NUM)", "CALLERID(NAME)"):
            if upper == "CALLERID(NUM)":
                ch.caller_num = value
            else:
                ch.caller_name = value
            self._chan_event(
                "NewCallerid",
                "call,all",
                ch,
                ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)"),
            )
            return
        if upper.startswith("DB(") and upper.endswith(")"):
            self.astdb[name[3:-1].strip("/")] = value
            return
        self._varset(ch, name, value)

    def find_channel(self, name: str) -> SimChannel:
        chan = self.channels.get(name)
        if chan is None or chan.gone:
            raise UnknownChannel(name)
        return chan

    # ----------------------------------------------------------------- agents and members
    def add_agent(
        self,
        interface: str,
        *,
        answer_after: float | None = 1.0,
        talk_time: float | None = None,
        member_name: str | None = None,
    ) -> SimAgent:
        if "/" not in interface or any(c in interface for c in "\r\n,"):
            raise BadCallSpec(f"bad agent interface {interface!r}")
        if answer_after is not None and answer_after < 0:
            raise BadCallSpec("answer_after must be >= 0")
        agent = SimAgent(interface, answer_after, talk_time, member_name)
        self.agents[interface] = agent
        return agent

    def queue_add(
        self,
        queue_name: str,
        interface: str,
        *,
        member_name: str = "",
        state_interface: str = "",
        penalty: int = 0,
        paused: bool = False,
        reason: str = "",
    ) -> SimMember:
        """Raises KeyError (no such queue) or ValueError (already there)."""
        queue = self.queues[queue_name]
        if interface in queue.members:
            raise ValueError("Already there")
        now = int(self.clock.now())
        member = SimMember(
            queue=queue_name,
            interface=interface,
            name=member_name or interface,
            state_interface=state_interface or interface,
            penalty=penalty,
            paused=paused,
            paused_reason=reason if paused else "",
            login_time=now,
            last_pause=now if paused else 0,
        )
        queue.members[interface] = member
        if paused:
            self._device_state(f"Queue:{queue_name}_pause_{interface}", "INUSE")
            self.emit(member_event("QueueMemberAdded", self._member_snapshot(member)))
        else:
            self.emit(member_event("QueueMemberAdded", self._member_snapshot(member)))
            self._queue_avail_state(queue)
        self._notify_queue(queue)
        return member

    def queue_remove(self, queue_name: str, interface: str) -> None:
        """Raises KeyError (no such queue) or ValueError (not there)."""
        queue = self.queues[queue_name]
        member = queue.members.pop(interface, None)
        if member is None:
            raise ValueError("Not there")
        self.emit(member_event("QueueMemberRemoved", self._member_snapshot(member)))
        if member.paused:
            self._device_state(f"Queue:{queue_name}_pause_{interface}", "NOT_INUSE")
        else:
            self._queue_avail_state(queue)

    def queue_pause(
        self, interface: str, paused: bool, *, queue_name: str | None = None, reason: str = ""
    ) -> int:
        """Pause/unpause in one queue or all; returns how many memberships changed."""
        changed = 0
        for queue in self.queues.values():
            if queue_name is not None and queue.name != queue_name:
                continue
            member = queue.members.get(interface)
            if member is None:
                continue
            member.paused = paused
            member.paused_reason = reason if paused else ""
            if paused:
                member.last_pause = int(self.clock.now())
            self._device_state(
                f"Queue:{queue.name}_pause_{interface}", "INUSE" if paused else "NOT_INUSE"
            )
            self._queue_avail_state(queue)
            self.emit(member_event("QueueMemberPause", self._member_snapshot(member)))
            changed += 1
            self._notify_queue(queue)
        return changed

    def _member_available(self, member: SimMember) -> bool:
        agent = self.agents.get(member.interface)
        if member.paused or agent is None:
            return False
        return not agent.in_call and not agent.ringing

    # ----------------------------------------------------------------- inbound calls
    def place_call(
        self,
        caller_number: str,
        caller_name: str = "",
        *,
        script: CallerScript | None = None,
        survey: CallerScript | None = None,
        patience: float = 300.0,
        talk_time: float = 30.0,
        dialled: str = "4000",
    ) -> SimCall:
        for value in (caller_number, caller_name, dialled):
            if "\r" in value or "\n" in value:
                raise BadCallSpec("CR/LF in a caller field")
        if patience < 0 or talk_time < 0:
            raise BadCallSpec("patience and talk_time must be >= 0")
        chan = self._new_channel(
            self._pjsip_name("trunk"),
            tech="PJSIP",
            state=ChannelState.RING,
            caller_num=caller_number,
            caller_name=caller_name,
            context="hotline-in",
            exten=dialled or "s",
        )
        chan.dnid = dialled
        chan.driven = True
        loop = asyncio.get_running_loop()
        call = SimCall(
            linkedid=chan.linkedid,
            caller_number=caller_number,
            caller_name=caller_name,
            channel=chan,
            script=script or CallerScript(),
            survey_script=survey or CallerScript(),
            patience=patience,
            talk_time=talk_time,
            finished=loop.create_future(),
        )
        self.calls.append(call)
        self._chan_event("Newchannel", "call,all", chan)
        self._varset(chan, "SIPDOMAIN", "127.0.0.1")
        self._spawn(self._run_call(call), f"call-{call.linkedid}")
        return call

    async def _run_call(self, call: SimCall) -> None:
        ch = call.channel
        location: tuple[str, str, int] = ("hotline-in", ch.exten, 1)
        log.info("call %s: inbound from %s", call.linkedid, call.caller_number)
        try:
            while True:
                try:
                    await self._run_context(call, location)
                    break
                except _Redirected as jump:
                    location = jump.target
                    ch.context, ch.exten, ch.priority = location
        except _HungUp as hung:
            self._caller_gone(call, hung)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call %s: simulation error", call.linkedid)
            call.hangup_by = "pbx"
            if not ch.gone:
                self._hangup(ch, 16)
        self._finish(call)

    def _caller_gone(self, call: SimCall, hung: _HungUp) -> None:
        ch = call.channel
        if not ch.gone:
            if hung.soft:  # AMI Hangup: request_hangup() already sent SoftHangupRequest
                self._hangup(ch, hung.cause)
            else:
                self._chan_event("SoftHangupRequest", "call,all", ch, ("Cause", "16"))
                self._hangup(ch, 0)

    def _finish(self, call: SimCall) -> None:
        if call.finished.done():
            return
        ch = call.channel
        call.finished.set_result(
            CallResult(
                linkedid=call.linkedid,
                outcome=call.outcome,
                caller_number=call.caller_number,
                queue=call.queue,
                agent_interface=call.agent_interface,
                hangup_by=call.hangup_by,
                agi=call.agi,
                survey=call.survey,
                started_at=ch.created_at,
                queued_at=call.queued_at,
                answered_at=call.answered_at,
                ended_at=self.clock.now(),
                variables=dict(ch.variables),
            )
        )
        log.info("call %s: finished (%s)", call.linkedid, call.outcome)
        for hook in self._finish_hooks:
            try:
                hook(call)
            except Exception:
                log.exception("call %s: finish hook %r failed", call.linkedid, hook)
        if len(self.calls) > MAX_FINISHED_CALLS * 2:
            # a long demo must not grow without bound: keep the recent finished calls
            live = [c for c in self.calls if not c.finished.done()]
            done = [c for c in self.calls if c.finished.done()][-MAX_FINISHED_CALLS:]
            self.calls = done + live

    def _check(self, ch: SimChannel) -> None:
        if ch.hangup_request is not None:
            cause, soft = ch.hangup_request
            raise _HungUp(cause, soft)
        if ch.redirect_to is not None:
            target = ch.redirect_to
            ch.redirect_to = None
            raise _Redirected(target)

    async def _nap(self, ch: SimChannel, sim_seconds: float | None) -> None:
        """Sleep until the deadline or until something pokes the channel."""
        if not ch.wake.is_set():
            timeout = None if sim_seconds is None else self.clock.real_seconds(sim_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ch.wake.wait(), timeout)
        ch.wake.clear()

    async def _pause(self, ch: SimChannel, sim_seconds: float) -> None:
        """A dialplan wait that a hang-up or redirect interrupts."""
        end = self.clock.now() + sim_seconds
        while True:
            self._check(ch)
            left = end - self.clock.now()
            if left <= 0:
                return
            await self._nap(ch, left)

    async def _run_context(self, call: SimCall, location: tuple[str, str, int]) -> None:
        context, _exten, priority = location
        if context == "hotline-in":
            await self._hotline_in(call, priority)
        elif context == "hotline-requeue":
            await self._hotline_requeue(call, priority)
        elif context == "hotline-survey":
            await self._hotline_survey(call, priority)
        else:
            # Redirect to a place this dialplan does not have: Asterisk hangs up the channel.
            log.warning("call %s: no such context %s, hanging up", call.linkedid, context)
            call.hangup_by = "pbx"
            self._hangup(call.channel, 16)

    async def _hotline_in(self, call: SimCall, start: int) -> None:
        ch = call.channel
        if start <= 1:
            self._check(ch)
            self._newexten(ch, 1, "NoOp", f"hotline call {ch.uniqueid} from {ch.caller_num}")
        if start <= 2:
            self._newexten(ch, 2, "Answer", "")
            self._set_state(ch, ChannelState.UP)
            await self._pause(ch, 0.5)
        if start <= 3:
            digits = caller_number_digits(ch.caller_num)
            self._newexten(ch, 3, "Set", f"CALLERID(num)={digits}")
            if digits != ch.caller_num:
                self.write_variable(ch, "CALLERID(num)", digits)
        if start <= 4:
            name = ch.caller_name[:64]  # Set(CALLERID(name)=${CALLERID(name):0:64})
            self._newexten(ch, 4, "Set", f"CALLERID(name)={name}")
            if name != ch.caller_name:
                self.write_variable(ch, "CALLERID(name)", name)
        if start <= 5:
            mode = self.astdb.get("hotline/mode", "normal")
            queue = "hotline-emergency" if mode == "emergency" else "hotline-main"
            self._newexten(ch, 5, "Set", f"HOTLINE_QUEUE={queue}")
            self._varset(ch, "HOTLINE_QUEUE", queue)
        if start <= 6:
            self._newexten(ch, 6, "Set", "HOTLINE_PRIORITY=1")
            self._varset(ch, "HOTLINE_PRIORITY", "1")
        if start <= 7:
            self._check(ch)
            call.agi = await self._agi(call, 7, "ivr", call.script)
        if start <= 8:
            prio = ch.variables.get("HOTLINE_PRIORITY", "")
            self._newexten(ch, 8, "Set", f"QUEUE_PRIO={prio}")
            self._varset(ch, "QUEUE_PRIO", prio)
        if start <= 9:
            self._mixmonitor_app(ch, 9, f"{RECORDINGS_DIR}/{ch.uniqueid}.wav,b")
        preferred = ch.variables.get("HOTLINE_PREFERRED", "")
        if start <= 10:
            # GotoIf($["${HOTLINE_PREFERRED}" = ""]?queue)
            self._newexten(ch, 10, "GotoIf", f"{int(not preferred)}?queue")
        if start <= 11 and preferred:
            timeout = ch.variables.get("HOTLINE_PREFERRED_TIMEOUT", "")
            await self._dial_app(call, 11, preferred, timeout)
            if ch.gone:
                return
        if start <= 12 and preferred:
            # GotoIf($["${DIALSTATUS}" = "ANSWER"]?hotline-survey,s,1): Dial option g
            answered = ch.variables.get("DIALSTATUS", "") == "ANSWER"
            self._newexten(ch, 12, "GotoIf", f"{int(answered)}?hotline-survey,s,1")
            if answered:
                raise _Redirected(("hotline-survey", "s", 1))
        if start <= 13:
            queue = ch.variables.get("HOTLINE_QUEUE", "")
            await self._queue_app(call, 13, queue)
        if start <= 14:
            self._survey_after_queue(call, 14)
        self._hangup_app(call, 15)

    def _mixmonitor_app(self, ch: SimChannel, priority: int, data: str) -> None:
        """MixMonitor(${HOTLINE_RECORDINGS}/${UNIQUEID}.wav,b): record the bridged audio
        of the call, both directions, from here on (pbx.mixmonitor)."""
        self._newexten(ch, priority, "MixMonitor", data)
        self.mixmonitors.start(ch, data)

    async def _hotline_requeue(self, call: SimCall, start: int) -> None:
        if start <= 1:
            await self._queue_app(call, 1, call.channel.variables.get("HOTLINE_QUEUE", ""))
        if start <= 2:
            self._survey_after_queue(call, 2)
        self._hangup_app(call, 3)

    def _survey_after_queue(self, call: SimCall, priority: int) -> None:
        """GotoIf($["${QUEUESTATUS}" = "CONTINUE"]?hotline-survey,s,1): Queue option c let
        the caller go on after the agent hung up."""
        ch = call.channel
        if ch.gone:
            return
        go = ch.variables.get("QUEUESTATUS", "") == "CONTINUE"
        self._newexten(ch, priority, "GotoIf", f"{int(go)}?hotline-survey,s,1")
        if go:
            raise _Redirected(("hotline-survey", "s", 1))

    async def _hotline_survey(self, call: SimCall, start: int) -> None:
        ch = call.channel
        offer = ch.variables.get("HOTLINE_SURVEY", "") == "1"
        if start <= 1:
            self._newexten(ch, 1, "GotoIf", f"{0 if offer else 1}?done")
        if start <= 2 and offer:
            call.survey = await self._agi(call, 2, "survey", call.survey_script)
        self._hangup_app(call, 3)

    def _hangup_app(self, call: SimCall, priority: int) -> None:
        ch = call.channel
        if ch.gone:
            return
        self._newexten(ch, priority, "Hangup", "")
        call.hangup_by = "pbx" if call.outcome != "answered" else call.hangup_by
        self._hangup(ch, 16)

    # ----------------------------------------------------------------- AGI step
    async def _agi(
        self, call: SimCall, priority: int, script: str, caller: CallerScript
    ) -> AgiSessionResult:
        ch = call.channel
        host, port = self.agi_host, self.agi_port
        self._newexten(ch, priority, "AGI", f"agi://{host}:{port}/{script}")
        env = agi_environment(
            script=script,
            host=host,
            port=port,
            channel=ch.name,
            uniqueid=ch.uniqueid,
            caller_number=ch.caller_num,
            caller_name=ch.caller_name,
            dnid=ch.dnid or "unknown",
            context=ch.context,
            extension=ch.exten,
            priority=priority,
        )
        count = 0
        inputs = list(caller.inputs)
        hung_up_at = caller.hangup_after_commands

        def on_command(line: str, reply: str) -> None:
            nonlocal count
            count += 1
            if ch.gone:
                return
            command_id = self._command_id()
            self._chan_event(
                "AGIExecStart", "agi,all", ch, ("CommandId", command_id), ("Command", line)
            )
            code_text = reply.split(" ", 1)[0].rstrip("-")
            code = int(code_text) if code_text.isdigit() else 200
            upper = line.upper()
            consumes = code == 200 and upper.startswith(_DIGIT_COMMANDS)
            if upper.startswith(("STREAM FILE", "CONTROL STREAM FILE")):
                words = parse_agi_args(line)
                consumes = consumes and len(words) >= 4 and bool(words[3])
            pressed = inputs.pop(0) if consumes and inputs else ""
            if count == hung_up_at:
                self._chan_event("HangupRequest", "call,all", ch)
            elif pressed and "result=-1" not in reply:
                self._dtmf(ch, pressed if upper.startswith("GET DATA") else pressed[:1])
            if code == 200 and upper.startswith("SET VARIABLE"):
                words = parse_agi_args(line)
                if len(words) >= 4:
                    self._varset(ch, words[2], words[3])
            if code == 200 and upper.startswith("STREAM FILE"):
                if "result=-1" not in reply and count != hung_up_at:
                    self._varset(ch, "PLAYBACKSTATUS", "SUCCESS")
            self._chan_event(
                "AGIExecEnd",
                "agi,all",
                ch,
                ("CommandId", command_id),
                ("Command", line),
                ("ResultCode", str(code)),
                ("Result", AGI_RESULT_TEXT.get(code, "Failure")),
            )

        session = asyncio.ensure_future(
            self._agi_runner(
                host,
                port,
                script=script,
                env=env,
                caller=caller,
                variables=ChannelVariables(ch, self),
                on_command=on_command,
                prompt_seconds=self.clock.real_seconds(self.prompt_seconds),
            )
        )
        try:
            while not session.done():
                waker = asyncio.ensure_future(ch.wake.wait())
                await asyncio.wait({session, waker}, return_when=asyncio.FIRST_COMPLETED)
                waker.cancel()
                if ch.hangup_request is not None and not session.done():
                    # AMI Hangup while the IVR runs: the channel is gone, the AGI socket closes
                    session.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await session
                    self._varset(ch, "AGISTATUS", "HANGUP")
                    call.outcome = "ivr_hangup"
                    call.hangup_by = "pbx"
                    self._check(ch)
                if not session.done():
                    ch.wake.clear()
        except asyncio.CancelledError:
            session.cancel()
            raise
        result = session.result()
        if result.error is not None and not result.commands:
            log.warning("call %s: AGI %s failed: %s", call.linkedid, script, result.error)
            self._varset(ch, "AGISTATUS", "FAILURE")
        elif result.hung_up:
            self._varset(ch, "AGISTATUS", "HANGUP")
            call.outcome = "ivr_hangup"
            call.hangup_by = "ivr" if hung_up_at is None else "caller"
            raise _HungUp(0, False)
        else:
            self._varset(ch, "AGISTATUS", "SUCCESS")
        self._check(ch)
        return result

    def _dtmf(self, ch: SimChannel, keys: str) -> None:
        for key in keys:
            self._chan_event("DTMFBegin", "dtmf,all", ch, ("Digit", key), ("Direction", "Received"))
            self._chan_event(
                "DTMFEnd",
                "dtmf,all",
                ch,
                ("Digit", key),
                ("DurationMs", "160"),
                ("Direction", "Received"),
            )

    # ----------------------------------------------------------------- Queue()
    def _queue_vars(self, ch: SimChannel, queue: SimQueue) -> None:
        self._varset(ch, "QUEUENAME", queue.name)
        self._varset(ch, "QUEUEMAX", str(queue.config.max_len))
        self._varset(ch, "QUEUESTRATEGY", queue.config.strategy.value)
        self._varset(ch, "QUEUECALLS", str(len(queue.entries)))
        self._varset(ch, "QUEUEHOLDTIME", str(queue.holdtime))
        self._varset(ch, "QUEUETALKTIME", str(queue.talktime))
        self._varset(ch, "QUEUECOMPLETED", str(queue.completed))
        self._varset(ch, "QUEUEABANDONED", str(queue.abandoned))
        self._varset(ch, "QUEUESRVLEVEL", "0")
        self._varset(ch, "QUEUESRVLEVELPERF", "0.0")

    async def _queue_app(self, call: SimCall, priority: int, queue_name: str) -> None:
        ch = call.channel
        self._newexten(ch, priority, "Queue", f"{queue_name},c,,,300")
        queue = self.queues.get(queue_name)
        if queue is None:
            log.warning("call %s: no such queue %r", call.linkedid, queue_name)
            self._varset(ch, "QUEUESTATUS", "UNKNOWN")
            call.outcome = "no_agent"
            return
        for name in ("ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS"):
            self._varset(ch, name, "")
        self._varset(ch, "QUEUEWAIT", "")
        self._varset(ch, "QUEUEWAIT_MS", "")
        try:
            prio = int(ch.variables.get("QUEUE_PRIO", "0") or "0")
        except ValueError:
            prio = 0
        now = self.clock.now()
        index = insert_position([e.priority for e in queue.entries], prio)
        entry = QueueCaller(ch, prio, now, index + 1)
        queue.entries.insert(index, entry)
        call.queue = queue.name
        if call.queued_at is None:
            call.queued_at = now
        self._chan_event(
            "QueueCallerJoin",
            "agent,all",
            ch,
            ("Queue", queue.name),
            ("Position", str(index + 1)),
            ("Count", str(len(queue.entries))),
        )
        self._chan_event("MusicOnHoldStart", "call,all", ch, ("Class", "default"))
        patience_end = (call.queued_at or now) + call.patience
        timeout_end = now + QUEUE_TIMEOUT
        legs: list[_Leg] = []
        retry_until = 0.0
        connected: _Leg | None = None
        try:
            while connected is None:
                self._check(ch)
                now = self.clock.now()
                if now >= patience_end:
                    raise _HungUp(0, False)
                if now >= timeout_end:
                    self._cancel_legs(ch, legs)
                    legs = []
                    self._leave(queue, entry, "TIMEOUT")
                    self._varset(ch, "QUEUESTATUS", "TIMEOUT")
                    call.outcome = "no_agent"
                    return
                if legs:
                    rejected = [leg for leg in legs if leg.channel.hangup_request is not None]
                    if rejected:
                        self._reject_legs(ch, rejected)
                        legs = [leg for leg in legs if leg not in rejected]
                        if not legs:
                            entry.ringing = False
                            retry_until = now + queue.config.retry
                        continue
                    ring_end = legs[0].ring_started + queue.config.member_timeout
                    answer_times = [leg.answer_at for leg in legs if leg.answer_at is not None]
                    first_answer = min(answer_times, default=None)
                    if first_answer is not None and first_answer <= now and first_answer < ring_end:
                        connected = next(leg for leg in legs if leg.answer_at == first_answer)
                        break
                    if now >= ring_end:
                        entry.ringing = False
                        self._ring_no_answer(ch, queue, legs)
                        legs = []
                        retry_until = now + queue.config.retry
                        continue
                    wake_at = min(ring_end, patience_end, timeout_end)
                    if first_answer is not None:
                        wake_at = min(wake_at, first_answer)
                    await self._nap(ch, wake_at - now)
                    continue
                if now < retry_until:
                    await self._nap(ch, min(retry_until, patience_end, timeout_end) - now)
                    continue
                legs = self._ring_members(call, queue, entry)
                entry.ringing = bool(legs)
                if not legs:
                    await self._nap(ch, min(patience_end, timeout_end) - now)
        except _HungUp:
            self._abandon(call, queue, entry, legs)
            raise
        except _Redirected:
            self._chan_event("MusicOnHoldStop", "call,all", ch)
            self._cancel_legs(ch, legs)
            self._leave(queue, entry, None)
            raise
        others = [leg for leg in legs if leg is not connected]
        self._cancel_legs(ch, others)
        await self._connect(call, queue, entry, connected)

    def _ring_members(self, call: SimCall, queue: SimQueue, entry: QueueCaller) -> list[_Leg]:
        ch = call.channel
        order = list(queue.members)
        available = [i for i in order if self._member_available(queue.members[i])]
        # app_queue's is_our_turn: callers ahead that are already ringing someone don't count
        ahead = 0
        for other in queue.entries:
            if other is entry:
                break
            if not other.ringing:
                ahead += 1
        if not is_our_turn(ahead + 1, len(available)):
            return []
        chosen = choose_members(queue.config.strategy, order, available, queue.rr_next)
        if not chosen:
            return []
        if queue.config.strategy is Strategy.RRMEMORY:
            queue.rr_next = next_rr_position(order, chosen[0])
        now = self.clock.now()
        legs: list[_Leg] = []
        for interface in chosen:
            member = queue.members[interface]
            agent = self.agents[interface]
            leg = self._dial_leg(ch, member, agent, now)
            legs.append(leg)
        pjsip = any(leg.peer is None for leg in legs)
        if pjsip and ch.connected_num != HOTLINE_NUMBER:
            # the agent phone's caller id becomes the caller's connected line (not for Local)
            ch.connected_num, ch.connected_name = HOTLINE_NUMBER, HOTLINE_NAME
            self._chan_event("NewConnectedLine", "call,all", ch)
        for leg in legs:
            self._leg_ringing(ch, leg)
        return legs

    def _dial_leg(self, caller: SimChannel, member: SimMember, agent: SimAgent, now: float) -> _Leg:
        agent.ringing += 1
        interface = member.interface
        answer_at = None if agent.answer_after is None else now + agent.answer_after
        if interface.startswith("Local/"):
            spec = interface[len("Local/") :]
            exten, _, context = spec.partition("@")
            base = f"Local/{spec}-{self._local_seq:08x}"
            self._local_seq += 1
            one = self._new_channel(
                base + ";1",
                tech="Local",
                state=ChannelState.DOWN,
                caller_num="",
                caller_name="",
                context=context or "default",
                exten=exten,
                linkedid=caller.linkedid,
            )
            two = self._new_channel(
                base + ";2",
                tech="Local",
                state=ChannelState.RING,
                caller_num="",
                caller_name="",
                context=context or "default",
                exten=exten,
                linkedid=caller.linkedid,
            )
            one.owner = caller
            two.owner = caller
            self._chan_event("Newchannel", "call,all", one)
            self._chan_event("Newchannel", "call,all", two)
            one.caller_num = HOTLINE_NUMBER
            self._newexten(one, 1, "AppQueue", "(Outgoing Line)")
            self._chan_event(
                "NewCallerid",
                "call,all",
                one,
                ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)"),
            )
            two.caller_num, two.caller_name = caller.caller_num, caller.caller_name
            two.connected_num = HOTLINE_NUMBER
            self._chan_event(
                "NewCallerid",
                "call,all",
                two,
                ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)"),
            )
            self._chan_event("NewConnectedLine", "call,all", two)
            self.emit(
                [("Event", "LocalBridge"), ("Privilege", "call,all")]
                + channel_block(one.snapshot(), "LocalOne")
                + channel_block(two.snapshot(), "LocalTwo")
                + [("Context", one.context), ("Exten", exten), ("LocalOptimization", "Yes")]
            )
            dial_string = interface
            leg_chan, peer = one, two
        else:
            endpoint = interface.split("/", 1)[1]
            leg_chan = self._new_channel(
                self._pjsip_name(endpoint),
                tech=interface.split("/", 1)[0],
                state=ChannelState.DOWN,
                caller_num=HOTLINE_NUMBER,
                caller_name=HOTLINE_NAME,
                context="agents-from-sip",
                exten="s",
                linkedid=caller.linkedid,
            )
            leg_chan.owner = caller
            self._chan_event("Newchannel", "call,all", leg_chan)
            self._varset(leg_chan, "DIALEDPEERNUMBER", endpoint)
            dial_string = interface
            peer = None
        before_dial = leg_chan.snapshot()
        # AgentCalled shows the leg as it will be once dialled: connected to the caller.
        leg_chan.connected_num, leg_chan.connected_name = caller.caller_num, caller.caller_name
        leg_chan.exten = caller.exten
        self.emit(
            dial_event(
                "AgentCalled",
                caller.snapshot(),
                leg_chan.snapshot(),
                ("Queue", member.queue),
                ("Interface", interface),
                ("MemberName", member.name),
                privilege="agent,all",
            )
        )
        self.emit(
            dial_event("DialBegin", caller.snapshot(), before_dial, ("DialString", dial_string))
        )
        return _Leg(member, agent, leg_chan, peer, now, answer_at)

    def _leg_ringing(self, caller: SimChannel, leg: _Leg) -> None:
        chan = leg.channel
        if leg.peer is not None:
            # Local member, order as in h-local-channel-agent.txt
            self._newexten(leg.peer, 1, "Ringing", "")
            self._set_state(chan, ChannelState.RINGING)
            self._newexten(chan, 1, "AppQueue", "(Outgoing Line)")
            self._chan_event("NewConnectedLine", "call,all", chan)
            wait = leg.agent.answer_after if leg.agent is not None else None
            self._newexten(leg.peer, 2, "Wait", f"{3600 if wait is None else wait:g}")
            self.emit(
                dial_event(
                    "DialState", caller.snapshot(), chan.snapshot(), ("DialStatus", "RINGING")
                )
            )
            self._member_status_event(leg.member.interface)
            return
        self._set_state(chan, ChannelState.RINGING)
        self._newexten(chan, 1, "AppQueue", "(Outgoing Line)")
        self._chan_event("NewConnectedLine", "call,all", chan)
        self._member_status_event(leg.member.interface)
        self.emit(
            dial_event("DialState", caller.snapshot(), chan.snapshot(), ("DialStatus", "RINGING"))
        )

    def _release_leg(self, leg: _Leg) -> None:
        if leg.agent is not None and leg.agent.ringing > 0:
            leg.agent.ringing -= 1

    def _ring_no_answer(self, caller: SimChannel, queue: SimQueue, legs: list[_Leg]) -> None:
        ring_ms = str(int(queue.config.member_timeout * 1000))
        for leg in legs:
            self.emit(
                dial_event(
                    "AgentRingNoAnswer",
                    caller.snapshot(),
                    leg.channel.snapshot(),
                    ("Queue", queue.name),
                    ("Interface", leg.member.interface),
                    ("MemberName", leg.member.name),
                    ("RingTime", ring_ms),
                    privilege="agent,all",
                )
            )
            self.emit(
                dial_event(
                    "DialEnd", caller.snapshot(), leg.channel.snapshot(), ("DialStatus", "NOANSWER")
                )
            )
            self.emit(
                dial_event(
                    "DialEnd", caller.snapshot(), leg.channel.snapshot(), ("DialStatus", "CANCEL")
                )
            )
            self._drop_leg(leg, 0)

    def _reject_legs(self, caller: SimChannel, legs: list[_Leg]) -> None:
        """Agent legs hung up (AMI Hangup) while ringing: the phone declined the call."""
        for leg in legs:
            self.emit(
                dial_event(
                    "DialEnd", caller.snapshot(), leg.channel.snapshot(), ("DialStatus", "BUSY")
                )
            )
            self._drop_leg(leg, 21)

    def _drop_leg(self, leg: _Leg, cause: int) -> None:
        self._hangup(leg.channel, cause)
        if leg.peer is not None:
            self._hangup(leg.peer, cause)
        self._release_leg(leg)
        self._member_status_event(leg.member.interface)
        self._notify_all_queues()

    def _cancel_legs(self, caller: SimChannel, legs: list[_Leg]) -> None:
        for leg in legs:
            for _ in range(2):  # Asterisk reports the cancelled leg twice (see c-*.txt)
                self.emit(
                    dial_event(
                        "DialEnd",
                        caller.snapshot(),
                        leg.channel.snapshot(),
                        ("DialStatus", "CANCEL"),
                    )
                )
        for leg in legs:
            self._drop_leg(leg, 0)

    def _leave(self, queue: SimQueue, entry: QueueCaller, status: str | None) -> None:
        position = queue.position_of(entry.channel)
        if entry in queue.entries:
            queue.entries.remove(entry)
        self._chan_event(
            "QueueCallerLeave",
            "agent,all",
            entry.channel,
            ("Queue", queue.name),
            ("Position", str(position)),
            ("Count", str(len(queue.entries))),
        )
        self._notify_queue(queue)

    def _abandon(
        self, call: SimCall, queue: SimQueue, entry: QueueCaller, legs: list[_Leg]
    ) -> None:
        ch = call.channel
        soft = ch.hangup_request is not None and ch.hangup_request[1]
        if not soft:
            self._chan_event("HangupRequest", "call,all", ch)
        self._chan_event("MusicOnHoldStop", "call,all", ch)
        for leg in legs:
            for _ in range(2):
                self.emit(
                    dial_event(
                        "DialEnd",
                        ch.snapshot(),
                        leg.channel.snapshot(),
                        ("DialStatus", "CANCEL"),
                    )
                )
        now = self.clock.now()
        hold = whole_seconds(now - entry.joined_at)
        self._varset(ch, "QUEUEWAIT", str(hold))
        self._varset(ch, "QUEUEWAIT_MS", str(int((now - entry.joined_at) * 1000)))
        self._varset(ch, "DIALEDTIME", str(int(now - ch.created_at)))
        self._varset(ch, "DIALEDTIME_MS", str(int((now - ch.created_at) * 1000)))
        self._varset(ch, "ANSWEREDTIME", "0")
        self._varset(ch, "ANSWEREDTIME_MS", "0")
        self._varset(ch, "ABANDONED", "TRUE")
        self._queue_vars(ch, queue)
        queue.abandoned += 1
        self._chan_event(
            "QueueCallerAbandon",
            "agent,all",
            ch,
            ("Queue", queue.name),
            ("Position", str(queue.position_of(ch))),
            ("OriginalPosition", str(entry.original_position)),
            ("HoldTime", str(hold)),
        )
        self._queue_vars(ch, queue)
        position = queue.position_of(ch)
        self._leave(queue, entry, None)
        self._varset(ch, "QUEUEPOSITION", str(position))
        call.outcome = "abandoned"
        call.hangup_by = "caller"
        self._chan_event("SoftHangupRequest", "call,all", ch, ("Cause", "16"))
        for leg in legs:
            self._hangup(leg.channel, 0)
            if leg.peer is not None:
                self._hangup(leg.peer, 0)
        self._hangup(ch, 0)
        for leg in legs:
            self._release_leg(leg)
            self._member_status_event(leg.member.interface)
        self._notify_all_queues()

    async def _connect(self, call: SimCall, queue: SimQueue, entry: QueueCaller, leg: _Leg) -> None:
        ch = call.channel
        agent_ch = leg.channel
        member = leg.member
        agent = leg.agent
        # Timer-driven moments are reported as planned, not as the event loop woke up, so
        # HoldTime/RingTime/TalkTime do not depend on scheduling jitter.
        now = (
            min(leg.answer_at, self.clock.now()) if leg.answer_at is not None else self.clock.now()
        )
        call.answered_at = now
        call.answer_app = (ch.application, ch.app_data)
        if leg.peer is not None:
            self._newexten(leg.peer, 3, "Answer", "")
            self._set_state(leg.peer, ChannelState.UP)
        self._set_state(agent_ch, ChannelState.UP)
        self.emit(
            dial_event("DialEnd", ch.snapshot(), agent_ch.snapshot(), ("DialStatus", "ANSWER"))
        )
        self._chan_event("MusicOnHoldStop", "call,all", ch)
        member_vars = [
            ("MEMBERINTERFACE", member.interface),
            ("MEMBERNAME", member.name),
            ("MEMBERCALLS", str(member.calls_taken)),
            ("MEMBERLASTCALL", str(member.last_call)),
            ("MEMBERPENALTY", str(member.penalty)),
            ("MEMBERDYNAMIC", "1" if member.dynamic else "0"),
            ("MEMBERREALTIME", "0"),
        ]
        for target in (ch, agent_ch):
            for name, value in member_vars:
                self._varset(target, name, value)
        hold = whole_seconds(now - entry.joined_at)
        queue.holdtime = rolling_average(queue.holdtime, hold)
        for target in (ch, agent_ch):
            self._varset(target, "QEHOLDTIME", str(hold))
            self._varset(target, "QEORIGINALPOS", str(entry.original_position))
        self._queue_vars(ch, queue)
        self._queue_vars(agent_ch, queue)
        position = queue.position_of(ch)
        self._leave(queue, entry, None)
        self._varset(ch, "QUEUEPOSITION", str(position))
        self._varset(ch, "QUEUEWAIT", str(hold))
        self._varset(ch, "QUEUEWAIT_MS", str(int((now - entry.joined_at) * 1000)))
        ring = whole_seconds(now - leg.ring_started)
        self.emit(
            dial_event(
                "AgentConnect",
                ch.snapshot(),
                agent_ch.snapshot(),
                ("Queue", queue.name),
                ("Interface", member.interface),
                ("MemberName", member.name),
                ("HoldTime", str(hold)),
                ("RingTime", str(ring)),
                privilege="agent,all",
            )
        )
        if agent is not None:
            agent.in_call = True
            agent.calls_answered += 1
        self._release_leg(leg)
        member.in_call = True
        bridge = SimBridge(self._bridge_id())
        self.bridges[bridge.uniqueid] = bridge
        self.emit(bridge_event("BridgeCreate", bridge.snapshot()))
        if leg.peer is None:
            self._member_status_event(member.interface)  # a Local pair was INUSE already
        for target in (agent_ch, ch):
            bridge.channels.append(target)
            target.bridge_id = bridge.uniqueid
            self.mixmonitors.bridged(target)
            self.emit(bridge_event("BridgeEnter", bridge.snapshot(), target.snapshot()))
        self._varset(ch, "BRIDGEPEER", agent_ch.name)
        self._varset(agent_ch, "BRIDGEPEER", ch.name)
        if leg.peer is not None:
            talk = agent.talk_time if agent is not None else None
            self._newexten(leg.peer, 4, "Wait", f"{3600 if talk is None else talk:g}")
        call.outcome = "answered"
        call.agent_interface = member.interface
        call.agent_leg = agent_ch
        log.info("call %s: answered by %s", call.linkedid, member.interface)
        await self._talk(call, queue, entry, leg, bridge, now)

    async def _conversation(
        self,
        call: SimCall,
        agent_side: tuple[SimChannel, SimChannel | None],
        started: float,
        agent_talk: float | None,
    ) -> tuple[bool, bool, tuple[str, str, int] | None, float | None]:
        """Wait for the bridged call to end: (agent hung up, caller's hang-up came over AMI,
        where an AMI Redirect sent the caller, planned end when a timer ended it)."""
        ch = call.channel
        caller_end = started + call.talk_time
        agent_end = started + agent_talk if agent_talk is not None else None
        while True:
            now = self.clock.now()
            if ch.hangup_request is not None:
                return False, ch.hangup_request[1], None, None
            if ch.redirect_to is not None:
                # AMI Redirect of the bridged caller: a blind transfer out of the call
                transfer, ch.redirect_to = ch.redirect_to, None
                return False, False, transfer, None
            if any(c is not None and c.hangup_request is not None for c in agent_side):
                return True, False, None, None
            if agent_end is not None and now >= agent_end and agent_end <= caller_end:
                return True, False, None, agent_end
            if now >= caller_end:
                return False, False, None, caller_end
            ends = [caller_end] + ([agent_end] if agent_end is not None else [])
            await self._nap(ch, min(ends) - now)

    async def _talk(
        self,
        call: SimCall,
        queue: SimQueue,
        entry: QueueCaller,
        leg: _Leg,
        bridge: SimBridge,
        started: float,
    ) -> None:
        ch = call.channel
        agent_ch = leg.channel
        agent_talk = leg.agent.talk_time if leg.agent is not None else None
        by_agent, caller_soft, transfer, ended = await self._conversation(
            call, (agent_ch, leg.peer), started, agent_talk
        )
        hold = whole_seconds(started - entry.joined_at)
        talk = whole_seconds((ended if ended is not None else self.clock.now()) - started)
        member = leg.member
        member.in_call = False
        member.calls_taken += 1
        member.last_call = int(self.clock.now())
        queue.completed += 1
        queue.talktime = rolling_average(queue.talktime, talk)
        if leg.agent is not None:
            leg.agent.in_call = False
        complete = [
            ("Queue", queue.name),
            ("Interface", member.interface),
            ("MemberName", member.name),
            ("HoldTime", str(hold)),
            ("TalkTime", str(talk)),
            ("Reason", "transfer" if transfer else "agent" if by_agent else "caller"),
        ]
        if transfer is not None or by_agent:
            call.bridge_ended_at = ended if ended is not None else self.clock.now()
        if transfer is not None:
            call.outcome = "transferred"
            self._agent_complete(ch, agent_ch, complete)
            self._leave_bridge(bridge, ch)
            self._leave_bridge(bridge, agent_ch)
            self._destroy_bridge(bridge)
            self._chan_event("HangupRequest", "call,all", agent_ch)
            self._hangup(agent_ch, 16)
            if leg.peer is not None:
                self._hangup(leg.peer, 16)
            self._member_status_event(member.interface)
            self._after_bridge_vars(ch, queue, started)
            self._notify_all_queues()
            log.info("call %s: transferred to %s", call.linkedid, ",".join(map(str, transfer)))
            raise _Redirected(transfer)
        if by_agent:
            call.hangup_by = "agent"
            self._chan_event("HangupRequest", "call,all", agent_ch)
            self._agent_complete(ch, agent_ch, complete)
            self._leave_bridge(bridge, agent_ch)
            self._leave_bridge(bridge, ch)
            self._destroy_bridge(bridge)
            self._hangup(agent_ch, 16)
            if leg.peer is not None:
                self._hangup(leg.peer, 16)
            self._member_status_event(member.interface)
            self._after_bridge_vars(ch, queue, started)
            self._notify_all_queues()
            # Queue(...,c): the caller continues in the dialplan (on to the survey).
            self._varset(ch, "QUEUESTATUS", "CONTINUE")
            return
        call.hangup_by = "caller"
        if not caller_soft:
            self._chan_event("HangupRequest", "call,all", ch)
        if leg.peer is None:
            # PJSIP member, as in b-inbound-call-answered.txt
            self._agent_complete(ch, agent_ch, complete)
            self._leave_bridge(bridge, ch)
            self._after_bridge_vars(ch, queue, started)
            self._chan_event("SoftHangupRequest", "call,all", ch, ("Cause", "16"))
            self._leave_bridge(bridge, agent_ch)
            self._destroy_bridge(bridge)
            self._hangup(ch, 16)
            self._hangup(agent_ch, 16)
        else:
            # Local member, as in h-local-channel-agent.txt: the channel-less AgentComplete
            # comes after the hang-ups.
            peer = leg.peer
            self._leave_bridge(bridge, ch)
            self._queue_vars(ch, queue)
            self._answered_vars(ch, started)
            self._leave_bridge(bridge, agent_ch)
            self._dialed_vars(ch)
            self._queue_vars(ch, queue)
            self._chan_event("HangupRequest", "call,all", peer, ("Cause", "16"))
            self._hangup(agent_ch, 16)
            self._chan_event("SoftHangupRequest", "call,all", ch, ("Cause", "16"))
            self._hangup(ch, 16)
            self._chan_event("SoftHangupRequest", "call,all", peer, ("Cause", "16"))
            self.emit([("Event", "AgentComplete"), ("Privilege", "agent,all"), *complete])
            self._hangup(peer, 16)
            self._destroy_bridge(bridge)
        self._member_status_event(member.interface)
        self._notify_all_queues()

    def _agent_complete(
        self, ch: SimChannel, agent_ch: SimChannel, complete: list[tuple[str, str]]
    ) -> None:
        self.emit(
            dial_event(
                "AgentComplete",
                ch.snapshot(),
                agent_ch.snapshot(),
                *complete,
                privilege="agent,all",
            )
        )

    def _leave_bridge(self, bridge: SimBridge, chan: SimChannel) -> None:
        if chan in bridge.channels:
            bridge.channels.remove(chan)
            chan.bridge_id = ""
            self.mixmonitors.unbridged(chan)
            self._varset(chan, "BRIDGEPEER", "")
            self.emit(bridge_event("BridgeLeave", bridge.snapshot(), chan.snapshot()))

    def _destroy_bridge(self, bridge: SimBridge) -> None:
        if self.bridges.pop(bridge.uniqueid, None) is not None:
            self.emit(bridge_event("BridgeDestroy", bridge.snapshot()))

    def _after_bridge_vars(self, ch: SimChannel, queue: SimQueue, answered: float) -> None:
        # app_queue sets the QUEUE* block before and after ANSWEREDTIME/DIALEDTIME (b-*.txt)
        self._queue_vars(ch, queue)
        self._answered_vars(ch, answered)
        self._dialed_vars(ch)
        self._queue_vars(ch, queue)

    def _answered_vars(self, ch: SimChannel, answered: float) -> None:
        now = self.clock.now()
        self._varset(ch, "ANSWEREDTIME", str(int(now - answered)))
        self._varset(ch, "ANSWEREDTIME_MS", str(int((now - answered) * 1000)))

    def _dialed_vars(self, ch: SimChannel) -> None:
        now = self.clock.now()
        self._varset(ch, "DIALEDTIME", str(int(now - ch.created_at)))
        self._varset(ch, "DIALEDTIME_MS", str(int((now - ch.created_at) * 1000)))

    # ----------------------------------------------------------------- Dial()
    async def _dial_app(self, call: SimCall, priority: int, targets: str, timeout: str) -> None:
        """Dial(${HOTLINE_PREFERRED},${HOTLINE_PREFERRED_TIMEOUT},g): ring the customer's
        assigned engineers before the queue, as app_dial reports it on AMI.

        Sets DIALSTATUS. With option g the caller goes on in the dialplan when the engineer
        hangs up; a caller who hangs up ends the call here."""
        ch = call.channel
        self._newexten(ch, priority, "Dial", f"{targets},{timeout},g")
        seconds = int(timeout) if timeout.isdigit() and int(timeout) > 0 else None
        now = self.clock.now()
        if call.queued_at is None:
            call.queued_at = now  # waiting for an agent from here on (patience counts)
        legs: list[_DialLeg] = []
        statuses: list[str] = []
        for interface in filter(None, targets.split("&")):
            agent = self.agents.get(interface)
            if agent is None or interface.startswith("Local/"):
                # not registered here (the stand-in rings PJSIP phones only): no channel
                statuses.append("CHANUNAVAIL")
                continue
            leg = self._dial_out(ch, interface, agent, now)
            if agent.in_call or agent.ringing:  # no call waiting on the agents' phones
                self.emit(
                    dial_event(
                        "DialEnd", ch.snapshot(), leg.channel.snapshot(), ("DialStatus", "BUSY")
                    )
                )
                self._end_dial_leg(leg, 17)
                statuses.append("BUSY")
                continue
            self._ring_dial_leg(ch, leg)
            legs.append(leg)
        answered: _DialLeg | None = None
        ring_end = now + seconds if seconds is not None else None
        patience_end = call.queued_at + call.patience
        try:
            while legs:
                self._check(ch)
                now = self.clock.now()
                if now >= patience_end:
                    raise _HungUp(0, False)
                rejected = [leg for leg in legs if leg.channel.hangup_request is not None]
                for leg in rejected:
                    self.emit(
                        dial_event(
                            "DialEnd", ch.snapshot(), leg.channel.snapshot(), ("DialStatus", "BUSY")
                        )
                    )
                    self._end_dial_leg(leg, 21)
                    legs.remove(leg)
                    statuses.append("BUSY")
                if not legs:
                    break
                answers = [leg.answer_at for leg in legs if leg.answer_at is not None]
                first = min(answers, default=None)
                if first is not None and first <= now and (ring_end is None or first < ring_end):
                    answered = next(leg for leg in legs if leg.answer_at == first)
                    break
                if ring_end is not None and now >= ring_end:
                    for leg in legs:
                        self.emit(
                            dial_event(
                                "DialEnd",
                                ch.snapshot(),
                                leg.channel.snapshot(),
                                ("DialStatus", "NOANSWER"),
                            )
                        )
                        self._end_dial_leg(leg, 0)
                    legs = []
                    statuses.append("NOANSWER")
                    break
                wakes = [patience_end] + [x for x in (first, ring_end) if x is not None]
                await self._nap(ch, min(wakes) - now)
        except _Redirected:
            self._cancel_dial_legs(ch, legs)
            raise
        except _HungUp:
            # The caller gave up while the engineers' phones rang.
            soft = ch.hangup_request is not None and ch.hangup_request[1]
            if not soft:
                self._chan_event("HangupRequest", "call,all", ch)
            self._cancel_dial_legs(ch, legs)
            self._varset(ch, "DIALSTATUS", "CANCEL")
            call.outcome = "abandoned"
            call.hangup_by = "caller"
            raise
        if answered is None:
            status = (
                "NOANSWER"
                if "NOANSWER" in statuses
                else "BUSY"
                if "BUSY" in statuses
                else "CHANUNAVAIL"
            )
            self._varset(ch, "DIALSTATUS", status)
            log.info("call %s: preferred engineers %s: %s", call.linkedid, targets, status)
            return
        self._cancel_dial_legs(ch, [leg for leg in legs if leg is not answered], cause=26)
        await self._dial_talk(call, answered)

    def _cancel_dial_legs(self, caller: SimChannel, legs: list[_DialLeg], cause: int = 0) -> None:
        for leg in legs:
            self.emit(
                dial_event(
                    "DialEnd", caller.snapshot(), leg.channel.snapshot(), ("DialStatus", "CANCEL")
                )
            )
            self._end_dial_leg(leg, cause)

    def _dial_out(
        self, caller: SimChannel, interface: str, agent: SimAgent, now: float
    ) -> _DialLeg:
        tech, endpoint = interface.split("/", 1)
        chan = self._new_channel(
            self._pjsip_name(endpoint),
            tech=tech,
            state=ChannelState.DOWN,
            caller_num=caller.caller_num,
            caller_name=caller.caller_name,
            context="agents",
            exten=endpoint,
            linkedid=caller.linkedid,
        )
        chan.owner = caller
        self._chan_event("Newchannel", "call,all", chan)
        before = chan.snapshot()
        chan.connected_num, chan.connected_name = caller.caller_num, caller.caller_name
        self.emit(dial_event("DialBegin", caller.snapshot(), before, ("DialString", endpoint)))
        answer_at = None if agent.answer_after is None else now + agent.answer_after
        return _DialLeg(interface, agent, chan, now, answer_at)

    def _ring_dial_leg(self, caller: SimChannel, leg: _DialLeg) -> None:
        leg.ringing = True
        leg.agent.ringing += 1
        self._set_state(leg.channel, ChannelState.RINGING)
        self.emit(
            dial_event(
                "DialState", caller.snapshot(), leg.channel.snapshot(), ("DialStatus", "RINGING")
            )
        )
        self._member_status_event(leg.interface)
        self._notify_all_queues()

    def _end_dial_leg(self, leg: _DialLeg, cause: int) -> None:
        self._hangup(leg.channel, cause)
        if leg.ringing:
            leg.ringing = False
            leg.agent.ringing = max(leg.agent.ringing - 1, 0)
            self._member_status_event(leg.interface)
            self._notify_all_queues()

    async def _dial_talk(self, call: SimCall, leg: _DialLeg) -> None:
        ch = call.channel
        agent_ch = leg.channel
        agent = leg.agent
        started = (
            min(leg.answer_at, self.clock.now()) if leg.answer_at is not None else self.clock.now()
        )
        self._set_state(agent_ch, ChannelState.UP)
        self.emit(
            dial_event("DialEnd", ch.snapshot(), agent_ch.snapshot(), ("DialStatus", "ANSWER"))
        )
        self._varset(ch, "DIALSTATUS", "ANSWER")
        self._varset(ch, "DIALEDPEERNUMBER", agent_ch.name.split("/", 1)[1].rsplit("-", 1)[0])
        leg.ringing = False
        agent.ringing = max(agent.ringing - 1, 0)
        agent.in_call = True
        agent.calls_answered += 1
        call.answered_at = started
        call.answer_app = (ch.application, ch.app_data)
        call.outcome = "answered"
        call.agent_interface = leg.interface
        call.agent_leg = agent_ch
        bridge = SimBridge(self._bridge_id())
        self.bridges[bridge.uniqueid] = bridge
        self.emit(bridge_event("BridgeCreate", bridge.snapshot()))
        self._member_status_event(leg.interface)
        for target in (ch, agent_ch):
            bridge.channels.append(target)
            target.bridge_id = bridge.uniqueid
            self.mixmonitors.bridged(target)
            self.emit(bridge_event("BridgeEnter", bridge.snapshot(), target.snapshot()))
        self._varset(ch, "BRIDGEPEER", agent_ch.name)
        self._varset(agent_ch, "BRIDGEPEER", ch.name)
        log.info("call %s: answered by preferred engineer %s", call.linkedid, leg.interface)
        by_agent, caller_soft, transfer, ended = await self._conversation(
            call, (agent_ch, None), started, agent.talk_time
        )
        agent.in_call = False
        if transfer is not None or by_agent:
            call.bridge_ended_at = ended if ended is not None else self.clock.now()
            # The engineer's leg ends; the caller goes on (a transfer, or option g).
            self._chan_event("HangupRequest", "call,all", agent_ch)
            self._leave_bridge(bridge, agent_ch)
            self._leave_bridge(bridge, ch)
            self._destroy_bridge(bridge)
            self._hangup(agent_ch, 16)
            self._answered_vars(ch, started)
            self._dialed_vars(ch)
            self._member_status_event(leg.interface)
            self._notify_all_queues()
            if transfer is not None:
                call.outcome = "transferred"
                raise _Redirected(transfer)
            call.hangup_by = "agent"
            return
        call.hangup_by = "caller"
        if not caller_soft:
            self._chan_event("HangupRequest", "call,all", ch)
        self._leave_bridge(bridge, ch)
        self._answered_vars(ch, started)
        self._dialed_vars(ch)
        self._chan_event("SoftHangupRequest", "call,all", ch, ("Cause", "16"))
        self._leave_bridge(bridge, agent_ch)
        self._destroy_bridge(bridge)
        self._hangup(ch, 16)
        self._hangup(agent_ch, 16)
        self._member_status_event(leg.interface)
        self._notify_all_queues()

    # ----------------------------------------------------------------- AMI-driven control
    def request_hangup(self, name: str, cause: int = 16) -> None:
        chan = self.find_channel(name)
        self._chan_event("SoftHangupRequest", "call,all", chan, ("Cause", str(cause)))
        if chan.driven or chan.owner is not None:
            chan.hangup_request = (cause, True)
            chan.poke()
        else:
            self._hangup(chan, cause)

    def request_redirect(self, name: str, context: str, exten: str, priority: int) -> None:
        chan = self.find_channel(name)
        if not chan.driven:
            raise UnknownChannel(name)
        chan.redirect_to = (context, exten, priority)
        chan.poke()

    # ----------------------------------------------------------------- Originate
    def _originate_response(
        self,
        spec: OriginateSpec,
        ok: bool,
        reason: int,
        chan: SimChannel | None,
    ) -> None:
        headers: list[Header] = [("Event", "OriginateResponse"), ("Privilege", "call,all")]
        if spec.action_id is not None:
            headers.append(("ActionID", spec.action_id))
        headers += [
            ("Response", "Success" if ok else "Failure"),
            ("Channel", chan.name if chan is not None else spec.channel),
            ("Context", spec.context),
            ("Exten", spec.exten),
            ("Reason", str(reason)),
            ("Uniqueid", chan.uniqueid if chan is not None else "<unknown>"),
            ("CallerIDNum", (chan.caller_num if chan is not None else "") or "<unknown>"),
            ("CallerIDName", (chan.caller_name if chan is not None else "") or "<unknown>"),
        ]
        self.emit(headers)

    async def originate(
        self, spec: OriginateSpec, on_result: Callable[[bool], None], *, report: bool
    ) -> None:
        """Run an AMI Originate; `on_result(answered)` fires once the outcome is known."""
        tech, _, rest = spec.channel.partition("/")
        agent = self.agents.get(spec.channel)
        cid_num, cid_name = parse_caller_id(spec.caller_id)
        if agent is None and tech == "Local" and "@" in rest:
            exten, _, context = rest.partition("@")
            if (context, exten) in DIALPLAN_SNIPPETS:
                await self._originate_local(
                    spec, exten, context, cid_num, cid_name, on_result, report=report
                )
                return
            if context == "hotline-drill" and exten.startswith("9") and exten.isdigit():
                await self._originate_drill(spec, exten, cid_num, cid_name, on_result, report)
                return
        if agent is not None:
            await self._originate_agent(spec, agent, cid_num, cid_name, on_result, report=report)
            return
        log.info("originate to %s failed: no such endpoint or extension", spec.channel)
        if report:
            self._originate_response(spec, False, 0, None)
        on_result(False)

    async def _originate_local(
        self,
        spec: OriginateSpec,
        exten: str,
        context: str,
        cid_num: str,
        cid_name: str,
        on_result: Callable[[bool], None],
        *,
        report: bool,
    ) -> None:
        base = f"Local/{exten}@{context}-{self._local_seq:08x}"
        self._local_seq += 1
        one = self._new_channel(
            base + ";1",
            tech="Local",
            state=ChannelState.DOWN,
            caller_num="",
            caller_name="",
            context=context,
            exten=exten,
        )
        two = self._new_channel(
            base + ";2",
            tech="Local",
            state=ChannelState.RING,
            caller_num="",
            caller_name="",
            context=context,
            exten=exten,
            linkedid=one.linkedid,
        )
        one.peer, two.peer, two.owner = two, one, one
        one.driven = True
        self._chan_event("Newchannel", "call,all", one)
        self._chan_event("Newchannel", "call,all", two)
        self._newexten(one, 1, "AppDial2", "(Outgoing Line)")
        for target in (one, two):
            for name, value in spec.variables:
                self._varset(target, name, value)
            if cid_num or cid_name:
                target.caller_num, target.caller_name = cid_num, cid_name
                target.connected_num, target.connected_name = cid_num, cid_name
                self._chan_event(
                    "NewCallerid",
                    "call,all",
                    target,
                    ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)"),
                )
                self._chan_event("NewConnectedLine", "call,all", target)
        self.emit(
            [("Event", "LocalBridge"), ("Privilege", "call,all")]
            + channel_block(one.snapshot(), "LocalOne")
            + channel_block(two.snapshot(), "LocalTwo")
            + [("Context", context), ("Exten", exten), ("LocalOptimization", "Yes")]
        )
        self.emit(
            dial_event("DialBegin", None, one.snapshot(), ("DialString", f"{exten}@{context}"))
        )
        steps = DIALPLAN_SNIPPETS[(context, exten)]
        self._newexten(two, 1, steps[0][0], steps[0][1])
        self._set_state(two, ChannelState.UP)
        self._set_state(one, ChannelState.UP)
        self.emit(dial_event("DialEnd", None, one.snapshot(), ("DialStatus", "ANSWER")))
        if report:
            self._originate_response(spec, True, 4, one)
        on_result(True)
        if len(steps) > 1:
            self._newexten(two, 2, steps[1][0], steps[1][1])
        await self._drive(one, spec)

    async def _originate_drill(
        self,
        spec: OriginateSpec,
        exten: str,
        cid_num: str,
        cid_name: str,
        on_result: Callable[[bool], None],
        report: bool,
    ) -> None:
        """asterisk-conf's drill: `Local/<id>@hotline-drill` whose ;2 half waits in
        hotline-emergency (QUEUE_PRIO 0, DRILL_TIMEOUT s) like a caller; the originate
        succeeds once a member answers (the ;1 half then runs hotline-drill-hold)."""
        context = "hotline-drill"
        one, two = self._new_local_pair(
            f"Local/{exten}@{context}", cid_num, cid_name, context, exten
        )
        one.driven = two.driven = True
        self._chan_event("Newchannel", "call,all", one)
        self._chan_event("Newchannel", "call,all", two)
        for target in (one, two):  # Local copies the originate's variables to both halves
            for name, value in spec.variables:
                self._varset(target, name, value)
        variables = dict(spec.variables)
        try:
            timeout = float(variables.get("DRILL_TIMEOUT") or 30)
        except ValueError:
            timeout = 30.0
        self._newexten(two, 1, "NoOp", f"emergency-pool drill {exten}")
        self._newexten(two, 2, "Set", "QUEUE_PRIO=0")
        self._varset(two, "QUEUE_PRIO", "0")
        loop = asyncio.get_running_loop()
        drill = SimCall(
            linkedid=two.linkedid,
            caller_number=cid_num,
            caller_name=cid_name,
            channel=two,
            script=CallerScript(),
            survey_script=CallerScript(),
            patience=3600.0,
            talk_time=3.0,  # the hold half beeps and hangs up
            finished=loop.create_future(),
        )
        answered = False
        try:
            queueing = asyncio.ensure_future(self._queue_app(drill, 3, "hotline-emergency"))
            deadline = self.clock.now() + timeout
            while not queueing.done() and drill.answered_at is None:
                left = deadline - self.clock.now()
                if left <= 0:
                    two.hangup_request = (19, False)  # Queue's timeout: no answer
                    two.poke()
                    break
                await asyncio.wait({queueing}, timeout=self.clock.real_seconds(min(left, 0.5)))
            answered = drill.answered_at is not None
            if answered:
                self._set_state(one, ChannelState.UP)
                if report:
                    self._originate_response(spec, True, 4, one)
                on_result(True)
                self._newexten(one, 1, "Answer", "")
                self._newexten(one, 2, "Playback", "beep")
            try:
                await queueing
            except (_HungUp, _Redirected):
                pass
        finally:
            for chan in (two, one):
                if not chan.gone:
                    self._hangup(chan, 16 if answered else 19)
        if not answered:
            if report:
                self._originate_response(spec, False, 3, None)
            on_result(False)

    async def _originate_agent(
        self,
        spec: OriginateSpec,
        agent: SimAgent,
        cid_num: str,
        cid_name: str,
        on_result: Callable[[bool], None],
        *,
        report: bool,
    ) -> None:
        tech, _, endpoint = spec.channel.partition("/")
        if agent.in_call or agent.ringing:
            if report:
                self._originate_response(spec, False, 5, None)
            on_result(False)
            return
        peer: SimChannel | None = None
        if tech == "Local":
            # e.g. a drill to an emergency pool member: Local/13800138000@emergency-out
            exten, _, context = endpoint.partition("@")
            chan, peer = self._new_local_pair(spec.channel, cid_num, cid_name, context, exten)
            dial_string = endpoint
        else:
            chan = self._new_channel(
                self._pjsip_name(endpoint),
                tech=tech,
                state=ChannelState.DOWN,
                caller_num=cid_num,
                caller_name=cid_name,
                context=spec.context or "default",
                exten=spec.exten or "s",
            )
            dial_string = endpoint
        chan.driven = True
        self._chan_event("Newchannel", "call,all", chan)
        if peer is not None:
            self._chan_event("Newchannel", "call,all", peer)
        for name, value in spec.variables:
            self._varset(chan, name, value)
        self.emit(dial_event("DialBegin", None, chan.snapshot(), ("DialString", dial_string)))
        agent.ringing += 1
        self._set_state(chan, ChannelState.RINGING)
        self._member_status_event(agent.interface)
        answers = agent.answer_after is not None and agent.answer_after <= spec.timeout
        try:
            await self._pause(
                chan, agent.answer_after if answers and agent.answer_after else spec.timeout
            )
        except (_HungUp, _Redirected):
            answers = False
        agent.ringing -= 1
        if not answers:
            self.emit(dial_event("DialEnd", None, chan.snapshot(), ("DialStatus", "NOANSWER")))
            self._hangup(chan, 19)
            if peer is not None:
                self._hangup(peer, 19)
            self._member_status_event(agent.interface)
            if report:
                self._originate_response(spec, False, 3, None)
            on_result(False)
            return
        agent.in_call = True
        if peer is not None:
            self._set_state(peer, ChannelState.UP)
        self._set_state(chan, ChannelState.UP)
        self.emit(dial_event("DialEnd", None, chan.snapshot(), ("DialStatus", "ANSWER")))
        self._member_status_event(agent.interface)
        if report:
            self._originate_response(spec, True, 4, chan)
        on_result(True)
        try:
            await self._drive(chan, spec, talk_time=agent.talk_time)
        finally:
            agent.in_call = False
            self._member_status_event(agent.interface)
            self._notify_all_queues()

    async def _drive(
        self, chan: SimChannel, spec: OriginateSpec, talk_time: float | None = None
    ) -> None:
        """Run the answered originated channel: the Application, or Context/Exten."""
        if spec.application:
            steps: tuple[tuple[str, str], ...] = ((spec.application, spec.data),)
            location = (chan.context, chan.exten, 1)
        else:
            location = (spec.context, spec.exten, spec.priority)
            steps = DIALPLAN_SNIPPETS.get((spec.context, spec.exten), ())
        cause = 16
        try:
            while True:
                try:
                    await self._run_steps(chan, steps, location, talk_time)
                    break
                except _Redirected as jump:
                    location = jump.target
                    chan.context, chan.exten, chan.priority = location
                    steps = DIALPLAN_SNIPPETS.get((location[0], location[1]), ())
        except _HungUp as hung:
            cause = hung.cause
        peer = chan.peer
        if peer is not None and not peer.gone:
            self._chan_event("HangupRequest", "call,all", peer, ("Cause", str(cause)))
            self._hangup(chan, cause)
            self._chan_event("SoftHangupRequest", "call,all", peer, ("Cause", str(cause)))
            self._hangup(peer, cause)
        else:
            self._hangup(chan, cause)

    async def _run_steps(
        self,
        chan: SimChannel,
        steps: tuple[tuple[str, str], ...],
        location: tuple[str, str, int],
        talk_time: float | None,
    ) -> None:
        first = max(location[2], 1)
        for priority, (app, data) in enumerate(steps, start=1):
            if priority < first:
                continue
            self._check(chan)
            shown = data.replace("${CHANNEL}", chan.name)
            self._newexten(chan, priority, app, shown)
            if app == "Answer" and chan.state != ChannelState.UP:
                self._set_state(chan, ChannelState.UP)
            elif app == "Wait":
                try:
                    seconds = float(data or "0")
                except ValueError:
                    seconds = 0.0
                await self._pause(chan, seconds if talk_time is None else min(seconds, talk_time))
            elif app in ("Echo", "MusicOnHold", "Playback"):
                await self._pause(chan, talk_time if talk_time is not None else 3600.0)
            elif app == "UserEvent":
                name, *fields = shown.split(",")
                headers: list[Header] = [("Event", "UserEvent"), ("Privilege", "user,all")]
                headers += channel_block(chan.snapshot())
                headers.append(("UserEvent", name))
                for item in fields:
                    key, sep, value = item.partition(":")
                    if sep:
                        headers.append((key.strip(), value.strip()))
                self.emit(headers)
            elif app == "Hangup":
                return

    def queue_entries(self, queue_name: str) -> list[QueueCaller]:
        queue = self.queues.get(queue_name)
        return list(queue.entries) if queue is not None else []

    def find_call(self, linkedid: str) -> SimCall | None:
        return next((c for c in self.calls if c.linkedid == linkedid), None)

    def uptime(self) -> int:
        return int(self.clock.now() - self.started_at)
