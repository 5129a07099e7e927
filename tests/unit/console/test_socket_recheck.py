"""`SocketRecheck`: the open sockets' sessions are checked together, the ended ones
learn why, the others stay open; a pass the store cannot answer ends nothing; the pass
runs only while a socket is open."""

from __future__ import annotations

import asyncio

import pytest

from console.sessions import Session
from console.socket_recheck import SocketRecheck

from .test_sessions import T0, Clock, Revocations, Users, logged_in, manager


async def test_one_pass_ends_only_the_sessions_that_ended() -> None:
    store, users = Revocations(), Users()
    sessions = manager(store, Clock(), users)
    alice, sue = await logged_in(sessions), await logged_in(sessions, "sue")
    rechecks = SocketRecheck(sessions, interval=3600)
    alice_ended, sue_ended = rechecks.watch(alice), rechecks.watch(sue)
    await other_process_logs_out(store, alice)
    store.reads = users.reads = 0

    await rechecks.recheck()

    assert alice_ended.result() == "logged out; log in again"
    assert not sue_ended.done()
    assert (store.reads, users.reads) == (1, 1)  # two sockets, one read each
    for ended in (alice_ended, sue_ended):
        rechecks.unwatch(ended)


async def test_a_pass_the_store_cannot_answer_ends_nothing() -> None:
    store, users = Revocations(), Users()
    sessions = manager(store, Clock(), users)
    alice = await logged_in(sessions)
    rechecks = SocketRecheck(sessions, interval=3600)
    ended = rechecks.watch(alice)
    await other_process_logs_out(store, alice)
    store.down = True
    await rechecks.recheck()
    assert not ended.done()
    store.down = False
    await rechecks.recheck()
    assert ended.result() == "logged out; log in again"
    rechecks.unwatch(ended)


async def test_the_pass_runs_while_a_socket_is_open() -> None:
    store, users = Revocations(), Users()
    sessions = manager(store, Clock(), users)
    alice = await logged_in(sessions)
    rechecks = SocketRecheck(sessions, interval=0.01)
    ended = rechecks.watch(alice)
    await other_process_logs_out(store, alice)
    assert await asyncio.wait_for(ended, 5) == "logged out; log in again"
    task = rechecks._task
    assert task is not None and not task.done()
    rechecks.unwatch(ended)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rechecks.watched == 0 and rechecks._task is None
    again = rechecks.watch(await logged_in(sessions))  # a new socket starts it again
    assert rechecks._task is not None and not rechecks._task.done()
    rechecks.unwatch(again)


async def other_process_logs_out(store: Revocations, session: Session) -> None:
    """A log-out another console process wrote: no word reached this one."""
    claims = session.claims
    await store.revoke(claims.nonce, session.user.username, claims.expires_at, now=T0)
