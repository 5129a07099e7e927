"""The demo call generator drives whole calls through the stand-in and the IVR."""

from __future__ import annotations

import asyncio

import pytest

from pbx.domain.traffic import DemoCaller, TrafficMix
from pbx.errors import BadCallSpec
from pbx.standin import PbxStandIn
from pbx.traffic import run_traffic

from .conftest import AmiTestClient, get


async def test_generated_calls_finish_with_real_outcomes(
    pbx: PbxStandIn, ami: AmiTestClient
) -> None:
    pbx.add_agent("PJSIP/1001", answer_after=1.0)
    pbx.add_agent("PJSIP/1002", answer_after=2.0)
    for interface in ("PJSIP/1001", "PJSIP/1002"):
        reply = await ami.action("QueueAdd", Queue="hotline-main", Interface=interface)
        assert get(reply, "Response") == "Success"
    callers = [
        DemoCaller("13800138000", "张伟", "234567"),
        DemoCaller("02787654321", "", "1", False),
    ]
    mix = TrafficMix(talk=(2.0, 6.0), patience=(60.0, 90.0))
    calls = await run_traffic(
        pbx, callers, stop=asyncio.Event(), mean_interval=3.0, mix=mix, seed=5, max_calls=6
    )
    results = await asyncio.wait_for(asyncio.gather(*(c.finished for c in calls)), 30)
    assert len(results) == 6
    assert {r.outcome for r in results} <= {"answered", "abandoned", "ivr_hangup"}
    assert any(r.outcome == "answered" for r in results)
    assert len({r.linkedid for r in results}) == 6
    assert pbx.channels() == []


async def test_no_callers_is_an_error(pbx: PbxStandIn) -> None:
    with pytest.raises(BadCallSpec):
        await run_traffic(pbx, [], stop=asyncio.Event())
