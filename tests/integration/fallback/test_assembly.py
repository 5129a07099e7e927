"""The assembled emergency stack against the stand-in, SQLite and the lead's settings."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import create_async_engine

from ami.client import AmiClient
from ami.tracker import CallTracker
from fallback.assembly import EmergencyConfig, build_emergency_stack
from fallback.ports import BackfillOutcome, BackfillTicket
from hotline.settings import Settings
from pbx.standin import PbxStandIn


class Sink:
    async def ticket_for_call(self, call_id: str) -> str | None:
        return None

    async def backfill(self, ticket: BackfillTicket) -> BackfillOutcome:
        return BackfillOutcome("T1", True)


async def until(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def test_config_from_the_lead_settings(tmp_path) -> None:
    settings = Settings(
        journal_dir=tmp_path,
        emergency_members="PJSIP/1003, Local/13800138000@emergency-out",
        health_interval=1.0,
        health_failures=4,
        emergency_hold_down=30,
    )
    config = EmergencyConfig.from_settings(settings, auto_exit=True)
    assert config.pool == ("PJSIP/1003", "Local/13800138000@emergency-out")
    assert (config.health_interval, config.health_failures, config.hold_down) == (1.0, 4, 30.0)
    assert config.auto_exit and config.journal_dir == tmp_path


async def test_stack_starts_watches_and_stops_cleanly(tmp_path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        agi_port = s.getsockname()[1]
    pbx = PbxStandIn(speed=20, agi_port=agi_port, prompt_seconds=0, auth_failure_delay=0)
    pbx.add_agent("PJSIP/1001", answer_after=1.0)
    await pbx.start()
    tracker = CallTracker()
    client = AmiClient(
        port=pbx.ami_port, username="hotline", secret="hotline-secret", tracker=tracker
    )
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
    clock = lambda: datetime.now(UTC)  # noqa: E731
    config = EmergencyConfig(
        journal_dir=tmp_path / "journal", pool=("PJSIP/1003",), health_interval=0.05
    )
    stack = build_emergency_stack(config, control=client, clock=clock, engine=engine, sink=Sink())
    client.start()
    try:
        await client.wait_connected(5)
        await stack.start(client, tracker)
        assert stack.service.pbx_in_sync  # applied at once: the client was already up
        assert [m.interface for m in pbx.queue_members("hotline-emergency")] == ["PJSIP/1003"]
        await until(lambda: len(stack.service.health()) == 3)
        states = {r.name: r.state for r in stack.service.health()}
        assert states == {"database": "ok", "consoles": "unknown", "agents": "unknown"}
        stack.heartbeats.heartbeat("console:alice")
        await client.queue_add("hotline-main", "PJSIP/1001")
        await until(lambda: all(r.state == "ok" for r in stack.service.health()))
        assert not stack.service.status().active
        await stack.service.set_active(True, reason="manual test", by="lead")
        assert pbx.astdb["hotline/mode"] == "emergency"
    finally:
        await stack.stop()
        await client.stop()
        await pbx.stop()
        await engine.dispose()
    assert stack.service._worker is None
