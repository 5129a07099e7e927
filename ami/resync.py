"""What the PBX's list of live channels says after a reconnect (CoreShowChannels).

Nothing is replayed after a reconnect: a call that progressed meanwhile shows only in
that list. `ResyncChannel` is one entry; `live_calls` groups them by call (``Linkedid``)
and a `LiveCall` reads one call's channels: the caller channel, the queue its ``Queue``
application runs, and the channel bridged with it (``AppQueue`` for a queue member,
``AppDial`` for a preferred engineer the dialplan dialled). `CallTracker.resync` applies
what they say to the calls it knows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ami.protocol import AmiMessage


@dataclass(frozen=True, slots=True)
class ResyncChannel:
    """One channel as CoreShowChannels reports it after a reconnect."""

    channel: str
    uniqueid: str
    linkedid: str
    caller_number: str
    caller_name: str
    context: str
    application: str
    application_data: str
    bridge_id: str
    duration_seconds: int = 0

    @classmethod
    def from_message(cls, message: AmiMessage) -> ResyncChannel:
        get = message.get
        duration = 0
        try:
            h, m, s = (int(x) for x in get("Duration", "0:0:0").split(":"))
            duration = h * 3600 + m * 60 + s
        except ValueError:
            duration = 0
        return cls(
            channel=get("Channel"),
            uniqueid=get("Uniqueid"),
            linkedid=get("Linkedid"),
            caller_number=get("CallerIDNum"),
            caller_name=get("CallerIDName"),
            context=get("Context"),
            application=get("Application"),
            application_data=get("ApplicationData"),
            bridge_id=get("BridgeId"),
            duration_seconds=duration,
        )


@dataclass(frozen=True, slots=True)
class LiveCall:
    """One call's live channels, in the order the PBX listed them."""

    call_id: str
    channels: tuple[ResyncChannel, ...]

    @property
    def root(self) -> ResyncChannel | None:
        """The caller channel: the one whose Uniqueid is the call's Linkedid."""
        return next((ch for ch in self.channels if ch.uniqueid == self.call_id), None)

    def bridged_with(self, root: ResyncChannel, application: str) -> ResyncChannel | None:
        """The channel running `application` in the bridge of the caller channel `root`."""
        return next(
            (
                ch
                for ch in self.channels
                if ch.application == application and ch.bridge_id == root.bridge_id
            ),
            None,
        )


def queue_of(root: ResyncChannel) -> str | None:
    """The queue the caller channel's ``Queue`` application runs (its first argument)."""
    return root.application_data.split(",", 1)[0] or None


def live_calls(channels: Iterable[ResyncChannel]) -> dict[str, LiveCall]:
    """The channels grouped by call, calls in the order of their first channel; channels
    without a Linkedid are left out."""
    by_call: dict[str, list[ResyncChannel]] = {}
    for ch in channels:
        if ch.linkedid:
            by_call.setdefault(ch.linkedid, []).append(ch)
    return {call_id: LiveCall(call_id, tuple(chs)) for call_id, chs in by_call.items()}
