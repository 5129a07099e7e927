"""Header blocks of Asterisk 22 AMI events, in Asterisk's field order.

Every function returns a list of `(key, value)` pairs; the order is the wire order seen in
the real recordings (`/work/shared/asterisk-transcripts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

Header = tuple[str, str]

UNKNOWN = "<unknown>"


class ChannelState(IntEnum):
    DOWN = 0
    RING = 4
    RINGING = 5
    UP = 6

    @property
    def desc(self) -> str:
        return {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}[int(self)]


class DeviceStatus(IntEnum):
    """Queue member `Status`: the Asterisk device state number."""

    NOT_INUSE = 1
    INUSE = 2
    UNAVAILABLE = 5
    RINGING = 6


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    name: str
    state: ChannelState
    caller_num: str
    caller_name: str
    connected_num: str
    connected_name: str
    context: str
    exten: str
    priority: int
    uniqueid: str
    linkedid: str
    language: str = "en"
    account_code: str = ""


def _or_unknown(value: str) -> str:
    return value if value else UNKNOWN


def channel_block(snap: ChannelSnapshot, prefix: str = "") -> list[Header]:
    p = prefix
    return [
        (f"{p}Channel", snap.name),
        (f"{p}ChannelState", str(int(snap.state))),
        (f"{p}ChannelStateDesc", snap.state.desc),
        (f"{p}CallerIDNum", _or_unknown(snap.caller_num)),
        (f"{p}CallerIDName", _or_unknown(snap.caller_name)),
        (f"{p}ConnectedLineNum", _or_unknown(snap.connected_num)),
        (f"{p}ConnectedLineName", _or_unknown(snap.connected_name)),
        (f"{p}Language", snap.language),
        (f"{p}AccountCode", snap.account_code),
        (f"{p}Context", snap.context),
        (f"{p}Exten", snap.exten),
        (f"{p}Priority", str(snap.priority)),
        (f"{p}Uniqueid", snap.uniqueid),
        (f"{p}Linkedid", snap.linkedid),
    ]


def channel_event(
    event: str, privilege: str, snap: ChannelSnapshot, *extra: Header
) -> list[Header]:
    return [("Event", event), ("Privilege", privilege), *channel_block(snap), *extra]


def dial_event(
    event: str,
    caller: ChannelSnapshot | None,
    dest: ChannelSnapshot,
    *extra: Header,
    privilege: str = "call,all",
) -> list[Header]:
    headers: list[Header] = [("Event", event), ("Privilege", privilege)]
    if caller is not None:
        headers += channel_block(caller)
    headers += channel_block(dest, "Dest")
    headers += extra
    return headers


@dataclass(frozen=True, slots=True)
class MemberSnapshot:
    queue: str
    name: str
    interface: str
    state_interface: str
    penalty: int
    calls_taken: int
    last_call: int
    last_pause: int
    login_time: int
    in_call: bool
    status: DeviceStatus
    paused: bool
    paused_reason: str
    dynamic: bool = True
    wrapup_time: int = 0


def member_event(event: str, m: MemberSnapshot) -> list[Header]:
    """QueueMemberAdded / Removed / Pause / Status (names `MemberName`, `Interface`)."""
    return [
        ("Event", event),
        ("Privilege", "agent,all"),
        ("Queue", m.queue),
        ("MemberName", m.name),
        ("Interface", m.interface),
        ("StateInterface", m.state_interface),
        ("Membership", "dynamic" if m.dynamic else "static"),
        ("Penalty", str(m.penalty)),
        ("CallsTaken", str(m.calls_taken)),
        ("LastCall", str(m.last_call)),
        ("LastPause", str(m.last_pause)),
        ("LoginTime", str(m.login_time)),
        ("InCall", "1" if m.in_call else "0"),
        ("Status", str(int(m.status))),
        ("Paused", "1" if m.paused else "0"),
        ("PausedReason", m.paused_reason),
        ("Ringinuse", "0"),
        ("Wrapuptime", str(m.wrapup_time)),
    ]


def queue_member_item(m: MemberSnapshot, action_id: str | None) -> list[Header]:
    """QueueStatus list item (names `Name`, `Location`; ActionID last)."""
    headers: list[Header] = [
        ("Event", "QueueMember"),
        ("Queue", m.queue),
        ("Name", m.name),
        ("Location", m.interface),
        ("StateInterface", m.state_interface),
        ("Membership", "dynamic" if m.dynamic else "static"),
        ("Penalty", str(m.penalty)),
        ("CallsTaken", str(m.calls_taken)),
        ("LastCall", str(m.last_call)),
        ("LastPause", str(m.last_pause)),
        ("LoginTime", str(m.login_time)),
        ("InCall", "1" if m.in_call else "0"),
        ("Status", str(int(m.status))),
        ("Paused", "1" if m.paused else "0"),
        ("PausedReason", m.paused_reason),
        ("Wrapuptime", str(m.wrapup_time)),
    ]
    return with_action_id(headers, action_id)


@dataclass(frozen=True, slots=True)
class BridgeSnapshot:
    uniqueid: str
    technology: str
    num_channels: int


def bridge_block(b: BridgeSnapshot) -> list[Header]:
    return [
        ("BridgeUniqueid", b.uniqueid),
        ("BridgeType", "basic"),
        ("BridgeTechnology", b.technology),
        ("BridgeCreator", UNKNOWN),
        ("BridgeName", UNKNOWN),
        ("BridgeNumChannels", str(b.num_channels)),
        ("BridgeVideoSourceMode", "none"),
    ]


def bridge_event(
    event: str, b: BridgeSnapshot, chan: ChannelSnapshot | None = None
) -> list[Header]:
    headers: list[Header] = [("Event", event), ("Privilege", "call,all"), *bridge_block(b)]
    if chan is not None:
        headers += channel_block(chan)
    return headers


def with_action_id(headers: list[Header], action_id: str | None) -> list[Header]:
    return headers + [("ActionID", action_id)] if action_id is not None else headers


def response(
    status: str, action_id: str | None, *extra: Header, message: str | None = None
) -> list[Header]:
    """`Response:` then `ActionID:` (when the action had one), as Asterisk orders it."""
    headers: list[Header] = [("Response", status)]
    if action_id is not None:
        headers.append(("ActionID", action_id))
    if message is not None:
        headers.append(("Message", message))
    headers += extra
    return headers


def list_start(action_id: str | None, message: str) -> list[Header]:
    headers: list[Header] = [("Response", "Success")]
    if action_id is not None:
        headers.append(("ActionID", action_id))
    headers += [("EventList", "start"), ("Message", message)]
    return headers


def list_complete(event: str, action_id: str | None, count: int, *extra: Header) -> list[Header]:
    headers: list[Header] = [("Event", event)]
    if action_id is not None:
        headers.append(("ActionID", action_id))
    headers += [("EventList", "Complete"), ("ListItems", str(count)), *extra]
    return headers
