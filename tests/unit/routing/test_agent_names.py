"""Agent names by interface: one read of all users names every phone for `seconds`;
half as old, the names are read again in the background, so calls that keep coming never
wait for a read; a name older than `seconds` is never served, and a phone seen first
waits for one read, shared by everyone asking while it runs."""

from __future__ import annotations

import asyncio

import pytest

from routing.agent_names import AgentNames
from routing.errors import StoreUnavailable
from routing.records import ConsoleUser, UserRole


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Users:
    """The user table; counts the reads."""

    def __init__(self, owners: dict[str, str]) -> None:
        self.owners = dict(owners)  # interface -> username
        self.disabled: set[str] = set()
        self.reads = 0
        self.down = False
        self.gate: asyncio.Event | None = None  # holds `all_users` until set

    async def all_users(self) -> list[ConsoleUser]:
        self.reads += 1
        snapshot = dict(self.owners)
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise StoreUnavailable("database down")
        return [
            ConsoleUser(name, UserRole.AGENT, interface, active=name not in self.disabled)
            for interface, name in snapshot.items()
        ]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("age", "waits", "reads"),
    [
        (0.0, False, 0),  # fresh
        (14.9, False, 0),  # under half of 30 s
        (15.0, False, 1),  # half as old: served now, read again in the background
        (29.9, False, 1),
        (30.0, True, 1),  # too old to serve: read before answering
    ],
)
async def test_a_name_is_served_renewed_or_read_by_its_age(
    age: float, waits: bool, reads: int
) -> None:
    clock, users = Clock(), Users({"PJSIP/1001": "alice"})
    names = AgentNames(users, seconds=30, monotonic=clock)
    assert await names.username("PJSIP/1001") == "alice"
    users.reads = 0
    clock.now = age
    users.gate = asyncio.Event()
    asked = asyncio.ensure_future(names.username("PJSIP/1001"))
    await settle()
    assert asked.done() is not waits
    users.gate.set()
    assert await asked == "alice"
    await settle()
    assert users.reads == reads


async def test_one_read_names_every_phone_and_calls_that_keep_coming_never_wait() -> None:
    clock, users = Clock(), Users({"PJSIP/1001": "alice", "PJSIP/1002": "bob"})
    names = AgentNames(users, seconds=30, monotonic=clock)
    assert await names.username("PJSIP/1001") == "alice"
    assert await names.username("PJSIP/1002") == "bob"
    assert users.reads == 1
    # A phone no user had at the last read: maybe an agent added since; read, remembered.
    assert await names.username("PJSIP/1003") is None
    assert await names.username("PJSIP/1003") is None
    assert users.reads == 2
    users.gate = asyncio.Event()  # from now on a read that an event waited for hangs
    for second in range(10, 300, 10):  # a call every 10 s, for 5 minutes
        clock.now = float(second)
        asked = asyncio.ensure_future(names.username("PJSIP/1001"))
        await settle()
        assert asked.done()
        users.gate.set()
        await settle()
        users.gate.clear()
    assert 2 < users.reads <= 2 + 300 / 15


async def test_a_phone_seen_first_waits_for_one_read_shared_by_all_who_ask() -> None:
    clock, users = Clock(), Users({"PJSIP/1001": "alice"})
    names = AgentNames(users, seconds=30, monotonic=clock)
    await names.username("PJSIP/1001")
    users.owners["PJSIP/1002"] = "bob"
    users.gate = asyncio.Event()
    asked = [asyncio.ensure_future(names.username("PJSIP/1002")) for _ in range(3)]
    await settle()
    assert not any(a.done() for a in asked)
    users.gate.set()
    assert await asyncio.gather(*asked) == ["bob"] * 3
    assert users.reads == 2


async def test_a_read_sees_an_admins_edit() -> None:
    clock, users = Clock(), Users({"PJSIP/1001": "alice"})
    names = AgentNames(users, seconds=30, monotonic=clock)
    await names.username("PJSIP/1001")
    users.owners["PJSIP/1001"] = "bob"  # the admin gives alice's phone to bob
    clock.now = 20.0
    assert await names.username("PJSIP/1001") == "alice"  # the new read under way
    await settle()
    assert await names.username("PJSIP/1001") == "bob"
    users.disabled.add("bob")
    clock.now = 40.0
    await names.username("PJSIP/1001")
    await settle()
    assert await names.username("PJSIP/1001") is None
    assert await names.username("PJSIP/1001", active_only=False) == "bob"
    del users.owners["PJSIP/1001"]
    clock.now = 60.0
    await names.username("PJSIP/1001")
    await settle()
    assert await names.username("PJSIP/1001", active_only=False) is None


async def test_a_failed_background_read_lets_the_names_age_out() -> None:
    clock, users = Clock(), Users({"PJSIP/1001": "alice"})
    names = AgentNames(users, seconds=30, monotonic=clock)
    await names.username("PJSIP/1001")
    users.down = True
    clock.now = 20.0
    assert await names.username("PJSIP/1001") == "alice"
    await settle()
    assert users.reads == 2
    clock.now = 30.0
    with pytest.raises(StoreUnavailable):  # too old: read again, not served stale
        await names.username("PJSIP/1001")
    users.down = False
    assert await names.username("PJSIP/1001") == "alice"
