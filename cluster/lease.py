"""The controller lease in Redis: who leads, under which fencing token.

* Election: a Lua script does ``SET lease holder NX PX ttl`` and, only if that won,
  ``INCR`` the token counter and stores ``holder#token`` as the lease value. Tokens only
  ever grow, across Redis restarts too as long as the counter key survives; the database
  fence (`cluster.ports.Fence`, in storage/fence.py) refuses anything lower than what it
  has seen in any case.
* Renewal: an atomic compare-and-extend (Lua), so only the holder extends its lease.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cluster.errors import ClusterError

REDIS_FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)

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


def check_holder(holder: str) -> None:
    """A node name is one line without '#' (the separator of the lease value)."""
    if not holder or any(c in holder for c in "\r\n#"):
        raise ClusterError("a node name must be one line without '#'")


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
        check_holder(holder)
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
