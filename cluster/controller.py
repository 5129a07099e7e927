"""Controller leadership: one `hotline serve` acts on AMI at a time, under a Redis lease
(`cluster.lease`) with a fencing token that the database enforces (the `cluster.ports.Fence`
port, implemented in storage/).

* The new leader claims the database fence with its token before it connects AMI. The
  claim waits at most a renewal period for the fence's row (a leader frozen inside a
  fenced commit holds it until the database ends its session); a claim that outlasts
  the lease does not make a leader.
* Renewal: every ttl/3. The local view of the lease is measured from *before* each
  renewal was sent, so a leader never believes in a lease longer than Redis grants it.
* Role changes are published to the listeners registered with `subscribe` (the
  composition root starts the leader's components on `elected`, stops them on
  `demoted`): leadership knows nothing of what it leads.
* Fencing: leader-side writers (the call pipeline's ticket and call-record stage) run
  through `ClusterController.fenced`; their commits are checked against the fence. A
  SIGSTOPped leader that resumes finds its lease expired in local time or its writes
  refused, and steps down.
* Redis outage (the documented split-brain choice): with Redis unreachable nobody can
  be elected. The current leader keeps leading while the database fence still holds its
  token (checked every renewal period); standbys wait. When Redis returns, the leader
  extends its lease, or re-acquires it with a fresh, higher token if the key expired.
  If the database is unreachable too, the leader steps down when its lease runs out:
  no writes could be fenced.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis

from cluster.errors import ClusterError, FenceUnavailable, stale_leader_in
from cluster.handover import AstDbReader, ModeHandover, ModeSource
from cluster.lease import REDIS_FAILURES, RedisLease, check_holder, default_node_name
from cluster.ports import Fence
from lifecycle import HealthEntry

log = logging.getLogger(__name__)


class Role(enum.StrEnum):
    LEADER = "leader"
    STANDBY = "standby"
    CONSOLE = "console"  # never campaigns: console/API process


Handler = TypeVar("Handler", bound=Callable[[Any], Awaitable[None]])


class LeadershipListener(Protocol):
    """Told when this process becomes the leader (with its fencing token; 0 = the only
    instance, no cluster) and when it stops leading."""

    async def elected(self, token: int) -> None: ...

    async def demoted(self, reason: str) -> None: ...


class ClusterController:
    """Campaigns for the lease and tells its listeners about role changes. A component
    that runs everywhere: `start` campaigns, `stop` steps down and releases the lease."""

    name = "leadership"
    leader_only = False

    def __init__(
        self,
        *,
        lease: RedisLease,
        fence: Fence,
        node: str,
        campaign: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_holder(node)
        self.lease = lease
        self.fence = fence
        self.node = node
        self.timing = lease.timing
        self._listeners: list[LeadershipListener] = []
        self.campaign = campaign
        self.clock = clock
        self.role = Role.STANDBY if campaign else Role.CONSOLE
        self.token: int | None = None
        self.claiming: int | None = None
        self.valid_until = 0.0
        self.redis_ok = False
        self.elected_at: float | None = None
        self.elections = 0
        self.demotions = 0
        self.refused_writes = 0
        self.last_reason: str | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._lead_task: asyncio.Task[None] | None = None
        self._demoting: asyncio.Task[None] | None = None
        self._standby_hold = 0.0
        self._redis_lost = False

    def subscribe(self, listener: LeadershipListener) -> None:
        """Listeners hear `elected` in subscription order and `demoted` in reverse."""
        self._listeners.append(listener)

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        await self.fence.ensure()
        if self.campaign and self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(
                self._run(), name="controller-election"
            )

    async def stop(self) -> None:
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._demoting is not None:
            with contextlib.suppress(Exception):
                await self._demoting
        if self.role is Role.LEADER:
            token = self.token
            await self._demote("clean shutdown")
            if token is not None:
                with contextlib.suppress(*REDIS_FAILURES):
                    # Hand over at once instead of making the standby wait out the ttl.
                    await self.lease.release(self.node, token)
        with contextlib.suppress(*REDIS_FAILURES):
            await self.lease.client.aclose()

    # --- what the rest of the process asks ------------------------------------------------

    @property
    def is_leader(self) -> bool:
        """True only while the lease is held in local time too (a paused process that
        resumes after its lease ran out is no leader, whatever its loop has not yet seen)."""
        return self.role is Role.LEADER and self.clock() < self.valid_until

    def standby(self) -> bool:
        """True while another process leads (or none does): the PBX is left to it."""
        return not self.is_leader

    def handovers(self, pbx: AstDbReader, mode: ModeSource) -> list[ModeHandover]:
        """After a takeover the PBX's routing mode wins over this node's own journal."""
        return [ModeHandover(pbx, mode, self.node)]

    def health_entries(self) -> Mapping[str, HealthEntry]:
        return {"controller": self.state}

    def fenced(self, handler: Handler) -> Handler:
        """Wrap a leader-side call-event handler: dropped on a non-leader, and every commit
        it makes is checked against the database fence in the same transaction."""

        async def run(event: Any) -> None:
            call_id = getattr(event, "call_id", "-")
            token = self.token
            if not self.is_leader or token is None:
                log.info(
                    "call %s: not the leader (%s): %s left to the leader",
                    call_id,
                    self.role.value,
                    type(event).__name__,
                )
                return
            try:
                with self.fence.writes(self):
                    await handler(event)
            except Exception as exc:
                stale = stale_leader_in(exc)
                if stale is None:
                    raise
                self.refused_writes += 1
                log.error("call %s: write refused, %s: stepping down", call_id, stale)
                self.demote_soon(f"write refused: {stale}")

        return run  # type: ignore[return-value]

    def demote_soon(self, reason: str) -> None:
        if self.role is Role.LEADER and (self._demoting is None or self._demoting.done()):
            self._demoting = asyncio.get_running_loop().create_task(
                self._demote(reason), name="controller-demote"
            )

    async def state(self) -> Mapping[str, Any]:
        """The `controller` entry of `/healthz`."""
        body: dict[str, Any] = {
            "status": "ok",
            "role": self.role.value,
            "node": self.node,
            "token": self.token,
            "elections": self.elections,
            "refused_writes": self.refused_writes,
        }
        if self.role is Role.LEADER:
            body["lease_left_s"] = round(max(0.0, self.valid_until - self.clock()), 2)
            if not self.redis_ok:
                body["status"] = "degraded"
                body["note"] = "Redis unreachable: leading on the database fence"
        else:
            try:
                async with asyncio.timeout(1.0):
                    current = await self.lease.holder()
                body["leader"] = f"{current[0]} (token {current[1]})" if current else None
                if current is None and self.campaign:
                    body["status"] = "degraded"
                    body["note"] = "no leader holds the lease"
            except REDIS_FAILURES as exc:
                body["status"] = "degraded"
                body["note"] = f"lease unreadable: {type(exc).__name__}"
        if self.last_reason:
            body["last_change"] = self.last_reason
        return body

    # --- the election loop -----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                if self.role is Role.LEADER:
                    await asyncio.sleep(self.timing.renew_every)
                    await self._keep_lead()
                else:
                    await asyncio.sleep(max(self.timing.poll_every, self._standby_hold))
                    self._standby_hold = 0.0
                    await self._try_lead()
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop must outlive any single failed round
                log.exception("controller election round failed")

    async def _try_lead(self) -> None:
        started = self.clock()
        try:
            if self._redis_lost:
                # Redis is back: first let an incumbent that led through the outage
                # re-acquire its expired lease, rather than force a needless handover.
                await self.lease.holder()
                self.redis_ok = True
                self._redis_lost = False
                self._standby_hold = self.timing.ttl
                return
            token = await self.lease.acquire(self.node)
            self.redis_ok = True
        except REDIS_FAILURES as exc:
            if not self._redis_lost:
                log.warning("controller lease: Redis unreachable (%s); no election now", exc)
            self.redis_ok = False
            self._redis_lost = True
            return
        if token is None:
            return
        if not await self._claim_fence(token):
            return
        if self.clock() >= started + self.timing.ttl:
            # The claim outlasted the lease: another node may hold the lease by now.
            log.warning(
                "controller: claiming the fence took %.1f s, longer than the lease; staying"
                " standby",
                self.clock() - started,
            )
            with contextlib.suppress(*REDIS_FAILURES):
                await self.lease.release(self.node, token)
            return
        self.token = token
        self.valid_until = started + self.timing.ttl
        self.role = Role.LEADER
        self.elected_at = self.clock()
        self.elections += 1
        self.last_reason = f"elected with token {token}"
        log.warning("controller %s elected leader with fencing token %d", self.node, token)
        # Run the start-up of the leader's components beside the loop: renewals go on.
        self._lead_task = asyncio.get_running_loop().create_task(
            self._elected(token), name="controller-elected"
        )

    async def _elected(self, token: int) -> None:
        try:
            for listener in self._listeners:
                await listener.elected(token)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("controller start-up as leader failed: stepping down")
            self.demote_soon("leader start-up failed")

    async def _claim_fence(self, token: int) -> bool:
        try:
            # Bounded: an old leader frozen inside a fenced commit holds the fence's row.
            claimed = await self.fence.claim(token, self.node, wait=self.timing.renew_every)
        except FenceUnavailable as exc:
            log.error("controller: cannot record token %d in the database fence: %s", token, exc)
            claimed = False
        if not claimed:
            log.warning("controller: token %d not accepted by the fence; staying standby", token)
            with contextlib.suppress(*REDIS_FAILURES, FenceUnavailable):
                await self.lease.release(self.node, token)
                current = await self.fence.current()
                if current is not None and current >= token:
                    await self.lease.raise_counter(current)
                    log.warning(
                        "controller: Redis token counter was behind the fence (%d < %d)"
                        " - Redis lost its data? - raised it",
                        token,
                        current,
                    )
        return claimed

    async def _keep_lead(self) -> None:
        token = self.token
        assert token is not None
        sent = self.clock()
        if sent >= self.valid_until:
            await self._demote("lease ran out before it could be renewed (process paused?)")
            return
        try:
            renewed = await self.lease.renew(self.node, token)
            if not self.redis_ok:
                log.warning("controller lease: Redis reachable again")
            self.redis_ok = True
        except REDIS_FAILURES as exc:
            if self.redis_ok:
                log.warning("controller lease: Redis unreachable (%s): leading on the fence", exc)
            self.redis_ok = False
            await self._lead_on_fence(token, sent)
            return
        if renewed:
            self.valid_until = sent + self.timing.ttl
            return
        # Not ours any more: expired during an outage (re-acquire if still free) or taken.
        try:
            fresh = await self.lease.acquire(self.node)
        except REDIS_FAILURES:
            fresh = None
        if fresh is not None and await self._reclaim_fence(fresh):
            self.valid_until = sent + self.timing.ttl
            self.last_reason = f"lease re-acquired with token {fresh}"
            log.warning("controller %s re-acquired the lease (token %d)", self.node, fresh)
            return
        await self._demote("lease taken by another controller")

    async def _reclaim_fence(self, fresh: int) -> bool:
        # Our own writes commit while the claim does: once the fence holds `fresh` they
        # are checked against it before `self.token` is `fresh` (`claiming`).
        self.claiming = fresh
        try:
            if not await self._claim_fence(fresh):
                return False
            self.token = fresh
            return True
        finally:
            self.claiming = None

    async def _lead_on_fence(self, token: int, sent: float) -> None:
        try:
            current = await self.fence.current()
        except FenceUnavailable as exc:
            log.error("controller: neither Redis nor the fence reachable: %s", exc)
            return  # the lease runs out in local time and we step down then
        if current == token:
            self.valid_until = sent + self.timing.ttl
        else:
            await self._demote(f"fence holds token {current}, ours is {token}")

    async def _demote(self, reason: str) -> None:
        if self.role is not Role.LEADER:
            return
        self.role = Role.STANDBY
        self.valid_until = 0.0
        self.demotions += 1
        self.last_reason = f"stepped down: {reason}"
        # Give the new leader room before campaigning again.
        self._standby_hold = self.timing.ttl
        log.warning("controller %s steps down: %s", self.node, reason)
        lead, self._lead_task = self._lead_task, None
        if lead is not None and not lead.done():
            lead.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await lead
        for listener in reversed(self._listeners):
            try:
                await listener.demoted(reason)
            except Exception:
                log.exception("controller: stopping the leader's components failed")


class LeadershipSettings(Protocol):
    """The settings leadership reads (`hotline.settings.Settings` has them)."""

    @property
    def redis_url(self) -> str | None: ...
    @property
    def redis_prefix(self) -> str: ...
    @property
    def lease_ttl(self) -> float: ...
    @property
    def node_name(self) -> str | None: ...
    @property
    def role(self) -> str: ...


def build_controller(settings: LeadershipSettings, fence: Fence) -> ClusterController:
    """The controller for `hotline serve` when `HOTLINE_REDIS_URL` is set."""
    if not settings.redis_url:
        raise ClusterError("leadership needs HOTLINE_REDIS_URL")
    # Lease round trips must fail well inside one renewal period.
    timeout = settings.lease_ttl / 4
    client = aioredis.Redis.from_url(
        settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    return ClusterController(
        lease=RedisLease(client, prefix=settings.redis_prefix, ttl=settings.lease_ttl),
        fence=fence,
        node=settings.node_name or default_node_name(),
        campaign=settings.role == "full",
    )
