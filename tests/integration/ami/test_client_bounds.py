"""The AMI client stays bounded and quick to notice a dead link: capped event lists, no
wait for an action's timeout when the socket closes, and the watchdog's rule."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from ami.client import AmiClient, LinkState, LinkVerdict, link_verdict
from ami.protocol import AmiMessage

from .conftest import ScriptedAmiPeer


@pytest.mark.parametrize(
    ("silence", "verdict"),
    [
        (0.0, LinkVerdict.ALIVE),
        (4.99, LinkVerdict.ALIVE),
        (5.0, LinkVerdict.PING),
        (9.99, LinkVerdict.PING),
        (10.0, LinkVerdict.DEAD),
        (60.0, LinkVerdict.DEAD),
    ],
)
def test_watchdog_rule(silence: float, verdict: LinkVerdict) -> None:
    assert link_verdict(silence, 10.0) is verdict


class EndlessListPeer(ScriptedAmiPeer):
    """Answers CoreShowChannels with a list that never completes (the first time)."""

    def __init__(self, events: int) -> None:
        super().__init__()
        self.events = events
        self.lists = 0

    async def _answer(self, writer: asyncio.StreamWriter, msg: AmiMessage) -> None:
        if msg.get("Action") != "CoreShowChannels" or self.lists:
            await super()._answer(writer, msg)
            return
        self.lists += 1
        aid = msg.action_id
        writer.write(
            f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\n"
            "Message: Channels will follow\r\n\r\n".encode()
        )
        item = (
            f"Event: CoreShowChannel\r\nActionID: {aid}\r\nChannel: PJSIP/trunk-0\r\n"
            "Uniqueid: 1.1\r\nLinkedid: 1.1\r\n\r\n"
        ).encode()
        for _ in range(self.events):
            writer.write(item)
        await writer.drain()


class HangUpOnResyncPeer(ScriptedAmiPeer):
    """Closes the socket instead of answering the first CoreShowChannels."""

    def __init__(self) -> None:
        super().__init__()
        self.cut = False

    async def _answer(self, writer: asyncio.StreamWriter, msg: AmiMessage) -> None:
        if msg.get("Action") == "CoreShowChannels" and not self.cut:
            self.cut = True
            writer.close()
            return
        await super()._answer(writer, msg)


async def _client(peer: ScriptedAmiPeer, **kw: object) -> AmiClient:
    options: dict[str, object] = {
        "ping_interval": 5.0,
        "backoff_initial": 0.05,
        "backoff_max": 0.1,
    } | kw
    client = AmiClient(
        port=peer.port,
        username="hotline",
        secret="hotline-secret",
        **options,  # type: ignore[arg-type]
    )
    client.start()
    return client


@pytest.fixture
async def endless() -> AsyncIterator[EndlessListPeer]:
    peer = EndlessListPeer(events=500)
    await peer.start()
    yield peer
    await peer.stop()


async def test_an_endless_event_list_is_cut_and_the_link_rebuilt(
    endless: EndlessListPeer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="ami.client")
    client = await _client(endless, max_list_events=100)
    try:
        await client.wait_connected(10)  # the second session's lists complete
        assert endless.logins == 2 and client.connections == 2
        cut = [r for r in caplog.records if "more than 100 list events" in r.getMessage()]
        assert len(cut) == 1
        assert client.state is LinkState.CONNECTED
    finally:
        await client.stop()


async def test_a_socket_closed_during_resync_reconnects_without_the_action_timeout() -> None:
    peer = HangUpOnResyncPeer()
    await peer.start()
    # An action timeout no test would wait for: the reconnect must not depend on it.
    client = await _client(peer, action_timeout=600.0)
    try:
        await client.wait_connected(10)
        assert peer.cut and peer.logins == 2
        assert "AMI connection lost" in (client.last_error or "") or client.last_error is None
    finally:
        await client.stop()
        await peer.stop()


async def test_a_closed_socket_marks_the_link_down_at_once(peer: ScriptedAmiPeer) -> None:
    client = await _client(peer, backoff_initial=30.0, backoff_max=30.0)
    try:
        await client.wait_connected(10)
        seen: list[LinkState] = []
        for w in peer.writers:
            w.close()
        # No ping interval, no backoff: the state follows the socket.
        async with asyncio.timeout(2):
            while client.state is LinkState.CONNECTED:
                await asyncio.sleep(0.01)
        seen.append(client.state)
        assert seen == [LinkState.DISCONNECTED]
        assert not client.connected_event.is_set()
    finally:
        await client.stop()
