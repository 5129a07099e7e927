"""Health watch of the main seat system: named probes, each under its own timeout.

Shipped probes:
* `DatabaseWriteProbe`: the ticket database is reachable AND writable — a real write
  then read-back of this node's row through the `ProbeTable` port (`storage.health_probe`).
  A hung database is caught by the timeout, not only a refused connection.
* `CallableProbe`: any async callable (for another store, or for tests).
* `ConsoleHeartbeats`: the agent console reports heartbeats; stale for `max_age` = failed.
* `ReadyAgentsProbe`: at least `min_ready` unpaused, reachable members in `hotline-main`.

`HealthWatch.run_round()` runs them concurrently and gives one verdict: failing when a
critical probe failed, healthy when every critical probe passed, inconclusive otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from calls.clock import Clock
from calls.control import CallControl
from calls.errors import CallControlError, PbxNotConnected, PbxTimeout
from fallback.domain.mode import Verdict
from fallback.errors import HealthCheckFailed, HealthCheckInconclusive
from fallback.ports import HealthProbe, ProbeTable
from fallback.records import CheckResult

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HealthRound:
    at: datetime
    results: tuple[CheckResult, ...]
    verdict: Verdict

    @property
    def detail(self) -> str:
        bad = [r for r in self.results if r.state != "ok"]
        return "; ".join(f"{r.name} {r.state}: {r.detail}" for r in bad)


class CallableProbe:
    """Wraps `async def fn() -> str | None` (return a detail, raise on failure)."""

    def __init__(
        self,
        name: str,
        fn: Callable[[], Awaitable[str | None]],
        *,
        timeout: float = 2.0,
        critical: bool = True,
    ) -> None:
        self.name = name
        self.fn = fn
        self.timeout = timeout
        self.critical = critical

    async def check(self) -> str:
        return (await self.fn()) or "ok"


class DatabaseWriteProbe:
    """Write a fresh token for this node into the probe table, read it back, compare."""

    def __init__(
        self,
        table: ProbeTable,
        *,
        name: str = "database",
        timeout: float = 2.0,
        critical: bool = True,
        node: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.table = table
        self.name = name
        self.timeout = timeout
        self.critical = critical
        self.node = node or f"{socket.gethostname()}:{os.getpid()}"
        self._clock = clock

    async def check(self) -> str:
        token = secrets.token_hex(8)
        at = self._clock() if self._clock else datetime.now().astimezone()
        read_back = await self.table.write_and_read(self.node, token, at)
        if read_back != token:
            raise HealthCheckFailed(f"wrote token {token}, read back {read_back!r}")
        return "write/read ok"


class ConsoleHeartbeats:
    """Implements `ConsoleHeartbeat` (the console calls `heartbeat`) and `HealthProbe`."""

    def __init__(
        self,
        clock: Clock,
        *,
        max_age: timedelta = timedelta(seconds=30),
        min_sources: int = 1,
        name: str = "consoles",
        timeout: float = 1.0,
        critical: bool = True,
        elsewhere: Callable[[], Awaitable[Mapping[str, datetime]]] | None = None,
    ) -> None:
        self._clock = clock
        self.max_age = max_age
        self.min_sources = min_sources
        self.name = name
        self.timeout = timeout
        self.critical = critical
        # Heartbeats other console processes received (source -> last beat): with consoles
        # on processes of their own, the leader that runs this check holds none of their
        # websockets and would see every console as dead.
        self.elsewhere = elsewhere
        self._beats: dict[str, datetime] = {}
        self._started = clock()  # grace: no verdict before the consoles had time to beat

    def heartbeat(self, source: str, at: datetime | None = None) -> None:
        self._beats[source] = at or self._clock()

    def fresh_sources(self) -> list[str]:
        now = self._clock()
        return sorted(s for s, t in self._beats.items() if now - t <= self.max_age)

    async def _gather_elsewhere(self) -> None:
        if self.elsewhere is None:
            return
        try:
            remote = await self.elsewhere()
        except Exception as exc:  # the shared view is down: judge by our own consoles
            log.warning("console heartbeats of other processes unknown: %s", exc)
            return
        for source, at in remote.items():
            if at > self._beats.get(source, at - self.max_age):
                self._beats[source] = at

    async def check(self) -> str:
        await self._gather_elsewhere()
        fresh = self.fresh_sources()
        if len(fresh) >= self.min_sources:
            return f"{len(fresh)} console(s) alive"
        now = self._clock()
        if not self._beats and now - self._started <= self.max_age:
            raise HealthCheckInconclusive("waiting for the first console heartbeat")
        last = max(self._beats.values(), default=None)
        since = "never" if last is None else f"{(now - last).total_seconds():.0f} s ago"
        raise HealthCheckFailed(
            f"{len(fresh)} console(s) alive, need {self.min_sources}; last heartbeat {since}"
        )


# Device states that mean the phone cannot take a call (4 invalid, 5 unavailable).
_UNREACHABLE = {4, 5}


class ReadyAgentsProbe:
    """At least `min_ready` members of the main queue logged in, unpaused and reachable."""

    def __init__(
        self,
        control: CallControl,
        *,
        queue: str = "hotline-main",
        min_ready: int = 1,
        name: str = "agents",
        timeout: float = 2.0,
        critical: bool = True,
        clock: Clock | None = None,
        grace: timedelta = timedelta(0),
    ) -> None:
        """`grace`: after start-up, no verdict for that long while fewer than `min_ready`
        agents are ready (agents need time to log in after a controller restart)."""
        self.control = control
        self.queue = queue
        self.min_ready = min_ready
        self._clock = clock
        self._grace_until = None if clock is None or not grace else clock() + grace
        self.name = name
        self.timeout = timeout
        self.critical = critical

    async def check(self) -> str:
        try:
            snapshot = await self.control.queue_status(self.queue)
        except (PbxNotConnected, PbxTimeout) as exc:
            # The PBX link is down: that says nothing about the seat system.
            raise HealthCheckInconclusive(f"cannot ask the PBX: {exc}") from exc
        except CallControlError as exc:
            raise HealthCheckFailed(f"QueueStatus {self.queue}: {exc}") from exc
        members = [m for m in snapshot.members if m.queue == self.queue]
        ready = [m for m in members if not m.paused and m.status not in _UNREACHABLE]
        detail = f"{len(ready)} ready of {len(members)} member(s) in {self.queue}"
        if len(ready) < self.min_ready:
            if self._clock is not None and self._grace_until is not None:
                if self._clock() < self._grace_until:
                    raise HealthCheckInconclusive(detail + " (start-up grace)")
            raise HealthCheckFailed(detail)
        return detail


def _consume(task: asyncio.Future[str]) -> None:
    # A timed-out check finishing (or failing) later: its outcome is already reported.
    if not task.cancelled():
        task.exception()


class HealthWatch:
    """Runs the probes; keeps the latest result of each for the supervisor page."""

    def __init__(
        self,
        probes: Sequence[HealthProbe],
        clock: Clock,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        names = [p.name for p in probes]
        if len(set(names)) != len(names):
            raise ValueError(f"health probe names must be unique: {names}")
        self.probes = tuple(probes)
        self._clock = clock
        self._monotonic = monotonic
        self._latest: dict[str, CheckResult] = {}
        self._hanging: dict[str, tuple[asyncio.Future[str], float]] = {}

    def latest(self) -> list[CheckResult]:
        return [self._latest[p.name] for p in self.probes if p.name in self._latest]

    async def _run_probe(self, probe: HealthProbe) -> CheckResult:
        started = self._monotonic()
        hanging, since = self._hanging.get(probe.name, (None, 0.0))
        if (
            hanging is not None
            and not hanging.done()
            # A check stuck far longer than its timeout is given up (a TCP black hole can
            # hold it for many minutes); a fresh check then shows whether the peer is back.
            and started - since < max(10 * probe.timeout, 30.0)
        ):
            # Still stuck since an earlier round: don't pile up connections to a hung peer.
            detail = f"no answer within {probe.timeout:g} s (earlier check still hanging)"
            return CheckResult(probe.name, "failed", detail, self._clock(), 0.0, probe.critical)
        # The check runs as its own task: a peer that hangs even while being cancelled (a
        # rollback on a dead socket) must not hold the round past the timeout.
        task = asyncio.ensure_future(probe.check())
        done, _pending = await asyncio.wait({task}, timeout=probe.timeout)
        if not done:
            task.cancel()
            task.add_done_callback(_consume)
            self._hanging[probe.name] = (task, started)
            state, detail = "failed", f"no answer within {probe.timeout:g} s"
        else:
            self._hanging.pop(probe.name, None)
            exc = task.exception()
            if exc is None:
                state, detail = "ok", task.result()
            elif isinstance(exc, HealthCheckInconclusive):
                state, detail = "unknown", str(exc)
            elif isinstance(exc, HealthCheckFailed):
                state, detail = "failed", str(exc)
            else:  # any error of the peer is a failed check, with its text
                state, detail = "failed", f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        elapsed_ms = (self._monotonic() - started) * 1000
        return CheckResult(probe.name, state, detail, self._clock(), elapsed_ms, probe.critical)

    async def run_round(self) -> HealthRound:
        results = tuple(await asyncio.gather(*(self._run_probe(p) for p in self.probes)))
        for result in results:
            previous = self._latest.get(result.name)
            if previous is None or previous.state != result.state:
                level = logging.INFO if result.state == "ok" else logging.WARNING
                log.log(level, "health %s: %s (%s)", result.name, result.state, result.detail)
            self._latest[result.name] = result
        critical = [r for r in results if r.critical]
        if any(r.state == "failed" for r in critical):
            verdict = Verdict.FAILING
        elif all(r.state == "ok" for r in critical):
            verdict = Verdict.HEALTHY
        else:
            verdict = Verdict.INCONCLUSIVE
        return HealthRound(self._clock(), results, verdict)

    async def run(
        self, interval: float, on_round: Callable[[HealthRound], Awaitable[None]]
    ) -> None:
        """Probe every `interval` seconds until cancelled; `on_round` gets each round."""
        while True:
            started = time.monotonic()
            health_round = await self.run_round()
            try:
                await on_round(health_round)
            except Exception:  # the watch must keep watching; the failure is logged
                log.exception("handling a health round failed")
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
