"""Loopback Asterisk 22 stand-in: a test peer speaking real AMI (TCP) and driving our
FastAGI IVR, for `hotline demo`, integration tests and benchmarks.

Public API (wire it up with `PbxStandIn`):

    pbx = PbxStandIn(ami_port=5038, agi_port=4573, speed=1.0)
    pbx.add_agent("PJSIP/1001", answer_after=1.0, member_name="Agent 1001")
    await pbx.start()
    call = await pbx.place_call("13800138000", "张伟", script=CallerScript(("234567#", "1")))
    result = await call.finished        # CallResult
"""

from __future__ import annotations

from pbx.agi_client import AgiSessionResult, CallerScript
from pbx.domain.traffic import CallPlan, DemoCaller, TrafficMix
from pbx.errors import BadCallSpec, PbxError, PbxNotRunning, UnknownChannel
from pbx.simulation import CallResult, SimAgent, SimCall
from pbx.standin import PbxStandIn
from pbx.traffic import run_traffic

__all__ = [
    "AgiSessionResult",
    "BadCallSpec",
    "CallPlan",
    "CallResult",
    "CallerScript",
    "DemoCaller",
    "PbxError",
    "PbxNotRunning",
    "PbxStandIn",
    "SimAgent",
    "SimCall",
    "TrafficMix",
    "UnknownChannel",
    "run_traffic",
]
