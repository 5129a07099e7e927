"""Screen-pop latency and automatic-ticket throughput of the whole hotline.

The real `HotlineService` (AMI controller, call tracker, event pipeline, ticket service,
screen-pop fan-out, FastAGI IVR, console on uvicorn) runs against the loopback PBX
stand-in with a generated directory of 2,000 sites. N agents log in through
`POST /api/login`, open `/ws/console` (real websocket clients) and press Ready
(`POST /api/agent/state` → QueueAdd on the stand-in). Callers from the directory (numbers
that identify one site) then dial, pass the IVR, queue and are answered, in phases:

* steady: C callers arriving at `--rate` per second, talking long enough that all C are
  in progress together at the end of the ramp (N talking, C-N queued): the pop target;
* flash: C more callers in one instant (overload): the sustained ticket-creation rate of
  the whole path, and what the pop latency becomes when tickets queue up behind the
  database.

Measured:
* pop latency: from the moment the stand-in writes `AgentConnect` (an event sink on the
  simulation, called as the event is queued for the AMI socket) to the moment the
  answering agent's websocket client has received and parsed `screen_pop`; and its three
  legs: to `CallAnswered` out of the call tracker, to the pop published on the bus, to
  the agent's client;
* ticket creations per second sustained (first queue join to last ticket of the phase);
* misdirected pops (a pop on a socket whose agent did not answer the call): must be 0;
* per call, queue join (the stand-in writes `QueueCallerJoin`) to ticket written;
* routing-advice timeouts (the IVR's one log line per miss) and group-commit batch sizes.

A third phase, storm: S more callers (default 500) arriving within `--storm-seconds`
(default 10) at the same agents, a province-wide outage.

Layout (`--layout`, printed in the output). two-process, the default, is production's
shape on one machine: the load (the stand-in generating every AMI event and FastAGI
session, the callers, the agents' websocket clients) runs in this process, and the
controller (`HotlineService` with the benchmark's probes, `screenpop_controller`) in a
process of its own, as Asterisk and the agents' browsers are other processes than the
controller in production. all-in-one runs both in this one event loop. Every time is
`time.monotonic()`, one clock for both processes on Linux: pops and queue joins are
stamped here, tickets and tracker events in the controller.

Also measured: the CPU the controller process spent per call in each phase (every
thread; in all-in-one that is the whole process, load included), and with
`--cprofile DIR` each phase's profile of the controller's event loop.

Baseline in the same run: the floor of the delivery path without any call work, i.e.
the same pop message published on the bus straight to the agent's topic (in the
controller) and received on the agent's websocket, under the same 100 open sockets.

    .venv/bin/python bench/screenpop.py [--calls 200] [--agents 100] [--rate 5]
        [--db sqlite|postgresql|both] [--no-flash] [--storm 500] [--storm-seconds 10]
        [--layout two-process|all-in-one] [--event-loop uvloop|asyncio] [--profile]
        [--cprofile DIR]

`--profile` adds each pipeline handler's time per event type and the SQL statement counts.

Numbers only; nothing here is asserted. The last line of output is one JSON object,
`{"bench": "screenpop", "layout": LAYOUT, "event_loop": LOOP, "runs": {RUN: {...}}}`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn  # noqa: E402
from rich.table import Table  # noqa: E402
from screenpop_controller import (  # noqa: E402
    Controller,
    ControllerSide,
    Started,
    spawn_controller,
)
from screenpop_setup import (  # noqa: E402
    PASSWORD,
    Agent,
    Result,
    callers_from,
    free_port,
    pct,
    prepare,
    read_socket,
    scratch_database,
)
from websockets.asyncio.client import connect  # noqa: E402

from hotline.cli import loop_factory  # noqa: E402
from pbx import CallerScript, PbxStandIn, SimCall  # noqa: E402
from testkit.demo_directory import generate  # noqa: E402

console = Console(width=150)


LAYOUTS = ("two-process", "all-in-one")


def controller_for(args: argparse.Namespace) -> Controller:
    if args.layout == "two-process":
        return spawn_controller(args.verbose, args.event_loop)
    return ControllerSide()


async def run_one(kind: str, args: argparse.Namespace, rows: list[dict[str, str]]) -> list[Result]:
    agents = [Agent(f"agent{i:03d}", f"PJSIP/{2000 + i}") for i in range(1, args.agents + 1)]
    with tempfile.TemporaryDirectory(prefix="screenpop-") as tmpdir:
        tmp = Path(tmpdir)
        async with scratch_database(kind, tmp) as db_url:
            console.print(f"[bold]{kind}[/bold]: preparing {db_url.split('@')[-1]}")
            await prepare(db_url, rows, agents, tmp)
            pbx = PbxStandIn(
                speed=args.speed, agi_port=free_port(), auth_failure_delay=0, prompt_seconds=0.5
            )
            for agent in agents:
                pbx.add_agent(agent.interface, answer_after=args.answer_after)
            connect_at: dict[str, float] = {}
            queued_at: dict[str, float] = {}

            def sink(headers: list[tuple[str, str]]) -> None:
                event = headers[0][1] if headers else ""
                if event == "AgentConnect" or event == "QueueCallerJoin":
                    now = time.monotonic()
                    linkedid = next((v for k, v in headers if k == "Linkedid"), "")
                    (connect_at if event == "AgentConnect" else queued_at).setdefault(linkedid, now)

            pbx.sim.add_sink(sink)
            await pbx.start()
            settings = {
                "ami_port": pbx.ami_port,
                "ami_user": "hotline",
                "ami_secret": "hotline-secret",
                "agi_port": 0,
                "http_port": 0,
                "db_url": db_url,
                "journal_dir": tmp / "journal",
                "sounds_dir": tmp / "sounds",
            }
            controller = controller_for(args)
            try:
                started = await controller.start(settings, args.profile)
                console.print(layout_line(args, started))
                pbx.set_agi_target("127.0.0.1", started.ivr_port)
                run = Run(kind, args, controller, pbx, connect_at, queued_at, started)
                results = await run.drive(rows, agents)
                stamps = await controller.stamps()
                received = {call: at for agent in agents for call, at in agent.pops.items()}
                stamps.apply(results, queued_at, connect_at, received)
                stamps.print_profile()
                return results
            finally:
                for agent in agents:
                    if agent.connection is not None:
                        await agent.connection.close()
                    if agent.reader is not None:
                        with contextlib.suppress(BaseException):
                            await agent.reader
                await controller.stop()
                await pbx.stop()


def layout_line(args: argparse.Namespace, started: Started) -> str:
    if args.layout == "all-in-one":
        return (
            f"layout all-in-one: one process (pid {started.pid}), one event loop: PBX stand-in, "
            "callers, agent websocket clients and the controller"
        )
    return (
        f"layout two-process: load (pid {os.getpid()}): PBX stand-in (AMI server, FastAGI "
        f"client), callers, {args.agents} agent websocket clients | controller (pid "
        f"{started.pid}): HotlineService (AMI client, call tracker, pipeline, tickets, "
        "screen-pop fan-out, FastAGI IVR, console on uvicorn)"
    )


async def restart_readers(agents: list[Agent], progress: Progress, task: Any) -> None:
    """The agents' socket readers, counting pops into the next phase's progress bar."""
    for agent in agents:
        if agent.reader is not None:
            agent.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await agent.reader
        agent.reader = asyncio.create_task(read_socket(agent, progress, task))


@dataclass
class Run:
    """One database's run: the load side's view of the controller and the stand-in."""

    kind: str
    args: argparse.Namespace
    controller: Controller
    pbx: PbxStandIn
    connect_at: dict[str, float]
    queued_at: dict[str, float]
    started: Started

    async def drive(self, rows: list[dict[str, str]], agents: list[Agent]) -> list[Result]:
        kind, args = self.kind, self.args
        with Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=False,
        ) as progress:
            await self.log_in(agents, progress)
            t_pops = progress.add_task(f"{kind}: screen-pops", total=args.calls)
            for agent in agents:
                agent.reader = asyncio.create_task(read_socket(agent, progress, t_pops))
            baseline = await self.baseline(rows[0]["site_code"], agents, progress)
            idle_cpu = await self.idle_cpu()
            callers = callers_from(rows, args.calls * 2 + args.storm, seed=5)
            # Phase 1 "steady": C callers arriving at a steady rate; talk long enough that
            # all of them are in progress together at the end of the ramp (N talking,
            # C-N queued).
            phases = [("steady", callers[: args.calls], args.calls / args.rate, args.talk)]
            if args.flash:
                # Phase 2 "flash": the same number of callers at once (overload): how many
                # tickets per second the whole path sustains, and the pop latency then.
                flash = callers[args.calls : args.calls * 2]
                phases.append(("flash", flash, 0.0, args.flash_talk))
                if args.storm:
                    # Phase 3 "storm": a province-wide outage, S callers within seconds.
                    storm = callers[args.calls * 2 : args.calls * 2 + args.storm]
                    phases.append(("storm", storm, args.storm_seconds, args.flash_talk))
            results: list[Result] = []
            by_interface = {a.interface: a for a in agents}
            for name, phase_callers, ramp, talk in phases:
                if results:
                    task = progress.add_task(f"{kind}: {name} pops", total=len(phase_callers))
                    await restart_readers(agents, progress, task)
                else:
                    task = t_pops
                result = await self.phase(
                    f"{kind} {name}",
                    progress,
                    task,
                    phase_callers,
                    ramp=ramp,
                    talk=talk,
                    by_interface=by_interface,
                )
                result.baseline_ms = baseline
                result.idle_cpu_per_s = idle_cpu
                results.append(result)
            return results

    async def log_in(self, agents: list[Agent], progress: Progress) -> None:
        t_login = progress.add_task(f"{self.kind}: agents ready", total=len(agents))
        base = self.started.console_url
        ws_base = base.replace("http://", "ws://")
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for agent in agents:
                r = await http.post(
                    "/api/login", json={"username": agent.username, "password": PASSWORD}
                )
                r.raise_for_status()
                agent.token = r.json()["token"]
                agent.connection = await connect(
                    f"{ws_base}/ws/console?token={agent.token}", open_timeout=30
                )
                hello = json.loads(await agent.connection.recv())
                assert hello["type"] == "hello"
                r = await http.post(
                    "/api/agent/state",
                    json={"state": "ready"},
                    headers={"Authorization": f"Bearer {agent.token}"},
                )
                r.raise_for_status()
                progress.advance(t_login)

    async def idle_cpu(self) -> float:
        """The controller's CPU seconds per second with the agents connected and no call:
        its background work (wallboard, session re-checks, health probe, SLA clock)."""
        seconds = float(self.args.idle_seconds)
        if seconds <= 0:
            return 0.0
        before = await self.controller.counters()
        await asyncio.sleep(seconds)
        after = await self.controller.counters()
        return (after.cpu_s - before.cpu_s) / max(seconds, 1e-6)

    async def baseline(
        self, site_code: str, agents: list[Agent], progress: Progress
    ) -> list[float]:
        """The bare delivery path (bus → websocket), same sockets, no call work."""
        calls = self.args.calls
        baseline: list[float] = []
        t_base = progress.add_task(f"{self.kind}: baseline", total=calls)
        for i in range(calls):
            agent = agents[i % len(agents)]
            marker = f"b{i}"
            agent.marker_seen.clear()
            sent = await self.controller.publish_marker(agent.username, marker, site_code)
            async with asyncio.timeout(10):
                while marker not in agent.markers:
                    await agent.marker_seen.wait()
                    agent.marker_seen.clear()
            baseline.append((agent.markers[marker] - sent) * 1000)
            progress.advance(t_base)
        return baseline

    async def phase(
        self,
        name: str,
        progress: Progress,
        pops_task: Any,
        callers: list[tuple[str, str]],
        *,
        ramp: float,
        talk: float,
        by_interface: dict[str, Agent],
    ) -> Result:
        controller = self.controller
        t_calls = progress.add_task(f"{name}: calls placed", total=len(callers))
        t_tickets = progress.add_task(f"{name}: tickets", total=len(callers))
        before = await controller.counters()
        console.print(f"{name}: placing {len(callers)} calls over {ramp:g} s")
        load_cpu = time.process_time()
        if self.args.cprofile:
            await controller.cprofile(None)
        placed: list[SimCall] = []
        started = time.monotonic()
        gap = ramp / max(1, len(callers))
        live = peak_live = 0

        def ended(_: object) -> None:
            nonlocal live
            live -= 1

        async def watch() -> None:
            while True:  # the ticket count is a request to the controller: twice a second
                counters = await controller.counters()
                progress.update(t_tickets, completed=counters.opened - before.opened)
                await asyncio.sleep(0.5)

        watcher = asyncio.create_task(watch())
        for number, level in callers:
            call = await self.pbx.place_call(
                number, "", script=CallerScript((level,)), talk_time=talk, patience=900
            )
            placed.append(call)
            live += 1
            peak_live = max(peak_live, live)
            call.finished.add_done_callback(ended)
            progress.advance(t_calls)
            if gap:
                await asyncio.sleep(gap)
        results = await asyncio.wait_for(
            asyncio.gather(*(c.finished for c in placed), return_exceptions=True), 900
        )
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        left = await controller.drain(60)
        if left:
            console.print(f"{name}: the pipeline still had {left} events after 60 s")
        await asyncio.sleep(0.2)  # last frames in flight
        elapsed = time.monotonic() - started
        after = await controller.counters()
        if self.args.cprofile:
            path = Path(self.args.cprofile) / f"{name.replace(' ', '-')}.prof"
            await controller.cprofile(str(path))
            console.print(f"{name}: controller profile in {path}")
        stamps = await controller.stamps()
        ticketed = [
            stamps.ticketed_at[c.linkedid] for c in placed if c.linkedid in stamps.ticketed_at
        ]

        latencies: list[float] = []
        misdirected = missing = 0
        answered = sum(
            1 for r in results if not isinstance(r, BaseException) and r.outcome == "answered"
        )
        agents = list(by_interface.values())
        for call in placed:
            if call.agent_interface is None:
                continue
            owner = by_interface[call.agent_interface]
            got = owner.pops.get(call.linkedid)
            sent_at = self.connect_at.get(call.linkedid)
            if got is None or sent_at is None:
                missing += 1
                continue
            latencies.append((got - sent_at) * 1000)
            for other in agents:
                if other is not owner and call.linkedid in other.pops:
                    misdirected += 1
        tickets = after.opened - before.opened
        joins = [self.queued_at[c.linkedid] for c in placed if c.linkedid in self.queued_at]
        first_join = min(joins) if joins else started
        window = max(1e-6, (max(ticketed) if ticketed else started) - first_join)
        batches = {
            size: n - before.batches.get(size, 0)
            for size, n in after.batches.items()
            if n > before.batches.get(size, 0)
        }
        return Result(
            name,
            latencies,
            [],
            tickets,
            tickets / window,
            misdirected,
            missing,
            answered,
            elapsed,
            peak_live=peak_live,
            calls=len(placed),
            ramp=ramp,
            call_ids=[c.linkedid for c in placed],
            advice_timeouts=after.advice_timeouts - before.advice_timeouts,
            batches=batches,
            join_spread_s=(max(joins) - first_join) if joins else 0.0,
            controller_cpu_s=after.cpu_s - before.cpu_s,
            load_cpu_s=time.process_time() - load_cpu,
            emergency=after.emergency,
            threads_cpu_s={k: v - before.threads.get(k, 0.0) for k, v in after.threads.items()},
        )


def report(results: list[Result], args: argparse.Namespace) -> None:
    console.rule("[bold]screen-pop benchmark")
    console.print(
        f"configuration: {args.agents} agents ready (rrmemory, answer after "
        f"{args.answer_after:g} s simulated); steady: {args.calls} calls at {args.rate:g}/s, "
        f"talk {args.talk:g} s; flash: {args.calls} calls at once, talk {args.flash_talk:g} s "
        f"(simulated time x{args.speed:g}); 2,000-site generated directory; "
        f"{os.cpu_count()} CPU(s), Python {sys.version.split()[0]}; layout {args.layout}, "
        f"controller on {args.event_loop}"
    )
    table = Table()
    for col in (
        "run",
        "calls",
        "ramp s",
        "peak live",
        "pops",
        "p50 ms",
        "p99 ms",
        "max ms",
        "mean ms",
        "baseline p50/p99 ms",
        "tickets",
        "tickets/s",
        "misdirected",
        "missing",
        "answered",
    ):
        table.add_column(col, justify="right")
    for r in results:
        lat = r.latencies_ms or [float("nan")]
        table.add_row(
            r.db,
            str(r.calls),
            f"{r.ramp:.1f}",
            str(r.peak_live),
            str(len(r.latencies_ms)),
            f"{pct(lat, 0.50):.1f}",
            f"{pct(lat, 0.99):.1f}",
            f"{max(lat):.1f}",
            f"{statistics.fmean(lat):.1f}",
            f"{pct(r.baseline_ms, 0.5):.2f} / {pct(r.baseline_ms, 0.99):.2f}",
            str(r.tickets),
            f"{r.tickets_per_s:.0f}",
            str(r.misdirected),
            str(r.missing),
            f"{r.answered}/{r.calls}",
        )
    console.print(table)
    for r in results:
        if r.ticket_ms:
            console.print(
                f"{r.db}: queue joins over {r.join_spread_s:.1f} s; queue join -> ticket "
                f"written: p50 {pct(r.ticket_ms, 0.5):.0f} ms, "
                f"p99 {pct(r.ticket_ms, 0.99):.0f} ms; routing-advice timeouts "
                f"{r.advice_timeouts}; group-commit batches {sum(r.batches.values())}, "
                f"largest {max(r.batches) if r.batches else 0}"
            )
        own = "controller" if args.layout == "two-process" else "whole process"
        console.print(
            f"{r.db}: CPU of the {own} {r.controller_cpu_s:.1f} s, "
            f"{r.cpu_ms_per_call:.1f} ms per call, {r.net_cpu_ms_per_call:.1f} ms net of its "
            f"idle {r.idle_cpu_per_s * 1000:.0f} ms/s over {r.elapsed:.0f} s"
            + " ("
            + ", ".join(f"{kind} {s:.1f} s" for kind, s in r.threads_cpu_s.items())
            + ")"
            + (f"; load process {r.load_cpu_s:.1f} s" if args.layout == "two-process" else "")
        )
        if r.legs_ms:
            console.print(
                f"{r.db}: the pop's legs, p50 / p99 ms: "
                + "; ".join(
                    f"{leg} {pct(v, 0.5):.1f} / {pct(v, 0.99):.1f}"
                    for leg, v in r.legs_ms.items()
                    if v
                )
            )
        if r.slowest_pops:
            console.print(
                f"{r.db}: slowest pops, ms (legs in order): "
                + "; ".join(
                    f"{pop['pop']:.1f} ("
                    + " + ".join(f"{v:.1f}" for leg, v in pop.items() if leg != "pop")
                    + ")"
                    for pop in r.slowest_pops
                )
            )
        p99 = pct(r.latencies_ms, 0.99) if r.latencies_ms else float("inf")
        if r.db.endswith("steady"):
            verdicts = [("pop p99 <= 10 ms", p99 <= 10)]
        else:
            verdicts = [("pop p99 < 100 ms", p99 < 100)]
        if r.db.endswith("flash"):
            verdicts += [
                ("tickets/s >= 200", r.tickets_per_s >= 200),
                ("no routing-advice timeout", r.advice_timeouts == 0),
            ]
        if r.db.endswith("storm"):
            ticket_p99 = pct(r.ticket_ms, 0.99) if r.ticket_ms else float("inf")
            verdicts.append(("ticketed within 1 s (p99)", ticket_p99 <= 1000))
        verdicts.append(("no misdirected or missing pop", r.misdirected == 0 and r.missing == 0))
        verdicts.append((f"every call answered ({r.answered}/{r.calls})", r.answered == r.calls))
        verdicts.append(("no switch to emergency mode", not r.emergency))
        console.print(
            f"{r.db}: "
            + "; ".join(f"{name}: {'meets' if ok else 'MISSES'}" for name, ok in verdicts)
        )


async def main(args: argparse.Namespace) -> None:
    rows = generate(7, 2000, around=date.today())
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = [r for kind in kinds for r in await run_one(kind, args, rows)]
    report(results, args)
    runs = {r.db: r.figures() for r in results}
    line = {
        "bench": "screenpop",
        "layout": args.layout,
        "event_loop": args.event_loop,
        "runs": runs,
    }
    print(json.dumps(line, ensure_ascii=False))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--speed", type=float, default=2.0, help="simulated time speed-up")
    parser.add_argument("--rate", type=float, default=5.0, help="steady arrivals per second")
    parser.add_argument("--flash", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--storm", type=int, default=500, help="storm callers (0 = no storm phase)")
    parser.add_argument("--storm-seconds", type=float, default=10.0, help="storm arrival window")
    parser.add_argument("--flash-talk", type=float, default=4.0, help="simulated seconds")
    parser.add_argument("--answer-after", type=float, default=2.0, help="simulated seconds")
    parser.add_argument(
        "--talk", type=float, default=100.0, help="simulated seconds (steady phase)"
    )
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="two-process",
        help="two-process: the load (stand-in, callers, agent clients) and the controller in "
        "processes of their own; all-in-one: everything in one event loop",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=10.0,
        help="measure the controller's idle CPU this long before the calls",
    )
    parser.add_argument(
        "--cprofile", metavar="DIR", help="write the controller's cProfile of each phase to DIR"
    )
    parser.add_argument(
        "--event-loop",
        choices=["uvloop", "asyncio"],
        default="asyncio",
        help="the controller's event loop (HOTLINE_EVENT_LOOP; in all-in-one, the process's)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="time each pipeline handler per event type"
    )
    ns = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO if ns.verbose else logging.ERROR,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    with asyncio.Runner(loop_factory=loop_factory(ns.event_loop)) as runner:
        runner.run(main(ns))
