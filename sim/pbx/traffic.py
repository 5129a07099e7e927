"""A call generator that keeps the stand-in busy with plausible callers (`hotline demo`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence

from pbx.agi_client import CallerScript
from pbx.domain.traffic import CallPlan, DemoCaller, TrafficMix, next_gap, plan_call
from pbx.errors import BadCallSpec
from pbx.simulation import SimCall
from pbx.standin import PbxStandIn

log = logging.getLogger(__name__)


async def place_planned_call(pbx: PbxStandIn, plan: CallPlan) -> SimCall:
    return await pbx.place_call(
        plan.caller.number,
        plan.caller.name,
        script=CallerScript(plan.inputs, plan.hangup_after_commands),
        survey=CallerScript(plan.survey_inputs),
        patience=plan.patience,
        talk_time=plan.talk_time,
    )


async def run_traffic(
    pbx: PbxStandIn,
    callers: Sequence[DemoCaller],
    *,
    stop: asyncio.Event,
    mean_interval: float = 20.0,
    mix: TrafficMix | None = None,
    seed: int = 0,
    outage_active: Callable[[], bool] = lambda: False,
    max_calls: int | None = None,
) -> list[SimCall]:
    """Place calls (Poisson arrivals, `mean_interval` simulated seconds apart) until `stop`
    is set or `max_calls` were placed; returns the calls placed."""
    if not callers:
        raise BadCallSpec("run_traffic needs at least one caller")
    rng = random.Random(seed)
    mix = mix or TrafficMix()
    placed: list[SimCall] = []
    while not stop.is_set() and (max_calls is None or len(placed) < max_calls):
        plan = plan_call(rng, rng.choice(list(callers)), mix, outage_active=outage_active())
        call = await place_planned_call(pbx, plan)
        log.info("call %s: demo caller %s (%s)", call.linkedid, plan.caller.number, plan.inputs)
        placed.append(call)
        gap = pbx.clock.real_seconds(next_gap(rng, mean_interval))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), gap)
    return placed
