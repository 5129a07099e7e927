"""The IVR behind the loopback PBX stand-in: the dialplan queues the caller with what the
IVR chose, and the survey after the agent hangs up reaches the survey sink."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ivr.directory import DirectorySite, InMemorySiteDirectory, InMemorySurveySink, StaticIvrMode
from ivr.menu_file import load_menu
from ivr.server import IvrServer
from pbx import standin
from pbx.agi_client import CallerScript
from routing.domain.levels import SlaPolicy


async def test_call_through_standin_is_queued_with_ivr_priority_and_surveyed(tmp_path: Path):
    surveys = InMemorySurveySink()
    mode = StaticIvrMode()
    server = IvrServer(
        load_menu(),
        InMemorySiteDirectory([DirectorySite("234567", "Water bureau", ("13800138000",))]),
        mode,
        surveys,
        policy=SlaPolicy(),
        sounds_dir=tmp_path,
    )
    await server.start("127.0.0.1", 0)
    assert server.port is not None
    pbx = standin.PbxStandIn(agi_port=server.port, speed=40.0, prompt_seconds=0.0)
    await pbx.start()
    try:
        pbx.add_agent("PJSIP/1001", answer_after=1.0, talk_time=4)
        pbx.add_static_member("hotline-main", "PJSIP/1001")
        known = await pbx.place_call(
            "+86 138 0013 8000",
            "张伟",
            script=CallerScript(("1",)),
            survey=CallerScript(("5",)),
            talk_time=4,
        )
        first = await asyncio.wait_for(known.finished, 30)
        mode.emergency = True
        unknown = await pbx.place_call(
            "13900000000",
            "Caller",
            script=CallerScript(("", "", "", "2")),
            talk_time=2,
            patience=10,
        )
        second = await asyncio.wait_for(unknown.finished, 30)
    finally:
        await pbx.stop()
        await server.stop()
    assert first.outcome == "answered" and first.queue == "hotline-main"
    assert first.variables["QUEUE_PRIO"] == "10"
    assert first.variables["HOTLINE_SITE"] == "234567"
    assert surveys.scores == {first.linkedid: 5}
    # Emergency mode: the IVR's queue choice is the one the dialplan used.
    assert second.queue == "hotline-emergency"
    assert second.variables["HOTLINE_IVR_RESULT"] == "unidentified"
    assert second.variables["QUEUE_PRIO"] == "7"
    assert server.failures == 0
