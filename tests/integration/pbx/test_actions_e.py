"""Replays the client side of e-actions.txt against the stand-in and compares every reply
(responses and list events, matched by ActionID) with what the real Asterisk 22 sent."""

from __future__ import annotations

import asyncio

from pbx.standin import PbxStandIn

from .conftest import AmiTestClient, Msg, get
from .transcript import parse, records

# Values that depend on history, clocks or memory addresses rather than on the action.
VOLATILE = {
    "Timestamp",
    "LoginTime",
    "LastPause",
    "Holdtime",
    "TalkTime",
    "Completed",
    "Abandoned",
    "HoldTime",
    "Uniqueid",
    "Linkedid",
    "Duration",
    "Seconds",
    "EventTV",
    "SessionID",
    "SessionTV",
    "RemoteAddress",
    "LocalAddress",
}


def shape(msg: Msg) -> list[tuple[str, str]]:
    return [(k, "*" if k in VOLATILE else v) for k, v in msg]


async def test_every_action_answers_like_asterisk() -> None:
    pbx = PbxStandIn(speed=20.0, auth_failure_delay=0.05)
    pbx.add_agent("PJSIP/1001", answer_after=1.0, member_name="Agent 1001")
    pbx.add_agent("PJSIP/1002", answer_after=1.0, member_name="Agent 1002")
    await pbx.start()
    client = await AmiTestClient.connect(pbx.ami_port, login=False)
    try:
        recorded = records("e-actions.txt")
        expected: dict[str, list[Msg]] = {}
        for direction, conn, payload in recorded:
            if direction == "<<" and conn == "ami1" and not payload.startswith("Asterisk"):
                msg = parse(payload)
                aid = get(msg, "ActionID")
                if aid is not None:
                    expected.setdefault(aid, []).append(msg)
        compared = 0
        for direction, conn, payload in recorded:
            if direction != ">>" or conn != "ami1":
                continue
            action = parse(payload)
            aid = get(action, "ActionID")
            name = get(action, "Action")
            client.send_raw(payload.encode())
            if name == "Logoff":
                await asyncio.wait_for(client.closed.wait(), 5)
            if aid is None:
                # `Ping` without ActionID: the reply carries none either.
                reply = await client.wait_for(
                    lambda m: get(m, "Ping") == "Pong" and get(m, "ActionID") is None
                )
                assert [k for k, _ in reply] == ["Response", "Ping", "Timestamp"]
                continue
            want = expected[aid]
            deadline = asyncio.get_running_loop().time() + 10

            def mine(aid: str = aid) -> list[Msg]:
                return [m for m in client.messages if get(m, "ActionID") == aid]

            while len(mine()) < len(want) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            got = mine()
            assert [shape(m) for m in got] == [shape(m) for m in want], (name, aid)
            compared += 1
        assert compared == 45  # Login, every action of the recording, Logoff
    finally:
        await client.close()
        await pbx.stop()
