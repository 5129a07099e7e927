"""The database side of a storm alone: what the tickets stage costs per call.

The real tickets stage (`routing.stages.tickets_stage`: `CallTicketService` over the
group-commit writer, the repeat-call rule, the on-call pager's durable request) runs in
the real `CallPipeline` (spool on) against a scratch database with a generated directory
of 2,000 sites, on SQLite and PostgreSQL. No PBX, IVR, websockets or console: the figures
are the database side's own. The domain events are made here, as the call tracker would
publish them, for callers drawn from the directory (levels 1-4 at random, so a quarter of
the calls page the engineer on call, and calls of one site join its open ticket):

* flash: N calls' start and queue join at once, then every answer, then every end;
* storm: S calls arriving evenly within T seconds, each answered A s after its queue
  join and ended 4 s later.

`--contenders K` keeps K busy tasks on the event loop (each burns 0.1 ms of CPU, then
waits 5 ms: 20 of them keep the loop about 40 % busy), as the PBX link, the IVR and the
websockets do in the whole hotline: every database round trip then costs a turn of a
busy loop, which is what makes round trips count there. (A loop kept busy all the time
is the other extreme: there a thread's round trip, every SQLite statement, waits for the
controller's `ThreadHandoff`, which this rig runs as the controller does; see
bench/thread_handoff.py.)

Measured per phase: tickets/s (first queue join handed to the pipeline to the last
ticket opened), queue join to ticket opened p50/p99, group-commit batches, SQL statements
and commits per call (by statement kind with --verbose), CPU ms per call; during the
storm, the database health probe's time (the emergency switch's write probe, every
0.25 s; it fails at 2 s). Then one call's four events alone, one after the other, with
the statements each runs.

Baseline in the same run: the same rows (a ticket, its first history row and a call
record per call) written by plain Core executemany statements, 50 calls a transaction:
what the database takes when nothing but the rows is written.

    .venv/bin/python bench/call_writes.py [--db sqlite|postgresql|both] [--calls 200]
        [--storm 500] [--storm-seconds 10] [--contenders 20] [--window-ms 0] [-v]

Numbers only; nothing is asserted. The last line of output is one JSON object,
`{"bench": "call_writes", "runs": {RUN: {...figures...}}}`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Table, insert  # noqa: E402
from sqlalchemy import event as sa_event  # noqa: E402

from bus.inprocess import InProcessBus  # noqa: E402
from calls import (  # noqa: E402
    CallAnswered,
    CallEnded,
    CallOutcome,
    CallQueued,
    CallSnapshot,
    CallStarted,
    CallState,
)
from fallback.health import DatabaseWriteProbe  # noqa: E402
from lifecycle import ThreadHandoff  # noqa: E402
from pipeline import CallPipeline  # noqa: E402
from pipeline.spool import EventSpool  # noqa: E402
from routing.agent_names import AgentNames  # noqa: E402
from routing.domain.levels import SlaPolicy  # noqa: E402
from routing.stages import tickets_stage  # noqa: E402
from routing.tickets import CallTicketService  # noqa: E402
from storage.components import StorageDeps  # noqa: E402
from storage.components import build as build_storage  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import CallRow, TicketHistoryRow, TicketRow  # noqa: E402
from storage.site_import import import_sites  # noqa: E402
from storage.users import UserRepository  # noqa: E402
from supervision.oncall.service import OnCallService  # noqa: E402
from testkit.call_snapshots import call_snapshot  # noqa: E402
from testkit.demo_directory import generate, write_csv  # noqa: E402
from testkit.scratch_db import create_scratch_postgres, drop_scratch_postgres  # noqa: E402

AGENTS = 100
BATCH = 50  # the baseline's calls per transaction (the group commit's largest batch)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Counters:
    statements: dict[str, int] = field(default_factory=dict)
    commits: int = 0

    def attach(self, db: Database) -> None:
        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            words = statement.split()
            key = " ".join(words[:3])[:40] if words else "?"
            self.statements[key] = self.statements.get(key, 0) + 1

        def commit(_conn: Any) -> None:
            self.commits += 1

        for engine in {db.engine, db.read_engine}:
            sa_event.listen(engine.sync_engine, "before_cursor_execute", count)
            sa_event.listen(engine.sync_engine, "commit", commit)

    def snapshot(self) -> tuple[dict[str, int], int]:
        return dict(self.statements), self.commits


@dataclass
class Phase:
    name: str
    calls: int
    tickets_per_s: float
    ticket_ms: list[float]
    statements: dict[str, int]
    commits: int
    cpu_ms: float
    batches: int
    largest: int
    probe_ms: list[float] = field(default_factory=list)
    probe_failed: int = 0

    def figures(self) -> dict[str, Any]:
        total = sum(self.statements.values())
        return {
            "calls": self.calls,
            "tickets_per_s": round(self.tickets_per_s, 1),
            "ticket_p50_ms": round(pct(self.ticket_ms, 0.5), 1),
            "ticket_p99_ms": round(pct(self.ticket_ms, 0.99), 1),
            "statements_per_call": round(total / max(1, self.calls), 2),
            "commits_per_call": round(self.commits / max(1, self.calls), 2),
            "cpu_ms_per_call": round(self.cpu_ms / max(1, self.calls), 2),
            "batches": self.batches,
            "largest_batch": self.largest,
            "probe_p99_ms": round(pct(self.probe_ms, 0.99), 1) if self.probe_ms else None,
            "probe_max_ms": round(max(self.probe_ms), 1) if self.probe_ms else None,
            "probe_failed": self.probe_failed,
        }


# How long a contender waits between its bursts of CPU.
PAUSE = 0.005


class Contenders:
    """K tasks that each burn 0.1 ms of CPU, then wait `PAUSE` seconds."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.tasks: list[asyncio.Task[None]] = []
        self.burned = 0.0  # CPU seconds spent spinning

    async def _spin(self) -> None:
        while True:
            start = time.perf_counter()
            while time.perf_counter() < start + 0.0001:
                pass
            self.burned += time.perf_counter() - start
            await asyncio.sleep(PAUSE)

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._spin()) for _ in range(self.count)]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def callers(rows: list[dict[str, str]], count: int, seed: int) -> list[tuple[str, str, int]]:
    """(site code, caller number, level) for `count` calls from the directory."""
    rng = random.Random(seed)
    picked = [rng.choice(rows) for _ in range(count)]
    return [(r["site_code"], r["contact_phone"], rng.choice((1, 2, 3, 4))) for r in picked]


def call_events(call_id: str, site: str, number: str, level: int, at: datetime) -> dict[str, Any]:
    """The tracker's events of one answered call, by name."""
    base = call_snapshot(
        call_id,
        at,
        state=CallState.IN_IVR,
        queue=None,
        queued_at=None,
        caller_number=number,
        site_code=site,
        level=level,
        variables={"HOTLINE_SITE": site, "HOTLINE_LEVEL": str(level)},
    )
    queued_at = at + timedelta(seconds=20)
    queued = replace(base, state=CallState.QUEUED, queue="hotline-main", queued_at=queued_at)
    agent = f"PJSIP/{2000 + int(call_id.rsplit('-', 1)[1]) % AGENTS + 1}"
    answered_at = queued_at + timedelta(seconds=15)
    connected = replace(
        queued,
        state=CallState.CONNECTED,
        agent_interface=agent,
        answered_at=answered_at,
        hold_seconds=15,
    )
    ended_at = answered_at + timedelta(minutes=4)
    ended: CallSnapshot = replace(
        connected,
        state=CallState.ENDED,
        ended_at=ended_at,
        outcome=CallOutcome.ANSWERED,
        talk_seconds=240,
    )
    return {
        "started": CallStarted(base, at),
        "queued": CallQueued(queued, queued_at, position=1),
        "answered": CallAnswered(connected, answered_at, interface=agent, hold_seconds=15),
        "ended": CallEnded(ended, ended_at),
    }


@contextlib.asynccontextmanager
async def scratch(kind: str, tmp: Path, rows: list[dict[str, str]]) -> AsyncIterator[str]:
    if kind == "sqlite":
        url = f"sqlite:///{tmp / 'bench.db'}"
    else:
        url = await asyncio.to_thread(create_scratch_postgres, None, "hotline_bench")
    try:
        await asyncio.to_thread(upgrade, url)
        await asyncio.to_thread(write_csv, rows, tmp / "sites.csv")
        db = Database(url)
        try:
            await import_sites(db, tmp / "sites.csv")
            users = UserRepository(db)
            for i in range(1, AGENTS + 1):
                await users.create(f"agent{i:03d}", "agent", "bench-password", f"PJSIP/{2000 + i}")
        finally:
            await db.dispose()
        yield url
    finally:
        if kind != "sqlite":
            await asyncio.to_thread(drop_scratch_postgres, url)


class Rig:
    """The tickets stage on a database, with the points the bench times."""

    def __init__(self, url: str, tmp: Path, window_ms: float) -> None:
        from hotline.settings import Settings

        settings = Settings(
            db_url=url,
            journal_dir=tmp / "journal",
            sounds_dir=tmp / "sounds",
            db_batch_window_ms=window_ms,
        )
        self.store = build_storage(settings, StorageDeps(SlaPolicy(), InProcessBus()))
        self.pager = OnCallService(self.store.oncall(), {})
        self.service = CallTicketService(
            tickets=self.store.tickets,
            calls=self.store.calls,
            writes=self.store.writes,
            sites=self.store.sites,
            users=self.store.users,
            policy=SlaPolicy(),
            repeats=self.store.repeats,
            repeat_window=timedelta(minutes=settings.repeat_window_minutes),
            pager=self.pager,
            agent_names=AgentNames(self.store.users),
        )
        self.pipeline = CallPipeline(
            [tickets_stage(self.service)], spool=EventSpool(tmp / "spool.jsonl")
        )
        self.counters = Counters()
        self.counters.attach(self.store.db)
        self.ticketed: dict[str, float] = {}
        open_ticket = self.service.open_ticket

        async def stamped(call: Any, at: Any) -> Any:
            ticket = await open_ticket(call, at)
            self.ticketed.setdefault(call.call_id, time.perf_counter())
            return ticket

        self.service.open_ticket = stamped  # type: ignore[method-assign]
        self.probe = DatabaseWriteProbe(self.store.probe_table(), timeout=2.0)
        self.contenders = Contenders(0)
        self.handoff = ThreadHandoff()

    def cpu(self) -> float:
        """CPU seconds of the process (every thread) but the contenders' spinning."""
        return time.process_time() - self.contenders.burned

    async def start(self) -> None:
        assert self.pipeline.spool is not None
        await self.handoff.start()  # as the controller runs it: see lifecycle.thread_handoff
        self.pipeline.spool.open()
        await self.store.sites.load_changed(everything=True)

    async def stop(self) -> None:
        await self.pipeline.stop()
        await self.store.writes.commits.stop()
        await self.store.db.dispose()
        await self.handoff.stop()

    @property
    def commits_stats(self) -> tuple[int, int]:
        stats = self.store.writes.commits.stats
        return stats.batches, stats.largest


async def flash(rig: Rig, calls: list[dict[str, Any]], name: str) -> Phase:
    before, commits_before = rig.counters.snapshot()
    batches_before = rig.commits_stats[0]
    cpu = rig.cpu()
    joined: dict[str, float] = {}
    for events in calls:
        rig.pipeline.submit(events["started"])
        rig.pipeline.submit(events["queued"])
        joined[events["queued"].call_id] = time.perf_counter()
    await rig.pipeline.settled("tickets", 600)
    for kind in ("answered", "ended"):
        for events in calls:
            rig.pipeline.submit(events[kind])
        await rig.pipeline.settled("tickets", 600)
    return measured(rig, name, calls, joined, before, commits_before, batches_before, cpu)


async def storm(rig: Rig, calls: list[dict[str, Any]], seconds: float, name: str) -> Phase:
    before, commits_before = rig.counters.snapshot()
    batches_before = rig.commits_stats[0]
    cpu = rig.cpu()
    joined: dict[str, float] = {}
    probe_ms: list[float] = []
    failed = 0
    done = asyncio.Event()

    async def probing() -> None:
        nonlocal failed
        while not done.is_set():
            start = time.perf_counter()
            try:
                async with asyncio.timeout(rig.probe.timeout):
                    await rig.probe.check()
            except Exception:
                failed += 1
            probe_ms.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.25)

    async def life(events: dict[str, Any]) -> None:
        rig.pipeline.submit(events["started"])
        rig.pipeline.submit(events["queued"])
        joined[events["queued"].call_id] = time.perf_counter()
        await asyncio.sleep(2.0)
        rig.pipeline.submit(events["answered"])
        await asyncio.sleep(4.0)
        rig.pipeline.submit(events["ended"])

    prober = asyncio.create_task(probing())
    gap = seconds / max(1, len(calls))
    lives = []
    for events in calls:
        lives.append(asyncio.create_task(life(events)))
        await asyncio.sleep(gap)
    await asyncio.gather(*lives)
    await rig.pipeline.settled("tickets", 600)
    done.set()
    await prober
    phase = measured(rig, name, calls, joined, before, commits_before, batches_before, cpu)
    phase.probe_ms, phase.probe_failed = probe_ms, failed
    return phase


def measured(
    rig: Rig,
    name: str,
    calls: list[dict[str, Any]],
    joined: dict[str, float],
    before: dict[str, int],
    commits_before: int,
    batches_before: int,
    cpu_before: float,
) -> Phase:
    cpu_ms = (rig.cpu() - cpu_before) * 1000
    after, commits = rig.counters.snapshot()
    statements = {k: n - before.get(k, 0) for k, n in after.items() if n > before.get(k, 0)}
    ids = [events["queued"].call_id for events in calls]
    spans = [(rig.ticketed[c] - joined[c]) * 1000 for c in ids if c in rig.ticketed]
    first = min(joined[c] for c in ids)
    last = max((rig.ticketed[c] for c in ids if c in rig.ticketed), default=first)
    batches, largest = rig.commits_stats
    return Phase(
        name,
        len(calls),
        len(spans) / max(1e-6, last - first),
        spans,
        statements,
        commits - commits_before,
        cpu_ms,
        batches - batches_before,
        largest,
    )


async def lone_call(rig: Rig, events: dict[str, Any]) -> dict[str, dict[str, int]]:
    """One call's events alone, one after the other: the statements each runs."""
    per_event: dict[str, dict[str, int]] = {}
    for kind in ("started", "queued", "answered", "ended"):
        before, _ = rig.counters.snapshot()
        rig.pipeline.submit(events[kind])
        await rig.pipeline.settled("tickets", 60)
        after, _ = rig.counters.snapshot()
        per_event[kind] = {
            k: n - before.get(k, 0) for k, n in after.items() if n > before.get(k, 0)
        }
    return per_event


async def baseline(url: str, calls: list[dict[str, Any]]) -> float:
    """Tickets/s of plain Core executemany: ticket, first history row, call record."""
    db = Database(url)
    # Mapped classes declare `__table__` as a FromClause; these are Tables.
    tickets = cast(Table, TicketRow.__table__)
    history = cast(Table, TicketHistoryRow.__table__)
    records = cast(Table, CallRow.__table__)
    now = datetime.now(UTC)
    start = time.perf_counter()
    try:
        for first in range(0, len(calls), BATCH):
            chunk = calls[first : first + BATCH]
            async with db.sessions.begin() as session:
                ticket_rows = [
                    {
                        "number": f"BASE-{first + i:06d}",
                        "call_id": f"base-{first + i}",
                        "level": 2,
                        "status": "open",
                        "source": "call",
                        "caller_number": e["queued"].call.caller_number,
                        "created_at": now,
                        "updated_at": now,
                        "response_due": now,
                    }
                    for i, e in enumerate(chunk)
                ]
                ids = (
                    await session.execute(
                        insert(tickets).returning(tickets.c.id, sort_by_parameter_order=True),
                        ticket_rows,
                    )
                ).scalars()
                await session.execute(
                    insert(history),
                    [{"ticket_id": i, "at": now, "by": "system", "field": "ticket"} for i in ids],
                )
                await session.execute(
                    insert(records),
                    [
                        {
                            "call_id": row["call_id"],
                            "caller_number": row["caller_number"],
                            "caller_name": "",
                            "started_at": now,
                            "updated_at": now,
                        }
                        for row in ticket_rows
                    ],
                )
    finally:
        await db.dispose()
    return len(calls) / (time.perf_counter() - start)


async def run_kind(kind: str, args: argparse.Namespace, rows: list[dict[str, str]]) -> list[Any]:
    sites = callers(rows, args.calls + args.storm + 1, seed=13)
    at = datetime.now(UTC)

    def made(prefix: str, picked: list[tuple[str, str, int]]) -> list[dict[str, Any]]:
        return [call_events(f"{prefix}-{i}", *p, at) for i, p in enumerate(picked)]

    flash_calls = made("flash", sites[: args.calls])
    storm_calls = made("storm", sites[args.calls : args.calls + args.storm])
    (lone,) = made("lone", sites[-1:])
    with tempfile.TemporaryDirectory(prefix="call-writes-") as tmpdir:
        async with scratch(kind, Path(tmpdir), rows) as url:
            base = await baseline(url, flash_calls)
            rig = Rig(url, Path(tmpdir), args.window_ms)
            rig.contenders = contenders = Contenders(args.contenders)
            await rig.start()
            contenders.start()
            try:
                phases = [await flash(rig, flash_calls, f"{kind} flash")]
                if args.storm:
                    phases.append(
                        await storm(rig, storm_calls, args.storm_seconds, f"{kind} storm")
                    )
                per_event = await lone_call(rig, lone)
            finally:
                await contenders.stop()
                await rig.stop()
    return [kind, base, phases, per_event]


def report(kind: str, base: float, phases: list[Phase], per_event: Any, verbose: bool) -> None:
    print(
        f"== {kind}: baseline (plain executemany, {BATCH} calls a transaction):"
        f" {base:.0f} tickets/s"
    )
    for p in phases:
        f = p.figures()
        print(
            f"{p.name}: {f['tickets_per_s']} tickets/s; join -> ticket p50 {f['ticket_p50_ms']} ms"
            f" p99 {f['ticket_p99_ms']} ms; {f['statements_per_call']} statements and"
            f" {f['commits_per_call']} commits per call; {f['cpu_ms_per_call']} ms CPU per call;"
            f" {f['batches']} batches (largest {f['largest_batch']})"
        )
        if p.probe_ms:
            print(
                f"{p.name}: health probe p99 {f['probe_p99_ms']} ms, max {f['probe_max_ms']} ms,"
                f" {p.probe_failed} failed of {len(p.probe_ms)}"
            )
        if verbose:
            for key, n in sorted(p.statements.items(), key=lambda kv: -kv[1]):
                print(f"    {n / p.calls:6.2f}  {key}")
    for kind_, statements in per_event.items():
        shown = ", ".join(f"{k} x{n}" for k, n in sorted(statements.items()))
        print(f"  lone call, {kind_}: {sum(statements.values())} statements: {shown}")


async def main(args: argparse.Namespace) -> None:
    rows = generate(7, 2000, around=date.today())
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    line: dict[str, Any] = {
        "bench": "call_writes",
        "contenders": args.contenders,
        "window_ms": args.window_ms,
        "runs": {},
    }
    for kind in kinds:
        _, base, phases, per_event = await run_kind(kind, args, rows)
        report(kind, base, phases, per_event, args.verbose)
        line["runs"][f"{kind} baseline"] = {"tickets_per_s": round(base, 1)}
        for p in phases:
            line["runs"][p.name] = p.figures()
        line["runs"][f"{kind} lone call"] = {k: sum(v.values()) for k, v in per_event.items()}
    print(json.dumps(line, ensure_ascii=False))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--storm", type=int, default=500)
    parser.add_argument("--storm-seconds", type=float, default=10.0)
    parser.add_argument("--contenders", type=int, default=20)
    parser.add_argument(
        "--window-ms", type=float, default=0.0, help="the group commit's batching window"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    asyncio.run(main(parser.parse_args()))
