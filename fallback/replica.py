"""The emergency journal's second copy: a Redis primary with replicas.

Redis runs with `appendonly yes` and `appendfsync always` on the primary and on every
replica, so a write is on the primary's disk before it answers; `WAIT <replicas>
<timeout>` then blocks until that many replicas have acknowledged it. A record counts as
replicated only when WAIT reports enough replicas. (Redis 7.2's WAITAOF would also
report the replicas' fsync; 7.0, which the controllers run, acknowledges after the
replica has applied the write, and with `appendfsync always` the replica writes and
fsyncs its AOF before the acknowledgement leaves its event loop.)

Keys under `<prefix>:emergency:`:

* `journal`: a list of JSON records, in the order the primary took them (the union of
  every controller's journal);
* `journal:ids`: the set of record ids already in the list, so a record pushed again
  (a retry after a lost answer, a catch-up after a restart) is stored once;
* `journal:writes`: a counter every journal write raises (see `_APPEND`);
* `paper`: the paper-number counter (`INCR`, lifted to the caller's floor when a
  restarted Redis came back below the numbers already handed out).

The write and its WAIT go through one pipeline, hence one connection: WAIT counts the
writes of the connection it is sent on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from fallback.errors import JournalError, JournalNotReplicated, PaperNumbersUnavailable

log = logging.getLogger(__name__)

_FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)

# KEYS: list, ids, writes; ARGV: id1, json1, id2, json2, ... -> how many were new.
# It always writes (the `writes` counter): the WAIT that follows then covers the current
# end of the primary's replication stream, hence every record already in the list, also
# one pushed earlier on another connection whose own WAIT fell short.
_APPEND = """
redis.call('INCR', KEYS[3])
local added = 0
for i = 1, #ARGV, 2 do
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    redis.call('RPUSH', KEYS[1], ARGV[i + 1])
    added = added + 1
  end
end
return added
"""

# KEYS: counter; ARGV: floor -> the next number above both the counter and the floor.
_ALLOCATE = """
local n = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
if n <= floor then
  n = floor + 1
  redis.call('SET', KEYS[1], n)
end
return n
"""


# After a full resync the primary streams writes to the replica only from the replica's
# first REPLCONF ACK that arrives once the transfer is done; the ACK the replica sends on
# loading often comes too early, and the next is its periodic one, up to a second later.
# The first WAIT after a resync can take that long however idle both hosts are.
REPLICA_ACK_PERIOD_MS = 1000
DEFAULT_WAIT_MS = 2 * REPLICA_ACK_PERIOD_MS


class RedisJournalReplica:
    """`fallback.ports.JournalReplica` on a Redis primary whose replicas confirm by WAIT."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "hotline",
        replicas: int = 1,
        wait_ms: int = DEFAULT_WAIT_MS,
        socket_timeout: float = 2.0,
    ) -> None:
        if replicas < 0:
            raise ValueError("replicas must be 0 or more")
        self.replicas = replicas
        self.wait_ms = wait_ms
        self._list = f"{prefix}:emergency:journal"
        self._ids = f"{prefix}:emergency:journal:ids"
        self._writes = f"{prefix}:emergency:journal:writes"
        self._counter = f"{prefix}:emergency:paper"
        # The WAIT may take wait_ms: the socket must outlast it.
        timeout = socket_timeout + wait_ms / 1000
        self._redis: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=socket_timeout,
            decode_responses=True,
        )
        self._append = self._redis.register_script(_APPEND)
        self._allocate = self._redis.register_script(_ALLOCATE)

    async def _confirmed(self, what: str, script: Any, keys: list[str], args: list[Any]) -> Any:
        """Run `script` and WAIT on the same connection; the script's answer once enough
        replicas acknowledged it."""
        try:
            # A script not yet loaded on a restarted primary is loaded by this first call.
            await self._redis.script_load(script.script)
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
                pipe.execute_command("WAIT", self.replicas, self.wait_ms)
                answer, acknowledged = await pipe.execute()
        except _FAILURES as exc:
            raise JournalError(f"replicated journal unreachable ({what}): {exc!r}") from exc
        if int(acknowledged) < self.replicas:
            raise JournalNotReplicated(
                f"{what}: {acknowledged} of {self.replicas} replica(s) confirmed "
                f"within {self.wait_ms} ms"
            )
        return answer

    async def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        if not records:
            return
        args: list[str] = []
        for record in records:
            args += [str(record["id"]), _encode(record)]
        await self._confirmed(
            "journal records", self._append, [self._list, self._ids, self._writes], args
        )

    async def read_from(self, start: int) -> list[dict[str, Any]]:
        try:
            raw = [str(text) for text in await self._redis.lrange(self._list, start, -1)]
        except _FAILURES as exc:
            raise JournalError(f"replicated journal unreadable: {exc!r}") from exc
        records: list[dict[str, Any]] = []
        for position, text in enumerate(raw, start):
            try:
                record = json.loads(text)
            except json.JSONDecodeError:
                log.error("replicated journal: record %d unreadable, skipped", position)
                record = None
            # Keep the positions aligned with the list, whatever the record says.
            records.append(record if isinstance(record, dict) else {"kind": "unreadable"})
        return records

    async def allocate_paper(self, floor: int) -> int:
        try:
            return int(
                await self._confirmed("paper number", self._allocate, [self._counter], [floor])
            )
        except JournalError as exc:
            raise PaperNumbersUnavailable(str(exc)) from exc

    async def close(self) -> None:
        await self._redis.aclose()


async def keep_in_step(catch_up: Callable[[], Awaitable[None]], interval: float) -> None:
    """Every `interval` seconds, push what the replica has not confirmed yet and read the
    other controllers' records (`EmergencyService.refresh_journal`): a record kept on
    this host during a replica outage reaches the replica soon after it returns, even
    when no new call comes."""
    while True:
        await asyncio.sleep(interval)
        try:
            await catch_up()
        except Exception:  # the next round tries again; the journal shows the state
            log.exception("emergency journal catch-up failed")


def _encode(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
