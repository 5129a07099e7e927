"""SessionManager over shared stores, with a fake clock: several managers on one store
behave as several console processes (and a new manager as a restarted one)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

import console.sessions
from console.domain.session import SessionClaims, sign
from console.domain.throttle import ThrottlePolicy
from console.errors import LogoutNotRecorded, NotAuthenticated, TooManyAttempts
from console.revocations import InMemoryRevocations
from console.sessions import Session, SessionManager
from console.throttling import LocalLoginAttempts
from routing.errors import StoreUnavailable
from routing.records import ConsoleUser, UserRole

SECRET = "s" * 32
PASSWORD = "right password"
T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Users:
    """`UserStore` with two users; `down` makes every read fail as a dead database."""

    def __init__(self) -> None:
        self.down = False
        self.reads = 0
        self.known = {
            "alice": ConsoleUser(username="alice", role=UserRole.AGENT),
            "sue": ConsoleUser(username="sue", role=UserRole.SUPERVISOR),
        }

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("database unavailable: test")

    async def create(
        self, username: str, role: UserRole | str, password: str, interface: str | None = None
    ) -> ConsoleUser:
        raise NotImplementedError

    async def authenticate(self, username: str, password: str) -> ConsoleUser | None:
        self._check()
        return self.known.get(username) if password == PASSWORD else None

    async def get(self, username: str) -> ConsoleUser | None:
        self._check()
        self.reads += 1
        return self.known.get(username)

    async def get_many(self, usernames: Sequence[str]) -> dict[str, ConsoleUser]:
        self._check()
        self.reads += 1
        return {n: self.known[n] for n in usernames if n in self.known}

    async def all_users(self) -> Sequence[ConsoleUser]:
        return list(self.known.values())


class Revocations(InMemoryRevocations):
    """The shared store, counting reads; `down` fails reads and writes, `read_only` only
    writes (a database in the middle of a fail-over)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.read_only = False
        self.reads = 0

    async def revoke(
        self, nonce: str, username: str, expires_at: datetime, *, now: datetime
    ) -> None:
        if self.down or self.read_only:
            raise StoreUnavailable("database unavailable: test")
        await super().revoke(nonce, username, expires_at, now=now)

    async def is_revoked(self, nonce: str) -> bool:
        if self.down:
            raise StoreUnavailable("database unavailable: test")
        self.reads += 1
        return await super().is_revoked(nonce)

    async def revoked_among(self, nonces: Sequence[str]) -> set[str]:
        if self.down:
            raise StoreUnavailable("database unavailable: test")
        self.reads += 1
        return await super().revoked_among(nonces)


def manager(
    store: Revocations, clock: Clock, users: Users | None = None, **kwargs: object
) -> SessionManager:
    return SessionManager(
        SECRET,
        users or Users(),
        ttl=timedelta(hours=1),
        clock=clock,
        revocations=store,
        **kwargs,  # type: ignore[arg-type]
    )


async def logged_in(sessions: SessionManager, username: str = "alice") -> Session:
    session = await sessions.log_in(username, PASSWORD, client="10.0.0.1")
    assert session is not None
    return session


async def test_a_log_out_holds_on_every_process_and_after_a_restart() -> None:
    store, clock = Revocations(), Clock()
    a, b = manager(store, clock), manager(store, clock)
    session = await logged_in(a)
    assert (await b.resolve(session.token)).user.username == "alice"
    await a.revoke(session)
    for sessions in (a, b, manager(store, clock)):  # A, B, and C started afterwards
        with pytest.raises(NotAuthenticated, match="logged out"):
            await sessions.resolve(session.token)
    other = await logged_in(a, "sue")
    assert (await b.resolve(other.token)).user.username == "sue"  # only that session


async def test_the_store_is_asked_until_the_process_has_seen_the_revocation() -> None:
    store, clock = Revocations(), Clock()
    a, b = manager(store, clock), manager(store, clock)
    session = await logged_in(a)
    await b.resolve(session.token)
    await b.resolve(session.token)
    assert store.reads == 2  # a token not known revoked is checked every time
    await a.revoke(session)
    with pytest.raises(NotAuthenticated):
        await a.resolve(session.token)
    assert store.reads == 2  # A revoked it itself: no read needed
    for _ in range(3):
        with pytest.raises(NotAuthenticated):
            await b.resolve(session.token)
    assert store.reads == 3  # B asked once, then remembered


async def test_a_store_outage_while_resolving_fails_like_the_user_lookup() -> None:
    store, clock, users = Revocations(), Clock(), Users()
    sessions = manager(store, clock, users)
    session = await logged_in(sessions)
    store.down = True
    with pytest.raises(StoreUnavailable):
        await sessions.resolve(session.token)
    store.down, users.down = False, True
    with pytest.raises(StoreUnavailable):
        await sessions.resolve(session.token)


async def test_a_log_out_the_store_missed_is_refused_here_and_recorded_later() -> None:
    store, clock = Revocations(), Clock()
    a, b = manager(store, clock), manager(store, clock)
    session = await logged_in(a)
    store.read_only = True
    with pytest.raises(LogoutNotRecorded, match="could not be recorded"):
        await a.revoke(session)
    assert a.unrecorded_logouts == 1
    with pytest.raises(NotAuthenticated):
        await a.resolve(session.token)  # refused here at once
    assert (await b.resolve(session.token)).user.username == "alice"  # not yet elsewhere
    store.read_only = False
    # The next request A serves writes the missed log-out.
    other = await logged_in(a, "sue")
    await a.resolve(other.token)
    assert a.unrecorded_logouts == 0
    with pytest.raises(NotAuthenticated):
        await b.resolve(session.token)


async def test_a_missed_log_out_of_an_expired_token_is_dropped() -> None:
    store, clock = Revocations(), Clock()
    sessions = manager(store, clock)
    session = await logged_in(sessions)
    store.down = True
    with pytest.raises(LogoutNotRecorded):
        await sessions.revoke(session)
    store.down = False
    clock.now = T0 + timedelta(hours=2)
    fresh = await logged_in(sessions, "sue")
    await sessions.resolve(fresh.token)
    assert sessions.unrecorded_logouts == 0
    assert session.claims.nonce not in store.expiries  # nothing left to refuse


async def test_the_local_memory_of_revocations_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(console.sessions, "REVOKED_CACHE_SIZE", 50)
    store, clock = Revocations(), Clock()
    sessions = manager(store, clock)
    session = await logged_in(sessions)
    mine = session.claims
    for i in range(60):
        claims = SessionClaims(mine.username, mine.issued_at, mine.expires_at, f"n{i}")
        await sessions.revoke(Session(session.user, claims, sign(claims, SECRET.encode())))
    assert len(sessions._revoked) == 50
    # The oldest were forgotten here, yet still refused: the store is the authority.
    oldest = SessionClaims(mine.username, mine.issued_at, mine.expires_at, "n0")
    assert "n0" not in sessions._revoked
    with pytest.raises(NotAuthenticated, match="logged out"):
        await sessions.resolve(sign(oldest, SECRET.encode()))


async def test_failed_log_ins_count_wherever_the_attempts_are_kept() -> None:
    store, clock = Revocations(), Clock()
    attempts = LocalLoginAttempts(ThrottlePolicy(max_failures=3))
    a = manager(store, clock, attempts=attempts)
    b = manager(store, clock, attempts=attempts)
    assert await a.log_in("alice", "wrong", client="10.0.0.9") is None
    assert await b.log_in("alice", "wrong", client="10.0.0.9") is None
    assert await a.log_in("alice", "wrong", client="10.0.0.9") is None
    with pytest.raises(TooManyAttempts):
        await b.log_in("alice", PASSWORD, client="10.0.0.9")
    clock.now = T0 + timedelta(minutes=6)
    assert await b.log_in("alice", PASSWORD, client="10.0.0.9") is not None


def changed_user(users: Users, username: str, **change: object) -> None:
    users.known[username] = dataclasses.replace(users.known[username], **change)  # type: ignore[arg-type]


ENDINGS = [
    # (what happens to alice's session, why her socket closes; sue's stays open)
    ("nothing", None),
    ("logged out on another process", "logged out; log in again"),
    ("account disabled", "this account is no longer active"),
    ("account removed", "this account is no longer active"),
    ("password changed", "signed out (password, role or account changed); log in again"),
    ("token expired", "session invalid or expired; log in again"),
    ("idle too long", "session idle too long; log in again"),
]


@pytest.mark.parametrize(("change", "reason"), ENDINGS)
async def test_open_sockets_are_rechecked_together(change: str, reason: str | None) -> None:
    store, clock, users = Revocations(), Clock(), Users()
    here = manager(store, clock, users, idle=timedelta(minutes=20))
    elsewhere = manager(store, clock, users)
    alice, sue = await logged_in(here), await logged_in(here, "sue")
    clock.now += timedelta(minutes=5)
    await here.touch(sue)
    if change == "logged out on another process":
        await elsewhere.revoke(await elsewhere.resolve(alice.token))
    elif change == "account disabled":
        changed_user(users, "alice", active=False)
    elif change == "account removed":
        del users.known["alice"]
    elif change == "password changed":
        changed_user(users, "alice", session_epoch=1)
    elif change == "token expired":
        clock.now = alice.claims.expires_at
        await here.touch(sue)
        sue = await logged_in(here, "sue")  # a fresh log-in: hers is still good
    elif change == "idle too long":
        clock.now += timedelta(minutes=17)
        await here.touch(sue)
    store.reads = users.reads = 0

    ended = await here.ended_among([alice, sue])

    assert ended == ({} if reason is None else {alice.token: reason})
    # one read of the log-outs and one of the users, however many sockets
    assert (store.reads, users.reads) == (1, 1)
    # and the same answer as each socket asking for itself
    for session in (alice, sue):
        if session.token in ended:
            with pytest.raises(NotAuthenticated) as refused:
                await here.resolve(session.token)
            assert str(refused.value) == ended[session.token]
        else:
            await here.resolve(session.token)


async def test_a_recheck_the_store_cannot_answer_ends_nothing() -> None:
    store, clock, users = Revocations(), Clock(), Users()
    sessions = manager(store, clock, users)
    alice = await logged_in(sessions)
    users.down = True
    with pytest.raises(StoreUnavailable):
        await sessions.ended_among([alice])
    users.down, store.down = False, True
    with pytest.raises(StoreUnavailable):
        await sessions.ended_among([alice])
    store.down = False
    assert await sessions.ended_among([alice]) == {}
