from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calls import CallOutcome, CallSnapshot, CallState
from routing.errors import InvalidInput, UserExists
from routing.records import CallFilter, UserRole
from storage.calls import CallRepository
from storage.database import Database
from storage.users import UserRepository, hash_password, verify_password
from testkit.call_snapshots import call_snapshot

T0 = datetime(2026, 11, 21, 8, 30, tzinfo=UTC)


def snapshot(call_id: str = "1795304030.13", **kw: object) -> CallSnapshot:
    fields: dict[str, object] = {
        "channel": "PJSIP/trunk-00000009",
        "caller_name": "Site caller",
        "queued_at": T0 + timedelta(seconds=20),
        "site_code": "234567",
        "level": 1,
        "variables": {"HOTLINE_SITE": "234567", "HOTLINE_LEVEL": "1"},
    }
    return call_snapshot(call_id, T0, **(fields | kw))


def test_password_hash_roundtrip() -> None:
    encoded = hash_password("correct horse")
    assert encoded.startswith("scrypt$") and "correct horse" not in encoded
    assert verify_password("correct horse", encoded)
    assert not verify_password("correct horsE", encoded)
    assert not verify_password("x", "garbage")
    assert hash_password("same") != hash_password("same")  # salted


async def test_users(db: Database) -> None:
    users = UserRepository(db)
    alice = await users.create("alice", "agent", "s3cret-pass", "PJSIP/1001")
    assert alice.role is UserRole.AGENT and alice.interface == "PJSIP/1001"
    await users.create("sam", UserRole.SUPERVISOR, "another-pass")
    assert await users.authenticate("alice", "s3cret-pass") == alice
    assert await users.authenticate("alice", "wrong-pass") is None
    assert await users.authenticate("nobody", "s3cret-pass") is None
    assert await users.all_users() == [alice, await users.get("sam")]
    with pytest.raises(UserExists):
        await users.create("alice", "agent", "s3cret-pass")
    with pytest.raises(InvalidInput) as err:
        await users.create("bob", "agent", "s3cret-pass", "PJSIP/1001")
    assert err.value.field == "interface"
    for bad in (
        dict(username="a b", role="agent", password="s3cret-pass"),
        dict(username="x" * 65, role="agent", password="s3cret-pass"),
        dict(username="bob", role="root", password="s3cret-pass"),
        dict(username="bob", role="agent", password="short"),
        dict(username="bob", role="agent", password="s3cret-pass", interface="PJSIP/1\r\n"),
    ):
        with pytest.raises(InvalidInput):
            await users.create(**bad)  # type: ignore[arg-type]
    await users.set_active("alice", False)
    assert await users.authenticate("alice", "s3cret-pass") is None
    many = await users.get_many(["sam", "alice", "nobody"])
    assert many == {"alice": await users.get("alice"), "sam": await users.get("sam")}
    assert not many["alice"].active
    assert await users.get_many([]) == {}


async def test_call_upsert_keeps_one_row_and_known_values(db: Database) -> None:
    calls = CallRepository(db)
    await calls.upsert(snapshot(), ticket_number="HL-20261121-0001")
    answered = snapshot(
        state=CallState.CONNECTED,
        answered_at=T0 + timedelta(seconds=40),
        agent_interface="PJSIP/1001",
    )
    await calls.upsert(answered, agent="alice")
    # A resynced snapshot that lost the queue time must not erase it.
    ended = snapshot(
        state=CallState.ENDED,
        queued_at=None,
        agent_interface="PJSIP/1001",
        ended_at=T0 + timedelta(minutes=5),
        outcome=CallOutcome.ANSWERED,
        talk_seconds=260,
        hold_seconds=20,
    )
    record = await calls.upsert(ended)
    assert record.queued_at == T0 + timedelta(seconds=20)
    assert record.agent == "alice" and record.ticket_number == "HL-20261121-0001"
    assert record.outcome == "answered" and record.talk_seconds == 260
    assert record.answered_at == T0 + timedelta(seconds=40)
    assert len(await calls.list()) == 1
    assert (await calls.list(CallFilter(outcome="abandoned"))) == []


async def test_call_list_paging_and_hostile_caller_id(db: Database) -> None:
    calls = CallRepository(db)
    for i in range(4):
        await calls.upsert(
            snapshot(f"c{i}", started_at=T0 + timedelta(minutes=i), caller_name="x\r\n" * 200)
        )
    first = await calls.list(limit=3)
    assert [c.call_id for c in first] == ["c3", "c2", "c1"]
    assert [c.call_id for c in await calls.list(before="c1")] == ["c0"]
    assert "\r" not in first[0].caller_name and len(first[0].caller_name) <= 200
    assert [c.call_id for c in await calls.list(CallFilter(site_code="234567"), limit=1)] == ["c3"]


async def test_stores_bundle(db: Database) -> None:
    from routing.domain.levels import SlaPolicy
    from storage.repositories import Stores

    stores = Stores.build(db, policy=SlaPolicy(), node="N1")
    await stores.users.create("zoe", "admin", "amber-lighthouse-3")
    assert (await stores.users.get("zoe")) is not None
    assert (await stores.sites.match_caller("13800138000")).kind.value == "none"
    assert await stores.calls.list() == []
    assert await stores.tickets.list() == []
