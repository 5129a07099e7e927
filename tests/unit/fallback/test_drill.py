"""The drill against a fake PBX: the AMI events are fed by hand."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from fallback.domain.drill import next_drill_due
from fallback.drill import DrillSchedule, EmergencyDrill


class Msg(dict):
    def get(self, key, default=""):
        return super().get(key, default)


def originated(pbx) -> str:
    [(_, channel, context, exten, caller_id, _aid)] = pbx.named("Originate")
    assert context == "hotline-drill-hold" and exten == "s"
    assert channel.startswith("Local/9") and channel.endswith("@hotline-drill")
    return channel


async def wait_originate(pbx) -> str:
    while not pbx.named("Originate"):
        await asyncio.sleep(0)
    return originated(pbx)


async def test_answered_drill(pbx, clock) -> None:
    results = []

    async def collect(result) -> None:
        results.append(result)

    drill = EmergencyDrill(pbx, clock, timeout=5, on_result=collect)
    task = asyncio.create_task(drill.run(by="lead"))
    channel = await wait_originate(pbx)
    # Unrelated traffic first: another queue, another channel.
    drill.on_ami_message(
        Msg(
            Event="AgentConnect",
            Queue="hotline-main",
            Channel=channel + "-00000001;2",
            MemberName="alice",
        )
    )
    drill.on_ami_message(
        Msg(
            Event="AgentConnect",
            Queue="hotline-emergency",
            Channel="PJSIP/trunk-00000001",
            MemberName="bob",
        )
    )
    drill.on_ami_message(
        Msg(
            Event="AgentConnect",
            Queue="hotline-emergency",
            Channel=channel + "-00000001;2",
            MemberName="backup-desk",
            Interface="PJSIP/1003",
        )
    )
    result = await task
    assert result.answered and result.member == "backup-desk"
    assert results == [result] and drill.last_result == result


async def test_failed_originate(pbx, clock) -> None:
    drill = EmergencyDrill(pbx, clock, timeout=5)
    task = asyncio.create_task(drill.run())
    channel = await wait_originate(pbx)
    # Another drill's channel first; then the failure as Asterisk 22 reports it.
    drill.on_ami_message(
        Msg(Event="OriginateResponse", Response="Failure", Reason="0", Channel=channel + "9")
    )
    await asyncio.sleep(0)
    assert not task.done()
    drill.on_ami_message(
        Msg(Event="OriginateResponse", Response="Failure", Reason="0", Channel=channel)
    )
    result = await task
    assert not result.answered and "originate failed" in result.detail


async def test_unanswered_drill_times_out_and_is_logged(pbx, clock, tmp_path) -> None:
    log = EmergencyDrill.results_log(tmp_path)
    await log.open()
    drill = EmergencyDrill(pbx, clock, timeout=0.05, results=log)
    result = await drill.run(by="lead")
    await log.close()
    assert not result.answered and "within 0.05 s" in result.detail
    again = EmergencyDrill.results_log(tmp_path)
    records = await again.open()
    await again.close()
    assert [(r["kind"], r["by"], r["answered"]) for r in records] == [("drill", "lead", False)]
    assert DrillSchedule.last_run_in(records) == result.started_at


async def test_pbx_refusing_the_originate(pbx, clock) -> None:
    pbx.connected = False
    result = await EmergencyDrill(pbx, clock, timeout=5).run()
    assert not result.answered and "originate refused" in result.detail


@pytest.mark.parametrize(
    ("last", "now", "due"),
    [(None, 100, 100), (0, 100, 3600), (0, 5000, 5000), (3000, 3500, 6600)],
)
def test_next_drill_due(clock, last, now, due) -> None:
    t0 = clock.now
    at = lambda s: t0 + timedelta(seconds=s)  # noqa: E731
    assert next_drill_due(None if last is None else at(last), timedelta(hours=1), at(now)) == at(
        due
    )


async def test_schedule_waits_for_the_due_time(pbx, clock) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    drill = EmergencyDrill(pbx, clock, timeout=0.01)
    schedule = DrillSchedule(drill, timedelta(hours=1), clock, last_run=clock.now, sleep=fake_sleep)
    first = await schedule.run_once_due()
    assert slept == [3600.0] and schedule.last_run == first.started_at
