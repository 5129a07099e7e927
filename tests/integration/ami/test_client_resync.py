"""The client's resync against events that arrive while the channel list is on its way."""

from __future__ import annotations

import asyncio

from ami.client import AmiClient
from ami.protocol import AmiMessage
from ami.tracker import CallTracker
from calls import CallEnded, DomainCallEvent

from .conftest import ScriptedAmiPeer

CALL_ID = "1796535944.41"


class CallStartsDuringTheListPeer(ScriptedAmiPeer):
    """Answers CoreShowChannels with an empty list, but a caller's Newchannel comes in
    between the list's start and its end (the list was taken before the channel existed)."""

    async def _answer(self, writer: asyncio.StreamWriter, msg: AmiMessage) -> None:
        if msg.get("Action") != "CoreShowChannels":
            await super()._answer(writer, msg)
            return
        aid = msg.action_id
        writer.write(
            f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\n"
            "Message: Channels will follow\r\n\r\n"
            "Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-00000029\r\n"
            "ChannelState: 0\r\nChannelStateDesc: Down\r\nCallerIDNum: 03767320200\r\n"
            "Context: hotline-in\r\nExten: 4000\r\nPriority: 1\r\n"
            f"Uniqueid: {CALL_ID}\r\nLinkedid: {CALL_ID}\r\n\r\n"
            f"Event: CoreShowChannelsComplete\r\nActionID: {aid}\r\nEventList: Complete\r\n"
            "ListItems: 0\r\n\r\n".encode()
        )
        await writer.drain()


async def test_a_call_that_starts_during_the_resync_is_not_closed() -> None:
    peer = CallStartsDuringTheListPeer()
    await peer.start()
    tracker = CallTracker()
    events: list[DomainCallEvent] = []
    tracker.subscribe(events.append)
    client = AmiClient(port=peer.port, username="hotline", secret="hotline-secret", tracker=tracker)
    client.start()
    try:
        await client.wait_connected(10)
        assert CALL_ID in tracker.calls
        assert [e for e in events if isinstance(e, CallEnded)] == []
    finally:
        await client.stop()
        await peer.stop()
