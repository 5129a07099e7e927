"""Typed AMI events for what the hotline follows (DESIGN.md "Protocol facts").

`typed_event(message)` returns the typed object for a known event name and an
`UnknownEvent` (carrying the untouched message) for anything else, so a new Asterisk
event never breaks the loop. Field names follow Asterisk's headers in snake_case.
Numeric fields are parsed leniently: a malformed number becomes 0, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

from ami.protocol import AmiMessage


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


@dataclass(frozen=True, slots=True)
class AmiEvent:
    """Base of typed events. `message` is the full original message."""

    message: AmiMessage
    name: ClassVar[str] = ""
    _map: ClassVar[tuple[tuple[str, str, bool], ...]] = ()

    @classmethod
    def from_message(cls: type[_E], message: AmiMessage) -> _E:
        make = _CONSTRUCTORS.get(cls)
        if make is None:
            make = _CONSTRUCTORS[cls] = _compile(cls)
        return make(message)  # type: ignore[no-any-return]


def _compile(cls: type[AmiEvent]) -> Callable[[AmiMessage], Any]:
    """A straight-line constructor per event class: the ingest hot path (see bench/)."""
    args = ", ".join(
        f"_int(get({header!r}, ''))" if numeric else f"get({header!r}, '')"
        for _attr, header, numeric in cls._map
    )
    namespace: dict[str, Any] = {"cls": cls, "_int": _int}
    exec(  # noqa: S102 - source built from the class's own constant field map
        f"def make(message):\n    get = message.fields.get\n    return cls(message, {args})\n",
        namespace,
    )
    return namespace["make"]  # type: ignore[no-any-return]


_CONSTRUCTORS: dict[type[AmiEvent], Callable[[AmiMessage], Any]] = {}


_E = TypeVar("_E", bound=AmiEvent)


@dataclass(frozen=True, slots=True)
class UnknownEvent(AmiEvent):
    event_name: str = ""

    @classmethod
    def from_message(cls, message: AmiMessage) -> UnknownEvent:
        return cls(message, message.event)


@dataclass(frozen=True, slots=True)
class ChannelEvent(AmiEvent):
    """Fields every channel event carries (Channel snapshot)."""

    channel: str = ""
    channel_state: int = 0
    caller_id_num: str = ""
    caller_id_name: str = ""
    context: str = ""
    exten: str = ""
    uniqueid: str = ""
    linkedid: str = ""


_CHANNEL = (
    ("channel", "Channel", False),
    ("channel_state", "ChannelState", True),
    ("caller_id_num", "CallerIDNum", False),
    ("caller_id_name", "CallerIDName", False),
    ("context", "Context", False),
    ("exten", "Exten", False),
    ("uniqueid", "Uniqueid", False),
    ("linkedid", "Linkedid", False),
)


@dataclass(frozen=True, slots=True)
class Newchannel(ChannelEvent):
    name = "Newchannel"
    _map = _CHANNEL


@dataclass(frozen=True, slots=True)
class Newstate(ChannelEvent):
    name = "Newstate"
    _map = _CHANNEL


@dataclass(frozen=True, slots=True)
class Newexten(ChannelEvent):
    application: str = ""
    app_data: str = ""
    name = "Newexten"
    _map = _CHANNEL + (("application", "Application", False), ("app_data", "AppData", False))


@dataclass(frozen=True, slots=True)
class VarSet(ChannelEvent):
    variable: str = ""
    value: str = ""
    name = "VarSet"
    _map = _CHANNEL + (("variable", "Variable", False), ("value", "Value", False))


@dataclass(frozen=True, slots=True)
class MixMonitorStart(ChannelEvent):
    """app_mixmonitor started recording the channel: the channel snapshot only (the file
    name is in the `MIXMONITOR_FILENAME` VarSet just before it)."""

    name = "MixMonitorStart"
    _map = _CHANNEL


@dataclass(frozen=True, slots=True)
class Hangup(ChannelEvent):
    cause: int = 0
    cause_txt: str = ""
    name = "Hangup"
    _map = _CHANNEL + (("cause", "Cause", True), ("cause_txt", "Cause-txt", False))


@dataclass(frozen=True, slots=True)
class DTMFEnd(ChannelEvent):
    digit: str = ""
    duration_ms: int = 0
    direction: str = ""
    name = "DTMFEnd"
    _map = _CHANNEL + (
        ("digit", "Digit", False),
        ("duration_ms", "DurationMs", True),
        ("direction", "Direction", False),
    )


@dataclass(frozen=True, slots=True)
class DTMFBegin(ChannelEvent):
    digit: str = ""
    direction: str = ""
    name = "DTMFBegin"
    _map = _CHANNEL + (("digit", "Digit", False), ("direction", "Direction", False))


@dataclass(frozen=True, slots=True)
class BridgeEnter(ChannelEvent):
    bridge_uniqueid: str = ""
    name = "BridgeEnter"
    _map = _CHANNEL + (("bridge_uniqueid", "BridgeUniqueid", False),)


@dataclass(frozen=True, slots=True)
class BridgeLeave(ChannelEvent):
    bridge_uniqueid: str = ""
    name = "BridgeLeave"
    _map = _CHANNEL + (("bridge_uniqueid", "BridgeUniqueid", False),)


_DEST = (
    ("dest_channel", "DestChannel", False),
    ("dest_uniqueid", "DestUniqueid", False),
    ("dest_linkedid", "DestLinkedid", False),
)


@dataclass(frozen=True, slots=True)
class DialBegin(ChannelEvent):
    dest_channel: str = ""
    dest_uniqueid: str = ""
    dest_linkedid: str = ""
    dial_string: str = ""
    name = "DialBegin"
    _map = _CHANNEL + _DEST + (("dial_string", "DialString", False),)


@dataclass(frozen=True, slots=True)
class DialEnd(ChannelEvent):
    dest_channel: str = ""
    dest_uniqueid: str = ""
    dest_linkedid: str = ""
    dial_status: str = ""
    name = "DialEnd"
    _map = _CHANNEL + _DEST + (("dial_status", "DialStatus", False),)


@dataclass(frozen=True, slots=True)
class QueueCallerJoin(ChannelEvent):
    queue: str = ""
    position: int = 0
    count: int = 0
    name = "QueueCallerJoin"
    _map = _CHANNEL + (
        ("queue", "Queue", False),
        ("position", "Position", True),
        ("count", "Count", True),
    )


@dataclass(frozen=True, slots=True)
class QueueCallerLeave(ChannelEvent):
    queue: str = ""
    position: int = 0
    count: int = 0
    name = "QueueCallerLeave"
    _map = QueueCallerJoin._map


@dataclass(frozen=True, slots=True)
class QueueCallerAbandon(ChannelEvent):
    queue: str = ""
    position: int = 0
    original_position: int = 0
    hold_time: int = 0
    name = "QueueCallerAbandon"
    _map = _CHANNEL + (
        ("queue", "Queue", False),
        ("position", "Position", True),
        ("original_position", "OriginalPosition", True),
        ("hold_time", "HoldTime", True),
    )


_MEMBER = (
    ("queue", "Queue", False),
    ("interface", "Interface", False),
    ("member_name", "MemberName", False),
)


@dataclass(frozen=True, slots=True)
class AgentCalled(ChannelEvent):
    dest_channel: str = ""
    dest_uniqueid: str = ""
    dest_linkedid: str = ""
    queue: str = ""
    interface: str = ""
    member_name: str = ""
    name = "AgentCalled"
    _map = _CHANNEL + _DEST + _MEMBER


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer(ChannelEvent):
    dest_channel: str = ""
    dest_uniqueid: str = ""
    dest_linkedid: str = ""
    queue: str = ""
    interface: str = ""
    member_name: str = ""
    ring_time_ms: int = 0  # milliseconds here (seconds in AgentConnect)
    name = "AgentRingNoAnswer"
    _map = _CHANNEL + _DEST + _MEMBER + (("ring_time_ms", "RingTime", True),)


@dataclass(frozen=True, slots=True)
class AgentConnect(ChannelEvent):
    dest_channel: str = ""
    dest_uniqueid: str = ""
    dest_linkedid: str = ""
    queue: str = ""
    interface: str = ""
    member_name: str = ""
    hold_time: int = 0
    ring_time_s: int = 0
    name = "AgentConnect"
    _map = (
        _CHANNEL
        + _DEST
        + _MEMBER
        + (("hold_time", "HoldTime", True), ("ring_time_s", "RingTime", True))
    )


@dataclass(frozen=True, slots=True)
class AgentComplete(ChannelEvent):
    """May arrive with no channel fields at all (after the Hangups, Local members)."""

    dest_channel: str = ""
    dest_uniqueid: str = ""
    dest_linkedid: str = ""
    queue: str = ""
    interface: str = ""
    member_name: str = ""
    hold_time: int = 0
    talk_time: int = 0
    reason: str = ""
    name = "AgentComplete"
    _map = (
        _CHANNEL
        + _DEST
        + _MEMBER
        + (
            ("hold_time", "HoldTime", True),
            ("talk_time", "TalkTime", True),
            ("reason", "Reason", False),
        )
    )


@dataclass(frozen=True, slots=True)
class BlindTransfer(AmiEvent):
    transferer_linkedid: str = ""
    result: str = ""
    name = "BlindTransfer"
    _map = (
        ("transferer_linkedid", "TransfererLinkedid", False),
        ("result", "Result", False),
    )


@dataclass(frozen=True, slots=True)
class AttendedTransfer(AmiEvent):
    orig_transferer_linkedid: str = ""
    result: str = ""
    name = "AttendedTransfer"
    _map = (
        ("orig_transferer_linkedid", "OrigTransfererLinkedid", False),
        ("result", "Result", False),
    )


@dataclass(frozen=True, slots=True)
class QueueMemberEvent(AmiEvent):
    """QueueMemberAdded/Removed/Pause/Status (field names differ from QueueStatus')."""

    queue: str = ""
    interface: str = ""
    member_name: str = ""
    paused: bool = False
    in_call: bool = False
    status: int = 0
    event_name: str = ""

    @classmethod
    def from_message(cls, message: AmiMessage) -> QueueMemberEvent:
        get = message.get
        return cls(
            message,
            get("Queue"),
            get("Interface"),
            get("MemberName"),
            get("Paused") == "1",
            get("InCall") == "1",
            _int(get("Status")),
            message.event,
        )


@dataclass(frozen=True, slots=True)
class OriginateResponse(AmiEvent):
    action_id: str = ""
    response: str = ""
    channel: str = ""
    reason: int = 0
    uniqueid: str = ""
    name = "OriginateResponse"
    _map = (
        ("action_id", "ActionID", False),
        ("response", "Response", False),
        ("channel", "Channel", False),
        ("reason", "Reason", True),
        ("uniqueid", "Uniqueid", False),
    )


@dataclass(frozen=True, slots=True)
class UserEvent(AmiEvent):
    user_event: str = ""
    name = "UserEvent"
    _map = (("user_event", "UserEvent", False),)


@dataclass(frozen=True, slots=True)
class FullyBooted(AmiEvent):
    status: str = ""
    name = "FullyBooted"
    _map = (("status", "Status", False),)


_QUEUE_MEMBER_EVENTS = (
    "QueueMemberAdded",
    "QueueMemberRemoved",
    "QueueMemberPause",
    "QueueMemberStatus",
    "QueueMemberPenalty",
    "QueueMemberRinginuse",
)

EVENT_TYPES: dict[str, type[AmiEvent]] = {
    cls.name: cls
    for cls in (
        Newchannel,
        Newstate,
        Newexten,
        VarSet,
        MixMonitorStart,
        Hangup,
        DTMFBegin,
        DTMFEnd,
        BridgeEnter,
        BridgeLeave,
        DialBegin,
        DialEnd,
        QueueCallerJoin,
        QueueCallerLeave,
        QueueCallerAbandon,
        AgentCalled,
        AgentRingNoAnswer,
        AgentConnect,
        AgentComplete,
        BlindTransfer,
        AttendedTransfer,
        OriginateResponse,
        UserEvent,
        FullyBooted,
    )
}
EVENT_TYPES.update({name: QueueMemberEvent for name in _QUEUE_MEMBER_EVENTS})


def typed_event(message: AmiMessage) -> AmiEvent:
    cls = EVENT_TYPES.get(message.event)
    if cls is None:
        return UnknownEvent.from_message(message)
    return cls.from_message(message)


def field_names(cls: type[AmiEvent]) -> list[str]:
    return [f.name for f in fields(cls)]
