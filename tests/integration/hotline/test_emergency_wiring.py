"""Emergency mode as `hotline serve` builds it (`fallback.components.build`), against the
stand-in, a migrated SQLite database and the lead's settings."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ami.client import AmiClient
from ami.tracker import CallTracker
from fallback.components import Emergency, EmergencyDeps, build
from fallback.ports import BackfillOutcome, BackfillTicket
from fallback.service import emergency_journal_stage
from hotline.settings import Settings
from pbx.standin import PbxStandIn
from pipeline import CallPipeline
from storage.database import Database
from storage.health_probe import HealthProbeTable
from storage.migrate import upgrade


class Sink:
    async def ticket_for_call(self, call_id: str) -> str | None:
        return None

    async def backfill(self, ticket: BackfillTicket) -> BackfillOutcome:
        return BackfillOutcome("T1", True)


async def until(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def test_built_from_the_lead_settings(tmp_path: Path) -> None:
    settings = Settings(
        journal_dir=tmp_path,
        emergency_members="PJSIP/1003, Local/13800138000@emergency-out",
        health_interval=1.0,
        health_failures=4,
        emergency_hold_down=30,
    )
    tracker = CallTracker()
    ami = AmiClient(username="hotline", secret="s", tracker=tracker)
    db = Database(f"sqlite:///{tmp_path / 'hotline.db'}")
    parts = build(settings, EmergencyDeps(ami, HealthProbeTable(db.engine), Sink()))
    service = parts.service
    assert service.switch.pool == ("PJSIP/1003", "Local/13800138000@emergency-out")
    assert (service.policy.failures_to_enter, service.policy.hold_down) == (
        4,
        timedelta(seconds=30),
    )
    assert service.journal.directory == tmp_path


@dataclass
class Running:
    parts: Emergency
    client: AmiClient
    pbx: PbxStandIn


@contextlib.asynccontextmanager
async def emergency_running(tmp_path: Path) -> AsyncIterator[Running]:
    """The emergency parts started in the order the composition root's lifecycle uses:
    journal, AMI hook, AMI, health watch."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        agi_port = s.getsockname()[1]
    pbx = PbxStandIn(speed=20, agi_port=agi_port, prompt_seconds=0, auth_failure_delay=0)
    pbx.add_agent("PJSIP/1001", answer_after=1.0)
    await pbx.start()
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    settings = Settings(
        journal_dir=tmp_path / "journal", emergency_members="PJSIP/1003", health_interval=0.05
    )
    tracker = CallTracker()
    client = AmiClient(
        port=pbx.ami_port, username="hotline", secret="hotline-secret", tracker=tracker
    )
    parts = build(settings, EmergencyDeps(client, HealthProbeTable(db.engine), Sink()))
    tracker.subscribe(CallPipeline([emergency_journal_stage(parts.service)]).submit)
    await parts.service.start()

    async def on_connected(_client: AmiClient) -> None:
        await parts.service.on_ami_connected()

    client.on_connected.append(on_connected)
    client.start()
    watch: asyncio.Task[None] | None = None
    try:
        await client.wait_connected(5)
        watch = asyncio.create_task(parts.service.run_health_watch(settings.health_interval))
        yield Running(parts, client, pbx)
    finally:
        if watch is not None:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        await client.stop()
        await parts.service.stop()
        await pbx.stop()
        await db.dispose()


async def test_emergency_starts_watches_and_stops_cleanly(tmp_path: Path) -> None:
    async with emergency_running(tmp_path) as running:
        service, pbx, client = running.parts.service, running.pbx, running.client
        await until(lambda: service.pbx_in_sync)  # applied by the AMI log-in hook
        assert [m.interface for m in pbx.queue_members("hotline-emergency")] == ["PJSIP/1003"]
        await until(lambda: len(service.health()) == 3)
        states = {r.name: r.state for r in service.health()}
        # `hotline serve` gives the agents probe no start-up grace: an empty queue fails.
        assert states == {"database": "ok", "consoles": "unknown", "agents": "failed"}
        running.parts.heartbeats.heartbeat("console:alice")
        await client.queue_add("hotline-main", "PJSIP/1001")
        await until(lambda: all(r.state == "ok" for r in service.health()))
        assert not service.status().active
        await service.set_active(True, reason="manual test", by="lead")
        assert pbx.astdb["hotline/mode"] == "emergency"
    assert not service.journal._opened  # stopped cleanly: the journal is closed
