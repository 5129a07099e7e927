"""The controller side of `bench/screenpop.py`: the real `HotlineService` with the
benchmark's probes (`screenpop_probes.Stamps`), and the two ways the load side drives it.

* two-process layout (the default): `spawn_controller` starts a process of its own that
  runs `ControllerSide` in its own event loop; the load side talks to it through
  `RemoteController`, one request at a time over a pipe. Requests are few (start, the
  baseline's markers, counters before and after each phase, stop): they cost the
  controller nothing measurable while calls run.
* all-in-one layout: `ControllerSide` in the benchmark's own event loop, next to the
  stand-in, the callers and the websocket clients (how the benchmark used to run).

Times are `time.monotonic()`, which on Linux is one clock for every process, so a stamp
taken here and one taken on the load side subtract.
"""

from __future__ import annotations

import asyncio
import cProfile
import logging
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from pydantic import SecretStr
from screenpop_probes import Stamps, advice_timeouts, batch_sizes

from hotline.cli import loop_factory
from hotline.runtime import HotlineService
from hotline.settings import Settings


@dataclass
class Counters:
    """What the controller has done so far: tickets opened, routing-advice timeouts,
    group-commit batch sizes, its process's CPU seconds (every thread), events waiting,
    and whether the health watch has switched the hotline to emergency mode."""

    opened: int
    advice_timeouts: int
    batches: dict[int, int]
    cpu_s: float
    backlog: int
    emergency: bool
    threads: dict[str, float]  # CPU seconds by kind of thread (see `thread_cpu`)


@dataclass
class Started:
    console_url: str
    ivr_port: int
    pid: int


class Controller(Protocol):
    async def start(self, settings: dict[str, Any], profile: bool) -> Started: ...
    async def publish_marker(self, username: str, marker: str, site_code: str) -> float: ...
    async def counters(self) -> Counters: ...
    async def drain(self, timeout: float) -> int: ...
    async def stamps(self) -> Stamps: ...
    async def cprofile(self, dump_to: str | None) -> None: ...
    async def stop(self) -> None: ...


def thread_cpu() -> dict[str, float]:
    """This process's CPU seconds by kind of thread: the event loop, the database driver's
    threads (aiosqlite), `asyncio.to_thread`'s pool, and the rest (threads that ended
    included)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    kinds: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        fields = stat.rsplit(")", 1)[1].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        name = names.get(int(tid), "")
        if name == "MainThread":
            kind = "event loop"
        elif "connection_worker" in name:
            kind = "database threads"
        elif name.startswith("asyncio_"):
            kind = "to_thread pool"
        else:
            continue
        kinds[kind] = kinds.get(kind, 0.0) + seconds
    kinds["other"] = max(0.0, time.process_time() - sum(kinds.values()))
    return kinds


class ControllerSide:
    """The hotline under test and its probes; every method is a request of the load side."""

    def __init__(self) -> None:
        self.service: HotlineService | None = None
        self.probes = Stamps()
        self._site_json: dict[str, Any] | None = None
        self._profiler: cProfile.Profile | None = None

    def _running(self) -> HotlineService:
        assert self.service is not None, "start first"
        return self.service

    async def start(self, settings: dict[str, Any], profile: bool) -> Started:
        values = dict(settings)
        values["ami_secret"] = SecretStr(values["ami_secret"])
        service = self.service = HotlineService.build(Settings(**values))
        self.probes.attach(service, profile=profile)
        await service.start()
        await service.edges.ami.client.wait_connected(10)
        return Started(service.console_url, service.path.ivr.server.port or 0, os.getpid())

    async def publish_marker(self, username: str, marker: str, site_code: str) -> float:
        """Publish a pop-sized marker straight on `username`'s topic; returns when."""
        service = self._running()
        if self._site_json is None:
            site = await service.edges.store.sites.site_record(site_code)
            self._site_json = site.as_json() if site is not None else {}
        sent = time.monotonic()
        await service.edges.bus.bus.publish(
            f"user:{username}",
            {"type": "bench_marker", "id": marker, "call_id": None, "site": self._site_json},
        )
        return sent

    async def counters(self) -> Counters:
        service = self._running()
        return Counters(
            service.path.routing.call_tickets.opened,
            advice_timeouts(),
            dict(batch_sizes(service)),
            time.process_time(),
            service.path.pipeline.pipeline.backlog,
            service.path.emergency.service.status().active,
            thread_cpu(),
        )

    async def drain(self, timeout: float) -> int:
        """Wait until the pipeline is idle; returns the events still waiting (0: idle)."""
        service = self._running()
        try:
            await service.path.pipeline.pipeline.drain(timeout)
        except TimeoutError:
            return service.path.pipeline.pipeline.backlog
        return 0

    async def stamps(self) -> Stamps:
        return self.probes

    async def cprofile(self, dump_to: str | None) -> None:
        """Start profiling this process's event loop (None), or stop and write the
        statistics to `dump_to`."""
        if dump_to is None:
            self._profiler = cProfile.Profile()
            self._profiler.enable()
            return
        if self._profiler is not None:
            self._profiler.disable()
            Path(dump_to).parent.mkdir(parents=True, exist_ok=True)
            self._profiler.dump_stats(dump_to)
            self._profiler = None

    async def stop(self) -> None:
        if self.service is not None:
            await self.service.stop()
            self.service = None


class RemoteController:
    """`ControllerSide` in a process of its own, one request at a time over a pipe."""

    def __init__(self, process: multiprocessing.process.BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self._lock = threading.Lock()

    def _exchange(self, method: str, args: tuple[Any, ...]) -> tuple[bool, Any]:
        with self._lock:
            self.conn.send((method, args))
            answer: tuple[bool, Any] = self.conn.recv()
            return answer

    async def _ask(self, method: str, *args: Any) -> Any:
        # Shielded: a caller cancelled mid-request must not leave its answer in the pipe
        # for the next request to read.
        ok, value = await asyncio.shield(asyncio.to_thread(self._exchange, method, args))
        if not ok:
            raise RuntimeError(f"controller failed on {method}: {value}")
        return value

    async def start(self, settings: dict[str, Any], profile: bool) -> Started:
        started: Started = await self._ask("start", settings, profile)
        return started

    async def publish_marker(self, username: str, marker: str, site_code: str) -> float:
        sent: float = await self._ask("publish_marker", username, marker, site_code)
        return sent

    async def counters(self) -> Counters:
        counters: Counters = await self._ask("counters")
        return counters

    async def drain(self, timeout: float) -> int:
        left: int = await self._ask("drain", timeout)
        return left

    async def stamps(self) -> Stamps:
        stamps: Stamps = await self._ask("stamps")
        return stamps

    async def cprofile(self, dump_to: str | None) -> None:
        await self._ask("cprofile", dump_to)

    async def stop(self) -> None:
        try:
            await self._ask("stop")
        finally:
            self.conn.close()
            await asyncio.to_thread(self.process.join, 30)
            if self.process.is_alive():
                self.process.terminate()


def spawn_controller(verbose: bool, event_loop: str) -> RemoteController:
    """A fresh interpreter (spawn, not fork: the load side already runs an event loop)
    serving `ControllerSide` until `stop`."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(
        target=serve,
        args=(theirs, verbose, event_loop),
        name="hotline-controller",
        daemon=True,
    )
    process.start()
    theirs.close()
    return RemoteController(process, ours)


def serve(conn: Connection, verbose: bool, event_loop: str) -> None:
    """The controller process, on the event loop `hotline serve` would use: answer the
    load side's requests until `stop`."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR,
        format="%(asctime)s %(levelname)-7s controller %(name)s: %(message)s",
    )
    with asyncio.Runner(loop_factory=loop_factory(event_loop)) as runner:
        runner.run(_serve(conn))


async def _serve(conn: Connection) -> None:
    side = ControllerSide()
    try:
        while True:
            method, args = await asyncio.to_thread(conn.recv)
            try:
                value = await getattr(side, method)(*args)
            except Exception as exc:
                conn.send((False, f"{type(exc).__name__}: {exc}"))
                continue
            conn.send((True, value))
            if method == "stop":
                return
    finally:
        await side.stop()
