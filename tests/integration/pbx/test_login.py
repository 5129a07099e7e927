"""Banner, Login/Logoff and authentication failures as in a-login-*.txt."""

from __future__ import annotations

import asyncio

from pbx.standin import PbxStandIn

from .conftest import AmiTestClient, ScriptedIvr, get
from .transcript import ami_messages, records


def keys(msg: list[tuple[str, str]]) -> list[str]:
    return [k for k, _ in msg]


async def test_banner_login_logoff_match_the_recording(pbx: PbxStandIn) -> None:
    client = await AmiTestClient.connect(pbx.ami_port, login=False)
    try:
        recorded = records("a-login-success.txt")
        banner = next(p for d, _c, p in recorded if d == "<<")
        assert client.banner == banner.encode()  # one line, no blank line after it
        want = ami_messages("a-login-success.txt")
        client.send_raw(
            b"Action: Login\r\nActionID: ami1-1\r\nUsername: hotline\r\n"
            b"Secret: hotline-secret\r\nEvents: on\r\n\r\n"
        )
        await client.wait_event("SuccessfulAuth")
        assert [keys(m) for m in client.messages[:3]] == [keys(m) for m in want[:3]]
        assert client.messages[0] == want[0]
        assert get(client.messages[1], "Status") == "Fully Booted"
        client.send_raw(b"Action: Logoff\r\nActionID: ami1-2\r\n\r\n")
        await asyncio.wait_for(client.closed.wait(), 5)  # the server closes the socket
        assert client.messages[-1] == want[-1]
    finally:
        await client.close()


async def test_wrong_secret_is_refused_after_a_delay_then_closed(pbx: PbxStandIn) -> None:
    client = await AmiTestClient.connect(pbx.ami_port, login=False)
    try:
        client.send("Login", Username="hotline", Secret="wrong-secret", Events="on")
        await asyncio.wait_for(client.closed.wait(), 5)
        want = ami_messages("a-login-failure.txt")[0]
        assert [keys(m) for m in client.messages] == [keys(want)]
        assert get(client.messages[0], "Message") == "Authentication failed"
    finally:
        await client.close()


async def test_actions_before_login_are_denied_and_the_socket_stays_open(
    pbx: PbxStandIn,
) -> None:
    client = await AmiTestClient.connect(pbx.ami_port, login=False)
    try:
        reply = await client.action("Ping")
        assert get(reply, "Response") == "Error"
        assert get(reply, "Message") == "Permission denied"
        reply = await client.action("QueueAdd", Queue="hotline-main", Interface="PJSIP/1001")
        assert get(reply, "Message") == "Permission denied"
        assert pbx.queue_members("hotline-main") == []
        assert not client.closed.is_set()
        client.send("Login", Username="nosuchuser", Secret="x")
        await asyncio.wait_for(client.closed.wait(), 5)
        assert get(client.messages[-1], "Message") == "Authentication failed"
    finally:
        await client.close()


async def test_events_off_gets_replies_but_no_events(pbx: PbxStandIn) -> None:
    quiet = await AmiTestClient.connect(pbx.ami_port, events="off")
    loud = await AmiTestClient.connect(pbx.ami_port)
    try:
        reply = await quiet.action("UserEvent", UserEvent="HotlineTest", Site="1")
        assert get(reply, "Message") == "Event Sent"
        await loud.wait_event("UserEvent", UserEvent="HotlineTest")
        pong = await quiet.action("Ping")
        assert get(pong, "Ping") == "Pong"
        assert all(get(m, "Event") is None for m in quiet.messages)
    finally:
        await quiet.close()
        await loud.close()


async def test_read_classes_filter_events_like_manager_conf(ivr: ScriptedIvr) -> None:
    pbx = PbxStandIn(
        agi_port=ivr.port, speed=40.0, read="system,call,agent,user,dialplan,reporting"
    )
    await pbx.start()
    client = await AmiTestClient.connect(pbx.ami_port)
    try:
        call = await pbx.place_call("13800138000", patience=1.0)
        await asyncio.wait_for(call.finished, 10)
        await client.wait_event("Hangup", Uniqueid=call.linkedid)
        names = {get(m, "Event") for m in client.messages}
        assert {"Newchannel", "VarSet", "QueueCallerJoin", "FullyBooted"} <= names
        assert not names & {"AGIExecStart", "AGIExecEnd", "DTMFBegin", "SuccessfulAuth"}
    finally:
        await client.close()
        await pbx.stop()
