"""The emergency-pool drill (fallback/drill.py) against the PBX stand-in over real AMI: the
stand-in runs asterisk-conf's `[hotline-drill]` extension (the Local channel waits in
hotline-emergency like a caller), so a pool member answering is seen by the drill."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ami.client import AmiClient
from fallback.drill import EmergencyDrill
from pbx import PbxStandIn

EMER = "hotline-emergency"


def clock() -> datetime:
    return datetime.now(UTC)


async def drill_against(pbx: PbxStandIn, timeout: float, tmp_path) -> tuple:
    client = AmiClient(port=pbx.ami_port, username="hotline", secret="hotline-secret")
    results = EmergencyDrill.results_log(tmp_path)
    await results.open()
    drill = EmergencyDrill(client, clock, results=results, timeout=timeout)
    client.add_listener(lambda event: drill.on_ami_message(event.message))
    client.start()
    try:
        await client.wait_connected(5)
        result = await drill.run(by="test")
        lines = (tmp_path / "drills.jsonl").read_text().splitlines()
        return result, [json.loads(line) for line in lines]
    finally:
        await client.stop()
        await results.close()


@pytest.mark.parametrize("pool", [["PJSIP/1901"], ["PJSIP/1901", "PJSIP/1902"]])
async def test_a_pool_member_answers_the_drill(tmp_path, pool: list[str]) -> None:
    pbx = PbxStandIn(speed=20, auth_failure_delay=0)
    for desk in pool:
        pbx.add_agent(desk, answer_after=2.0)
        pbx.add_static_member(EMER, desk)
    async with pbx:
        result, records = await drill_against(pbx, 5.0, tmp_path)
        assert result.answered, result.detail
        assert result.member in pool and result.detail == f"answered by {result.member}"
        assert records[-1]["answered"] is True and records[-1]["drill_id"] == result.drill_id
        # Nothing is left behind: the drill's channels are gone, nobody waits.
        assert pbx.queue_entries(EMER) == []


async def test_an_unanswered_drill_fails_after_its_timeout(tmp_path) -> None:
    pbx = PbxStandIn(speed=20, auth_failure_delay=0)
    pbx.add_agent("PJSIP/1901", answer_after=None)  # rings, nobody picks up
    pbx.add_static_member(EMER, "PJSIP/1901")
    async with pbx:
        result, _records = await drill_against(pbx, 1.0, tmp_path)
        assert not result.answered
        assert result.detail in (
            "no pool member answered within 1 s",
            "originate failed (reason 3)",
        )
        assert pbx.queue_entries(EMER) == []
