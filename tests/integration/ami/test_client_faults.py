"""The panoramisk 1.4 faults a hotline cannot live with: each reproduced, then fixed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from panoramisk import Manager
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol

from ami.client import AmiClient, LinkState
from ami.errors import HeaderInjection
from ami.events import AmiEvent, UserEvent

from .conftest import ScriptedAmiPeer

NAME_EVENT = "Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Caller\r\nName: {}\r\n\r\n"


@pytest.fixture
async def client(peer: ScriptedAmiPeer) -> AsyncIterator[AmiClient]:
    c = AmiClient(
        port=peer.port,
        username="hotline",
        secret="hotline-secret",
        ping_interval=0.2,
        backoff_initial=0.05,
        backoff_max=0.2,
    )
    c.start()
    await c.wait_connected(5)
    yield c
    await c.stop()


async def collect(client: AmiClient, n: int) -> list[AmiEvent]:
    got: list[AmiEvent] = []
    done = asyncio.Event()

    def listener(event: AmiEvent) -> None:
        if isinstance(event, UserEvent):
            got.append(event)
            if len(got) >= n:
                done.set()

    client.add_listener(listener)
    await asyncio.wait_for(done.wait(), 5)
    return got


# --- 1. UTF-8 character split across two TCP reads -----------------------------------


def test_panoramisk_drops_a_utf8_character_split_across_reads() -> None:
    data = NAME_EVENT.format("张伟").encode()
    cut = data.index("张".encode()) + 1  # inside the first character
    seen: list[Any] = []

    class Factory:
        save_stream = None

        def dispatch(self, message: Any) -> None:
            seen.append(message)

    proto = AMIProtocol()
    proto.connection_made(transport=None)
    proto.factory = Factory()
    proto.encoding = "utf8"
    proto.data_received(data[:cut])
    proto.data_received(data[cut:])
    assert seen[0]["Name"] != "张伟"  # mangled: the split character is gone


async def test_utf8_split_across_reads_survives(peer: ScriptedAmiPeer, client: AmiClient) -> None:
    names = ["张伟", "Müller", "Ørsted 🎧"]
    waiter = asyncio.ensure_future(collect(client, len(names)))
    await asyncio.sleep(0)
    for name in names:
        data = NAME_EVENT.format(name).encode()
        cut = data.index(name.encode()[:1]) + 1
        await peer.push(data[:cut], pause=0.02)  # two TCP segments
        await peer.push(data[cut:], pause=0.02)
    got = await waiter
    assert [e.message.get("Name") for e in got] == names


# --- 2. An exception in an event callback ------------------------------------------------


def test_panoramisk_callback_exception_escapes_and_loses_buffered_events() -> None:
    manager = Manager()
    delivered: list[str] = []

    def boom(_m: Any, message: Any) -> None:
        if message["Name"] == "first":
            raise RuntimeError("bug in a subscriber")
        delivered.append(message["Name"])

    manager.register_event("UserEvent", boom)
    proto = AMIProtocol()
    proto.connection_made(transport=None)
    proto.factory = manager
    proto.encoding = "utf8"
    data = (NAME_EVENT.format("first") + NAME_EVENT.format("second")).encode()
    # In a real transport this exception makes asyncio close the connection.
    with pytest.raises(RuntimeError):
        proto.data_received(data)
    assert delivered == []  # "second" was in the same read and is lost


async def test_callback_exception_is_isolated(peer: ScriptedAmiPeer, client: AmiClient) -> None:
    def broken(event: AmiEvent) -> None:
        raise RuntimeError("bug in a subscriber")

    async def broken_async(event: AmiEvent) -> None:
        raise RuntimeError("bug in an async subscriber")

    client.add_listener(broken)
    client.add_listener(broken_async)
    client.register_event("UserEvent", lambda m, e: 1 / 0)
    waiter = asyncio.ensure_future(collect(client, 3))
    await asyncio.sleep(0)
    await peer.push("".join(NAME_EVENT.format(n) for n in ("a", "b", "c")).encode())
    got = await waiter
    assert [e.message.get("Name") for e in got] == ["a", "b", "c"]
    await asyncio.sleep(0.05)
    assert client.callback_errors >= 6
    assert client.state is LinkState.CONNECTED
    assert client.connections == 1  # the connection was never dropped


# --- 3. Keep-alive replies never checked ---------------------------------------------------


async def test_panoramisk_never_notices_a_hung_peer(peer: ScriptedAmiPeer) -> None:
    manager = Manager(
        port=peer.port,
        username="hotline",
        secret="hotline-secret",
        ping_delay=0.1,
        ping_interval=0.1,
        loop=asyncio.get_running_loop(),
    )
    manager.ping_delay = manager.ping_interval = 0.1  # panoramisk int()s the config
    manager.connect()
    await asyncio.wait_for(peer.connected.wait(), 5)
    peer.hung = True
    await asyncio.sleep(0.6)  # six ping intervals of silence
    assert manager._connected  # still believes the link is fine
    assert peer.logins == 1
    manager.close()


async def test_silent_peer_detected_after_one_ping_interval(
    peer: ScriptedAmiPeer, client: AmiClient
) -> None:
    peer.hung = True
    while client.state is LinkState.CONNECTED:
        await asyncio.sleep(0.01)
    # Measured by the watchdog from the last byte received; it looks every interval/8.
    assert client.silence_at_detection is not None
    assert client.silence_at_detection >= client.ping_interval
    assert client.silence_at_detection <= 2 * client.ping_interval
    peer.hung = False
    while client.connections < 2:
        await asyncio.sleep(0.02)
    await client.wait_connected(5)
    assert peer.logins == 2


# --- 4. CR/LF in action values ----------------------------------------------------------


def test_panoramisk_writes_crlf_values_unescaped() -> None:
    async def build() -> str:
        return str(
            Action(
                {
                    "Action": "Setvar",
                    "Variable": "X",
                    "Value": "a\r\nAction: Originate\r\nChannel: Local/x",
                }
            )
        )

    text = asyncio.run(build())
    assert "\r\nAction: Originate\r\n" in text  # a forged second action


INJECTIONS = ["evil\r\nAction: Originate", "evil\nChannel: x", "evil\r", "nul\0"]


@pytest.mark.parametrize("bad", INJECTIONS)
async def test_every_action_helper_refuses_crlf(
    peer: ScriptedAmiPeer, client: AmiClient, bad: str
) -> None:
    calls = [
        client.queue_add("hotline-main", bad),
        client.queue_add("hotline-main", "PJSIP/1001", member_name=bad),
        client.queue_remove(bad, "PJSIP/1001"),
        client.queue_pause(bad, True),
        client.queue_pause("PJSIP/1001", True, reason=bad),
        client.queue_status(bad),
        client.redirect(bad, "hotline-requeue", "s"),
        client.originate("Local/1@x", context=bad, exten="s"),
        client.originate("Local/1@x", context="c", exten="s", caller_id=bad),
        client.originate("Local/1@x", context="c", exten="s", variables={"V": bad}),
        client.setvar("HOTLINE_SITE", bad, channel="PJSIP/trunk-00000001"),
        client.getvar(bad),
        client.db_put("hotline", "mode", bad),
        client.db_get("hotline", bad),
        client.db_del(bad, "mode"),
        client.user_event("Note", {"Text": bad}),
        client.user_event(bad, {}),
        client.command(bad),
        client.send_action("Ping", {"X": bad}),
    ]
    for call in calls:
        with pytest.raises(HeaderInjection):
            await call
    await asyncio.sleep(0.05)
    marker = bad[:3].encode()  # "evi" / "nul": nothing of the value reached the socket
    assert marker not in bytes(peer.raw_received)


async def test_header_names_are_checked_too(client: AmiClient) -> None:
    with pytest.raises(HeaderInjection):
        await client.send_action("Ping", {"X\r\nAction": "y"})
    with pytest.raises(HeaderInjection):
        await client.send_action("Ping", {"ActionID": "forged"})
