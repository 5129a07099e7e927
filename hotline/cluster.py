"""Controller leadership: one `hotline serve` acts on AMI at a time, under a Redis lease
with a fencing token that the database enforces.

* Election: a Lua script does ``SET lease holder NX PX ttl`` and, only if that won,
  ``INCR`` the token counter and stores ``holder#token`` as the lease value. Tokens only
  ever grow, across Redis restarts too as long as the counter key survives; the database
  fence refuses anything lower than what it has seen in any case.
* The new leader writes its token into the ``controller_fence`` row (only upwards:
  ``UPDATE ... WHERE token < :new``) before it connects AMI.
* Renewal: every ttl/3 an atomic compare-and-extend (Lua). The local view of the lease
  is measured from *before* each renewal was sent, so a leader never believes in a lease
  longer than Redis grants it.
* Fencing: leader-side writers (the call pipeline's ticket and call-record stage) run
  inside `ClusterController.fenced`; every commit they make first reads the fence row in
  the same transaction (``FOR SHARE`` on PostgreSQL, so the new leader's claim waits for
  it; SQLite's BEGIN IMMEDIATE already holds the write lock) and refuses to commit if the
  token is no longer ours. A SIGSTOPped leader that resumes finds its lease expired in
  local time or its writes refused, and steps down.
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
import contextvars
import enum
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from fallback.records import EmergencyStatus
from fallback.switching import ASTDB_FAMILY, ASTDB_KEY
from hotline.settings import ConfigError, Settings

log = logging.getLogger(__name__)

REDIS_FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)
DB_FAILURES: tuple[type[BaseException], ...] = (SQLAlchemyError, OSError, TimeoutError)

FENCE_NAME = "controller"

# KEYS[1] lease, KEYS[2] token counter; ARGV[1] holder, ARGV[2] ttl ms -> token or 0.
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local token = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. '#' .. token, 'PX', ARGV[2])
  return token
end
return 0
"""
# KEYS[1] lease; ARGV[1] "holder#token", ARGV[2] ttl ms -> 1 extended, 0 not ours.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# KEYS[1] token counter; ARGV[1] floor -> raise the counter to the floor (never lower it).
_RAISE_COUNTER = """
local now = tonumber(redis.call('GET', KEYS[1]) or '0')
if now < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
  return tonumber(ARGV[1])
end
return now
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class ClusterError(Exception):
    """Root of the cluster errors."""


class StaleLeader(ClusterError):
    """A write under a fencing token that a newer leader has superseded."""

    def __init__(self, token: int, current: int | None) -> None:
        super().__init__(f"fencing token {token} superseded by {current}")
        self.token = token
        self.current = current


class Role(enum.StrEnum):
    LEADER = "leader"
    STANDBY = "standby"
    CONSOLE = "console"  # never campaigns: console/API process


@dataclass(frozen=True)
class LeaseTiming:
    """How often to renew and poll, derived from the lease time-to-live."""

    ttl: float

    @property
    def ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    @property
    def renew_every(self) -> float:
        # Three renewal chances inside one lease: one lost round trip costs nothing.
        return self.ttl / 3

    @property
    def poll_every(self) -> float:
        return min(0.5, self.ttl / 4)


def lease_value(holder: str, token: int) -> str:
    return f"{holder}#{token}"


def parse_lease_value(raw: str | bytes | None) -> tuple[str, int] | None:
    if raw is None:
        return None
    value = raw.decode() if isinstance(raw, bytes) else raw
    holder, sep, token = value.rpartition("#")
    if not sep or not token.isdigit():
        return None
    return holder, int(token)


def default_node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- Redis side ---------------------------------------------------------------------------


class RedisLease:
    """The lease key and the fencing-token counter in Redis."""

    def __init__(self, client: aioredis.Redis, *, prefix: str, ttl: float) -> None:
        if not prefix or any(c in prefix for c in "\r\n"):
            raise ClusterError("the Redis key prefix must be one non-empty line")
        self.client = client
        self.timing = LeaseTiming(ttl)
        self.lease_key = f"{prefix}:controller:lease"
        self.token_key = f"{prefix}:controller:token"

    async def acquire(self, holder: str) -> int | None:
        """The new fencing token if the lease was free, else None."""
        _check_holder(holder)
        token = await self.client.eval(
            _ACQUIRE, 2, self.lease_key, self.token_key, holder, str(self.timing.ttl_ms)
        )
        return int(token) or None

    async def renew(self, holder: str, token: int) -> bool:
        done = await self.client.eval(
            _RENEW, 1, self.lease_key, lease_value(holder, token), str(self.timing.ttl_ms)
        )
        return bool(done)

    async def release(self, holder: str, token: int) -> bool:
        done = await self.client.eval(_RELEASE, 1, self.lease_key, lease_value(holder, token))
        return bool(done)

    async def raise_counter(self, floor: int) -> int:
        """After Redis lost its data (restart without persistence) the counter restarts
        below the database fence; lift it so the next election issues a usable token."""
        return int(await self.client.eval(_RAISE_COUNTER, 1, self.token_key, str(floor)))

    async def holder(self) -> tuple[str, int] | None:
        raw = await self.client.get(self.lease_key)
        return parse_lease_value(raw)


def _check_holder(holder: str) -> None:
    if not holder or any(c in holder for c in "\r\n#"):
        raise ClusterError("a node name must be one line without '#'")


# --- database side ------------------------------------------------------------------------


class FenceStore:
    """The `controller_fence` row: the highest fencing token any leader has claimed."""

    def __init__(self, engine: AsyncEngine, *, name: str = FENCE_NAME) -> None:
        self.engine = engine
        self.name = name
        self.postgres = engine.dialect.name == "postgresql"
        self._select = text(
            "SELECT token FROM controller_fence WHERE name = :name"
            + (" FOR SHARE" if self.postgres else "")
        )

    async def ensure(self) -> None:
        """Create the table (normally made by migration 0002) and the row if absent
        (idempotent, safe from many processes)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS controller_fence ("
                    " name VARCHAR(64) PRIMARY KEY,"
                    " token BIGINT NOT NULL,"
                    " holder VARCHAR(200) NOT NULL,"
                    " claimed_at VARCHAR(40) NOT NULL)"
                )
            )
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO controller_fence (name, token, holder, claimed_at)"
                    " VALUES (:name, 0, '', :at) ON CONFLICT (name) DO NOTHING"
                ),
                {"name": self.name, "at": datetime.now(UTC).isoformat()},
            )

    async def claim(self, token: int, holder: str) -> bool:
        """Record `token` if it is newer than the stored one; False means a newer leader
        already claimed the fence (our token is stale from birth)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                text(
                    "UPDATE controller_fence SET token = :token, holder = :holder,"
                    " claimed_at = :at WHERE name = :name AND token < :token"
                ),
                {
                    "token": token,
                    "holder": holder,
                    "at": datetime.now(UTC).isoformat(),
                    "name": self.name,
                },
            )
            return bool(result.rowcount == 1)

    async def current(self) -> int | None:
        async with self.engine.connect() as conn:
            value = await conn.scalar(
                text("SELECT token FROM controller_fence WHERE name = :name"),
                {"name": self.name},
            )
        return int(value) if value is not None else None

    def check_in(self, session: Session, token: int) -> None:
        """Inside the writer's own transaction: refuse to commit under a stale token."""
        value = session.execute(self._select, {"name": self.name}).scalar()
        current = int(value) if value is not None else None
        if current != token:
            raise StaleLeader(token, current)


@dataclass(frozen=True)
class _FenceContext:
    fence: FenceStore
    holder: ClusterController  # its token now: it may re-acquire mid-write legitimately


# Set only while a fenced (leader-side) handler runs; read by the commit hook.
_FENCED: contextvars.ContextVar[_FenceContext | None] = contextvars.ContextVar(
    "hotline_fenced_write", default=None
)


def _check_fence_before_commit(session: Session) -> None:
    context = _FENCED.get()
    if context is None:
        return
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    if engine is not context.fence.engine.sync_engine:
        return
    token = context.holder.token
    if token is None:
        raise StaleLeader(0, None)
    context.fence.check_in(session, token)


if not event.contains(Session, "before_commit", _check_fence_before_commit):
    event.listen(Session, "before_commit", _check_fence_before_commit)


def _stale_leader_in(exc: BaseException) -> StaleLeader | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, StaleLeader):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


# --- the controller -------------------------------------------------------------------------

Handler = TypeVar("Handler", bound=Callable[[Any], Awaitable[None]])
ElectedHook = Callable[[int], Awaitable[None]]
DemotedHook = Callable[[str], Awaitable[None]]


class ClusterController:
    """Campaigns for the lease and runs `on_elected` / `on_demoted` on role changes."""

    def __init__(
        self,
        *,
        lease: RedisLease,
        fence: FenceStore,
        node: str,
        on_elected: ElectedHook,
        on_demoted: DemotedHook,
        campaign: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_holder(node)
        self.lease = lease
        self.fence = fence
        self.node = node
        self.timing = lease.timing
        self.on_elected = on_elected
        self.on_demoted = on_demoted
        self.campaign = campaign
        self.clock = clock
        self.role = Role.STANDBY if campaign else Role.CONSOLE
        self.token: int | None = None
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
            marker = _FENCED.set(_FenceContext(self.fence, self))
            try:
                await handler(event)
            except Exception as exc:
                stale = _stale_leader_in(exc)  # a store may have wrapped it in its own error
                if stale is None:
                    raise
                self.refused_writes += 1
                log.error("call %s: write refused, %s: stepping down", call_id, stale)
                self.demote_soon(f"write refused: {stale}")
            finally:
                _FENCED.reset(marker)

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
            await self.on_elected(token)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("controller start-up as leader failed: stepping down")
            self.demote_soon("leader start-up failed")

    async def _claim_fence(self, token: int) -> bool:
        try:
            claimed = await self.fence.claim(token, self.node)
        except DB_FAILURES as exc:
            log.error("controller: cannot record token %d in the database fence: %s", token, exc)
            claimed = False
        if not claimed:
            log.warning("controller: token %d not accepted by the fence; staying standby", token)
            with contextlib.suppress(*REDIS_FAILURES, *DB_FAILURES):
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
        if fresh is not None and await self._claim_fence(fresh):
            self.token = fresh
            self.valid_until = sent + self.timing.ttl
            self.last_reason = f"lease re-acquired with token {fresh}"
            log.warning("controller %s re-acquired the lease (token %d)", self.node, fresh)
            return
        await self._demote("lease taken by another controller")

    async def _lead_on_fence(self, token: int, sent: float) -> None:
        try:
            current = await self.fence.current()
        except DB_FAILURES as exc:
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
        try:
            await self.on_demoted(reason)
        except Exception:
            log.exception("controller: stopping the leader's components failed")


def build_controller(
    settings: Settings,
    engine: AsyncEngine,
    *,
    on_elected: ElectedHook,
    on_demoted: DemotedHook,
) -> ClusterController:
    """The controller for `hotline serve` when `HOTLINE_REDIS_URL` is set."""
    if not settings.redis_url:
        raise ConfigError("leadership needs HOTLINE_REDIS_URL")
    # Lease round trips must fail well inside one renewal period.
    timeout = settings.lease_ttl / 4
    client = aioredis.Redis.from_url(
        settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    return ClusterController(
        lease=RedisLease(client, prefix=settings.redis_prefix, ttl=settings.lease_ttl),
        fence=FenceStore(engine),
        node=settings.node_name or default_node_name(),
        on_elected=on_elected,
        on_demoted=on_demoted,
        campaign=settings.role == "full",
    )


class ModeSource(Protocol):
    """What the hand-over needs of the emergency service."""

    def status(self) -> EmergencyStatus: ...

    async def set_active(self, active: bool, *, reason: str, by: str) -> EmergencyStatus: ...


class AstDbReader(Protocol):
    async def db_get(self, family: str, key: str) -> str | None: ...


class ModeHandover:
    """On a takeover the PBX's routing mode wins over the new leader's own journal.

    Each controller journals the emergency mode on its own disk. A standby that becomes
    leader would otherwise push *its* (possibly stale) mode to the PBX at AMI login and
    undo an emergency switched on by hand on the old leader - or revive one long closed.
    Run as the first `on_connected` hook, once per election: it reads `hotline/mode`
    from AstDB and, if it disagrees with ours, switches ours through the normal path
    (journaled, audited, published)."""

    def __init__(self, pbx: AstDbReader, emergency: ModeSource, node: str) -> None:
        self.pbx = pbx
        self.emergency = emergency
        self.node = node
        self.armed = False
        self.adopted: str | None = None

    def arm(self) -> None:
        self.armed = True

    async def __call__(self, _client: object) -> None:
        if not self.armed:
            return
        self.armed = False
        mode = await self.pbx.db_get(ASTDB_FAMILY, ASTDB_KEY)
        if mode not in ("emergency", "normal"):
            return  # never written (a fresh PBX): our journal decides
        active = self.emergency.status().active
        if (mode == "emergency") == active:
            return
        self.adopted = mode
        log.warning(
            "controller %s: the PBX routes in %s mode, our journal says otherwise: adopting it",
            self.node,
            mode,
        )
        await self.emergency.set_active(
            mode == "emergency",
            reason=f"controller takeover: the PBX was in {mode} mode",
            by=f"controller:{self.node}",
        )
