"""No call ends without a call record, even one no controller saw: calls that start and
end while the controller is cut off from AMI get their record (and, when the caller
waited in vain, a callback ticket) from the PBX's CDR, which the stand-in writes into
the hotline database as cdr_pgsql does.

Over the whole `HotlineService` and the stand-in, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from pbx import CallerScript

from .conftest import HILLTOP, RIVERSIDE, System

pytestmark = pytest.mark.slow


async def test_calls_while_ami_is_down_get_records_and_callbacks(system: System) -> None:
    service = system.service
    sweep = service.path.sweep.sweep
    assert sweep is not None
    assert "cdr-sweep" in service.lifecycle.running()
    alice = await system.agent_on_duty("alice")

    await service.edges.ami.client.stop()  # the controller hears nothing from the PBX from now on
    await system.until(lambda: system.pbx.ami_clients == 0)
    answered = await system.pbx.place_call(
        "010-12345678", "Wang Li", script=CallerScript(("1",)), talk_time=6
    )
    await system.until(lambda: system.pbx.sim.agents["PJSIP/1001"].in_call, timeout=20)
    gave_up = await system.pbx.place_call(
        "13911112222", "Chen Jie", script=CallerScript(("2",)), patience=3
    )
    in_ivr = await system.pbx.place_call(
        "13800001234", "Li Na", script=CallerScript((), hangup_after_commands=2)
    )
    results = await asyncio.wait_for(
        asyncio.gather(answered.finished, gave_up.finished, in_ivr.finished), 40
    )
    assert [r.outcome for r in results] == ["answered", "abandoned", "ivr_hangup"]
    assert alice.about(answered.linkedid) == []  # no pop: nobody was listening
    assert system.pbx.cdr is not None
    await system.pbx.cdr.flush()
    assert system.pbx.cdr.failed == 0
    for result in results:
        assert await service.edges.store.calls.get(result.linkedid) is None

    service.edges.ami.client.start()
    await service.edges.ami.client.wait_connected(10)
    # The stand-in's clock runs SPEED times faster than ours: look from its "now".
    sweep.clock = lambda: datetime.now(UTC) + timedelta(hours=1)
    recovered = await sweep.sweep()
    assert set(recovered) == {r.linkedid for r in results}
    await service.path.pipeline.pipeline.drain(10)  # the sweep hands the calls to the tickets stage

    record = await service.edges.store.calls.get(answered.linkedid)
    assert record is not None
    assert record.outcome == "answered" and record.agent == "alice"
    assert record.agent_interface == "PJSIP/1001" and record.site_code == RIVERSIDE
    assert record.answered_at is not None and record.talk_seconds is not None
    ticket = await system.ticket_of(answered.linkedid)
    assert ticket.duty_agent == "alice" and ticket.status.value == "in_progress"
    assert ticket.site_code == RIVERSIDE and record.ticket_number == ticket.number

    record = await service.edges.store.calls.get(gave_up.linkedid)
    assert record is not None and record.outcome == "abandoned"
    callback = await system.ticket_of(gave_up.linkedid)
    assert callback.status.value == "callback_due" and callback.site_code == HILLTOP
    assert callback.caller_number == "13911112222"

    record = await service.edges.store.calls.get(in_ivr.linkedid)
    assert record is not None and record.outcome == "ivr_hangup"
    assert record.ticket_number is None  # never waited for an agent: no ticket by design
    assert await service.edges.store.tickets.get_by_call(in_ivr.linkedid) is None

    # Once recorded, never again; and calls the controller did see are never touched.
    assert await sweep.sweep() == []
    seen = await system.pbx.place_call(
        "010-12345678", "Wang Li", script=CallerScript(("3",)), talk_time=2
    )
    await asyncio.wait_for(seen.finished, 30)
    await system.pbx.cdr.flush()
    await service.path.pipeline.pipeline.drain(10)
    assert await sweep.sweep() == []
    assert sweep.recovered == 3
