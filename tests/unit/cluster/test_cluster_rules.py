"""Rules of the bus envelope, the lease values and the leader-only wrapper (no I/O)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import create_async_engine

from bus.redis import (
    BusError,
    RedisBus,
    UnencodableMessage,
    channel_name,
    decode_envelope,
    encode_envelope,
)
from cluster import (
    ClusterController,
    ClusterError,
    LeaseTiming,
    RedisLease,
    Role,
    lease_value,
    parse_lease_value,
)
from hotline.settings import ConfigError, load_settings
from storage.fence import FenceStore


def test_envelope_round_trip_keeps_unicode_and_origin() -> None:
    message = {"type": "screen_pop", "site": {"name": "上海浦东站"}, "n": 3, "ok": True}
    raw = encode_envelope("abc", message)
    assert "上海" in raw  # readable in redis-cli MONITOR, not \\u-escaped
    assert decode_envelope(raw) == ("abc", message)
    assert decode_envelope(raw.encode()) == ("abc", message)


@pytest.mark.parametrize(
    "raw", ["not json", "[1, 2]", '{"o": "x"}', '{"o": "x", "m": [1]}', b"\xff\xfe"]
)
def test_foreign_or_broken_payloads_are_not_envelopes(raw: str | bytes) -> None:
    assert decode_envelope(raw) is None


def test_an_envelope_without_origin_still_delivers() -> None:
    assert decode_envelope('{"m": {"type": "x"}}') == ("", {"type": "x"})


def test_unencodable_messages_are_refused() -> None:
    with pytest.raises(UnencodableMessage):
        encode_envelope("o", {"at": object()})
    with pytest.raises(UnencodableMessage):
        encode_envelope("o", {"nan": float("nan")} | {"bad": {1, 2}})


def test_channel_names_carry_the_prefix() -> None:
    assert channel_name("hl-prod", "user:alice") == "hl-prod:bus:user:alice"


@pytest.mark.parametrize("prefix", ["", "a\r\nPUBLISH x y", "line\n"])
def test_a_prefix_that_could_inject_is_refused(prefix: str) -> None:
    with pytest.raises(BusError):
        RedisBus("redis://127.0.0.1:6379/0", prefix=prefix)


def test_lease_value_round_trip_and_junk() -> None:
    assert parse_lease_value(lease_value("host-1:123", 42)) == ("host-1:123", 42)
    assert parse_lease_value("a#b#7") == ("a#b", 7)
    for junk in ("", "#", "host#", "host#x", "host"):
        assert parse_lease_value(junk) is None


def test_renewal_happens_three_times_per_lease() -> None:
    timing = LeaseTiming(3.0)
    assert timing.ttl_ms == 3000
    assert timing.renew_every == pytest.approx(1.0)
    assert timing.poll_every <= timing.renew_every
    assert LeaseTiming(1.0).poll_every == pytest.approx(0.25)


def _lease(prefix: str = "hl") -> RedisLease:
    return RedisLease(aioredis.Redis.from_url("redis://127.0.0.1:1/0"), prefix=prefix, ttl=3)


@pytest.mark.parametrize("node", ["", "a\nb", "host\r", "host#1"])
def test_node_names_that_break_the_lease_value_are_refused(node: str) -> None:
    fence = FenceStore(create_async_engine("sqlite+aiosqlite://"))
    with pytest.raises(ClusterError):
        ClusterController(lease=_lease(), fence=fence, node=node)


def test_a_lease_prefix_with_newlines_is_refused() -> None:
    with pytest.raises(ClusterError):
        _lease("x\r\nFLUSHALL")


async def test_leader_only_handlers_do_nothing_on_a_standby_or_a_console() -> None:
    calls: list[Any] = []

    async def handler(event: Any) -> None:
        calls.append(event)

    fence = FenceStore(create_async_engine("sqlite+aiosqlite://"))
    standby = ClusterController(lease=_lease(), fence=fence, node="n1")
    console = ClusterController(lease=_lease(), fence=fence, node="n2", campaign=False)
    assert standby.role is Role.STANDBY and console.role is Role.CONSOLE
    await standby.fenced(handler)(object())
    await console.fenced(handler)(object())
    assert calls == []


async def test_a_leader_whose_lease_ran_out_in_local_time_is_no_leader() -> None:
    now = [100.0]

    fence = FenceStore(create_async_engine("sqlite+aiosqlite://"))
    c = ClusterController(
        lease=_lease(),
        fence=fence,
        node="n1",
        clock=lambda: now[0],
    )
    c.role, c.token, c.valid_until = Role.LEADER, 7, 103.0
    assert c.is_leader
    now[0] = 103.0  # e.g. the process was SIGSTOPped across its expiry
    assert not c.is_leader


def test_cluster_settings_are_validated() -> None:
    settings = load_settings(redis_url="redis://r:6379/0", role="console", lease_ttl=5)
    assert settings.role == "console" and settings.lease_ttl == 5
    for bad in ({"role": "leader"}, {"lease_ttl": 0.1}, {"redis_prefix": "a b"}):
        with pytest.raises(ConfigError):
            load_settings(**bad)
    with pytest.raises(ConfigError):
        load_settings(node_name="host\nx")


def test_a_console_process_needs_redis(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HOTLINE_REDIS_URL"):
        load_settings(
            role="console",
            ami_user="hotline",
            ami_secret=SecretStr("s"),
            db_url=f"sqlite:///{tmp_path / 'h.db'}",
        )


async def test_listeners_hear_an_election_in_order_and_a_demotion_in_reverse() -> None:
    log: list[str] = []

    class Listener:
        def __init__(self, name: str) -> None:
            self.name = name

        async def elected(self, token: int) -> None:
            log.append(f"{self.name} elected {token}")

        async def demoted(self, reason: str) -> None:
            log.append(f"{self.name} demoted: {reason}")

    fence = FenceStore(create_async_engine("sqlite+aiosqlite://"))
    c = ClusterController(lease=_lease(), fence=fence, node="n1")
    c.subscribe(Listener("lifecycle"))
    c.subscribe(Listener("other"))
    c.role, c.token, c.valid_until = Role.LEADER, 7, c.clock() + 3
    await c._elected(7)
    await c._demote("lease lost")
    assert log == [
        "lifecycle elected 7",
        "other elected 7",
        "other demoted: lease lost",
        "lifecycle demoted: lease lost",
    ]
    assert c.role is Role.STANDBY


async def test_while_reclaiming_the_fence_the_new_token_is_claiming() -> None:
    seen: list[tuple[int | None, int | None]] = []

    class Fence:
        def __init__(self, accept: bool) -> None:
            self.accept = accept

        async def claim(self, token: int, holder: str, *, wait: float | None = None) -> bool:
            seen.append((c.token, c.claiming))
            return self.accept

    c = ClusterController(lease=_lease(), fence=Fence(True), node="n1")  # type: ignore[arg-type]
    c.token = 4
    assert await c._reclaim_fence(5)
    assert seen == [(4, 5)] and (c.token, c.claiming) == (5, None)
    c.fence = Fence(False)  # type: ignore[assignment]
    with contextlib.suppress(Exception):  # the refusal path also tidies the lease
        assert not await c._reclaim_fence(6)
    assert (c.token, c.claiming) == (5, None)


@pytest.mark.parametrize(("claim_takes", "leads"), [(0.5, True), (3.5, False)])
async def test_a_claim_that_outlasts_the_lease_makes_no_leader(
    claim_takes: float, leads: bool
) -> None:
    now = [100.0]
    released: list[int] = []

    class Lease:
        timing = LeaseTiming(3.0)

        async def acquire(self, holder: str) -> int:
            return 7

        async def release(self, holder: str, token: int) -> bool:
            released.append(token)
            return True

    class Fence:
        async def claim(self, token: int, holder: str, *, wait: float | None = None) -> bool:
            assert wait is not None and wait < Lease.timing.ttl
            now[0] += claim_takes  # an old leader's lock on the fence row held it up
            return True

    c = ClusterController(
        lease=Lease(),  # type: ignore[arg-type]
        fence=Fence(),  # type: ignore[arg-type]
        node="n1",
        clock=lambda: now[0],
    )
    await c._try_lead()
    assert (c.role is Role.LEADER, c.is_leader) == (leads, leads)
    assert released == ([] if leads else [7])
    if c._lead_task is not None:
        await c._lead_task
