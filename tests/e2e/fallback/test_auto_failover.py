"""Automatic failover, whole chain: PostgreSQL behind a TCP proxy that can black-hole it,
the real SQL health probe and watch loop, the emergency service, the lead's AMI client and
the PBX stand-in. The database hangs (not refused: a black hole); the controller enters
emergency mode by itself, moves the waiting callers and routes new calls to the pool; the
database comes back and the supervisor confirms the switch back."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from ami.client import AmiClient
from ami.tracker import CallTracker
from fallback.domain.mode import EmergencyPolicy
from fallback.health import DatabaseWriteProbe, HealthWatch
from fallback.journal import EmergencyJournal
from fallback.paper import PaperNumberAllocator
from fallback.ports import BackfillOutcome, BackfillTicket
from fallback.service import EmergencyService, emergency_journal_stage
from fallback.switching import PbxSwitch
from pbx.standin import PbxStandIn
from pipeline import CallPipeline
from storage.health_probe import HealthProbeTable
from testkit.scratch_db import create_postgres_from_template, drop_scratch_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
MAIN, EMER = "hotline-main", "hotline-emergency"


class BlackHoleProxy:
    """Forwards TCP to PostgreSQL; `freeze()` makes it swallow everything (a hung peer)."""

    def __init__(self, upstream_port: int = 5432) -> None:
        self.upstream_port = upstream_port
        self.open = asyncio.Event()
        self.open.set()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def freeze(self) -> None:
        self.open.clear()

    def thaw(self) -> None:
        self.open.set()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        await self.open.wait()  # while frozen: accepted, never answered
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers.append(up_writer)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await src.read(65536):
                await self.open.wait()  # frozen: hold the bytes, send nothing
                dst.write(data)
                await dst.drain()
        dst.close()

    async def stop(self) -> None:
        self.thaw()
        for w in self._writers:
            w.close()
        for t in list(self._tasks):
            t.cancel()
        if self._server is not None:
            self._server.close()


class Sink:
    async def ticket_for_call(self, call_id: str) -> str | None:
        return None

    async def backfill(self, ticket: BackfillTicket) -> BackfillOutcome:
        return BackfillOutcome(f"T-{ticket.paper_number}", True)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(predicate, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


@pytest.fixture
async def scratch_db(migrated_pg_template: str) -> AsyncIterator[str]:
    url = create_postgres_from_template(migrated_pg_template, prefix="fallback_failover")
    try:
        yield url
    finally:
        drop_scratch_postgres(url)


async def test_database_black_hole_triggers_failover_and_nobody_is_dropped(
    scratch_db, tmp_path
) -> None:
    proxy = BlackHoleProxy()
    proxy_port = await proxy.start()
    db_name = scratch_db.rsplit("/", 1)[1]
    engine = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{proxy_port}/{db_name}")
    pbx = PbxStandIn(speed=20, agi_port=closed_port(), prompt_seconds=0, auth_failure_delay=0)
    pbx.add_agent("PJSIP/1003", answer_after=None)
    await pbx.start()
    tracker = CallTracker()
    client = AmiClient(
        port=pbx.ami_port,
        username="hotline",
        secret="hotline-secret",
        tracker=tracker,
        ping_interval=2.0,
    )
    clock = lambda: datetime.now(UTC)  # noqa: E731
    watch = HealthWatch([DatabaseWriteProbe(HealthProbeTable(engine), timeout=0.5)], clock)
    service = EmergencyService(
        control=client,
        switch=PbxSwitch(client, pool=["PJSIP/1003"], retry_delay=0.05),
        journal=EmergencyJournal(tmp_path),
        paper=PaperNumberAllocator(tmp_path),
        sink=Sink(),
        clock=clock,
        health=watch,
        policy=EmergencyPolicy(
            failures_to_enter=3,
            successes_to_exit=2,
            hold_down=timedelta(0),
        ),
    )
    await service.start()
    pipeline = CallPipeline([emergency_journal_stage(service)])
    tracker.subscribe(pipeline.submit)

    async def on_connected(_c: AmiClient) -> None:
        await service.on_ami_connected()

    client.on_connected.append(on_connected)
    client.start()
    watcher: asyncio.Task[None] | None = None
    try:
        await client.wait_connected(5)
        watcher = asyncio.create_task(service.run_health_watch(0.2))
        await until(lambda: [r.state for r in service.health()] == ["ok"])
        calls = [await pbx.place_call(f"1350000{i:04d}", patience=900) for i in range(5)]
        await until(lambda: len(pbx.queue_entries(MAIN)) == 5)
        waiting = [e.channel.name for e in pbx.queue_entries(MAIN)]

        failed_at = time.monotonic()
        proxy.freeze()
        await until(lambda: pbx.astdb.get("hotline/mode") == "emergency")
        routed_at = time.monotonic()
        await until(lambda: len(pbx.queue_entries(EMER)) == 5)
        moved_at = time.monotonic()
        status = service.status()
        assert status.active and status.by == "health-watch"
        assert "database failed: no answer within 0.5 s" in (status.reason or "")
        assert [e.channel.name for e in pbx.queue_entries(EMER)] == waiting
        assert pbx.queue_entries(MAIN) == [] and not any(c.finished.done() for c in calls)
        late = await pbx.place_call("13500009999", patience=900)
        await until(lambda: len(pbx.queue_entries(EMER)) == 6)
        assert not late.finished.done()
        print(
            f"\nfailover: probe 0.2 s / timeout 0.5 s / N=3: detection-to-routing "
            f"{routed_at - failed_at:.2f} s, 5 waiting callers moved in "
            f"{moved_at - routed_at:.2f} s"
        )

        proxy.thaw()
        await until(lambda: service.exit_recommended, timeout=30)
        assert service.status().active  # no automatic exit: the supervisor confirms
        await service.set_active(False, reason="database answers again", by="lead")
        assert pbx.astdb["hotline/mode"] == "normal"
        assert len(pbx.queue_entries(EMER)) == 6  # nobody waiting was moved back or dropped
        await pipeline.settled("emergency-journal", 10)
        assert len(await service.items()) == 6
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await client.stop()
        await service.stop()
        await pbx.stop()
        await proxy.stop()
        await engine.dispose()


async def test_controller_restart_during_the_outage_keeps_mode_and_paper_numbers(
    tmp_path,
) -> None:
    """The controller process dies mid-outage (no clean stop) and a new one starts on the
    same journal directory: it resumes emergency mode, the resync of the calls still waiting
    gives them back their paper numbers, and new calls continue the sequence."""
    pbx = PbxStandIn(speed=20, agi_port=closed_port(), prompt_seconds=0, auth_failure_delay=0)
    pbx.add_agent("PJSIP/1003", answer_after=None)
    await pbx.start()
    clock = lambda: datetime.now(UTC)  # noqa: E731

    async def controller() -> tuple[AmiClient, EmergencyService]:
        tracker = CallTracker()
        client = AmiClient(
            port=pbx.ami_port,
            username="hotline",
            secret="hotline-secret",
            tracker=tracker,
            ping_interval=2.0,
        )
        service = EmergencyService(
            control=client,
            switch=PbxSwitch(client, pool=["PJSIP/1003"]),
            journal=EmergencyJournal(tmp_path),
            paper=PaperNumberAllocator(tmp_path),
            sink=Sink(),
            clock=clock,
        )
        await service.start()
        tracker.subscribe(CallPipeline([emergency_journal_stage(service)]).submit)

        async def on_connected(_c: AmiClient) -> None:
            await service.on_ami_connected()

        client.on_connected.append(on_connected)
        client.start()
        await client.wait_connected(5)
        return client, service

    second_client: AmiClient | None = None
    first: EmergencyService | None = None
    try:
        client, first = await controller()
        await first.set_active(True, reason="database down", by="lead")
        calls = [await pbx.place_call(f"1330000{i:04d}", patience=900) for i in range(3)]
        await until(lambda: len(first.calls.paper_by_call) == 3)
        await first.drain()
        before = {c: first.paper_number_of(c) for c in first.calls.paper_by_call}
        # The process dies: its socket is gone, nothing is closed cleanly.
        client.close()
        await client.stop()

        second_client, second = await controller()
        await until(lambda: second.pbx_in_sync)
        assert second.status().active and second.status().reason == "database down"
        await until(lambda: first.ledger().calls.keys() <= second.calls.paper_by_call.keys())
        assert {c: second.paper_number_of(c) for c in before} == before
        await pbx.place_call("13300009999", patience=900)
        await until(lambda: len(second.calls.paper_by_call) == 4)
        await second.drain()
        new = set(second.calls.paper_by_call.values()) - set(before.values())
        assert new == {"E000004"}
        assert len(second.ledger().calls) == 4  # one journal record set per call, no twins
        assert not any(c.finished.done() for c in calls)
        await second.stop()
    finally:
        if second_client is not None:
            await second_client.stop()
        if first is not None:
            await first.stop()  # release the dead controller's file handles and worker
        await pbx.stop()
