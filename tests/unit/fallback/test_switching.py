"""PBX switching against a fake CallControl that keeps queues like Asterisk."""

from __future__ import annotations

import pytest

from fallback.errors import InvalidRequest
from fallback.switching import PbxSwitch

MAIN, EMER = "hotline-main", "hotline-emergency"
POOL = ["PJSIP/1003", "Local/13800138000@emergency-out"]


def fill(pbx, n: int, queue: str = MAIN, prio=lambda i: 5) -> list[str]:
    channels = []
    for i in range(n):
        ch = f"PJSIP/trunk-{i:08x}"
        pbx.join(queue, ch, f"17000000{i:02d}.{i}", prio=prio(i))
        channels.append(ch)
    return channels


async def test_enter_writes_astdb_first_adds_pool_and_moves_in_order(pbx) -> None:
    channels = fill(pbx, 5, prio=lambda i: 10 if i == 3 else 5)
    switch = PbxSwitch(pbx, pool=POOL, retry_delay=0)
    order_before = [w.channel for w in pbx.queues[MAIN]]
    report = await switch.enter()

    assert pbx.actions[0] == ("DBPut", "hotline", "mode", "emergency")
    assert pbx.astdb[("hotline", "mode")] == "emergency"
    assert {m.interface for m in pbx.members[EMER]} == set(POOL)
    assert report.complete and report.moved == 5
    assert pbx.queues[MAIN] == []
    # Same order in the new queue (priority first, then their place in the old one).
    assert [w.channel for w in pbx.queues[EMER]] == order_before
    assert order_before[0] == channels[3]
    # Each move is Setvar HOTLINE_QUEUE then Redirect to hotline-requeue,s,1.
    moves = [a for a in pbx.actions if a[0] in ("Setvar", "Redirect")]
    assert moves[0] == ("Setvar", "HOTLINE_QUEUE", EMER, order_before[0])
    assert moves[1] == ("Redirect", order_before[0], "hotline-requeue", "s", 1)
    assert all(pbx.channel_vars[c]["QUEUE_PRIO"] for c in channels)


async def test_pool_member_already_there_is_fine(pbx) -> None:
    await pbx.queue_add(EMER, "PJSIP/1003")
    switch = PbxSwitch(pbx, pool=POOL)
    report = await switch.ensure_pool()
    assert report.ok
    assert report.present == ("PJSIP/1003",)
    assert report.added == ("Local/13800138000@emergency-out",)
    assert len(pbx.members[EMER]) == 2


async def test_failed_redirect_is_retried_and_a_stubborn_one_reported_not_dropped(pbx) -> None:
    channels = fill(pbx, 4)
    pbx.redirect_failures[channels[1]] = 2  # succeeds on the third attempt
    pbx.redirect_failures[channels[2]] = 99  # never succeeds
    switch = PbxSwitch(pbx, pool=POOL, redirect_attempts=3, retry_delay=0)
    report = await switch.enter()

    outcome = {m.channel: (m.outcome, m.attempts) for m in report.moves}
    assert outcome[channels[1]] == ("moved", 3)
    assert outcome[channels[2]][0] == "failed"
    assert not report.complete
    # Nobody lost: the stubborn caller still waits in the main queue, the rest moved.
    assert [w.channel for w in pbx.queues[MAIN]] == [channels[2]]
    assert [w.channel for w in pbx.queues[EMER]] == [channels[0], channels[1], channels[3]]
    # A later reapply (e.g. after the health round) moves it.
    pbx.redirect_failures[channels[2]] = 0
    again = await switch.reapply(emergency=True)
    assert again.complete and again.moved == 1
    assert pbx.queues[MAIN] == []


async def test_caller_answered_while_being_moved_is_not_yanked(pbx) -> None:
    channels = fill(pbx, 3)
    talking: set[str] = set()

    def agent_picks_up(channel: str) -> None:
        # Race: the main-queue agent answers the second caller just before its Redirect.
        if channel == channels[1] and not talking:
            pbx.answer(channel)
            talking.add(channel)

    pbx.before_redirect = agent_picks_up
    switch = PbxSwitch(pbx, pool=POOL, retry_delay=0)
    report = await switch.enter()
    outcome = {m.channel: m.outcome for m in report.moves}
    assert outcome == {channels[0]: "moved", channels[1]: "gone", channels[2]: "moved"}
    assert report.complete
    assert ("YANKED", channels[1]) in pbx.actions  # the fake's Redirect saw a talking channel
    # ...which is why the tracker's knowledge is consulted first:
    pbx2_switch = PbxSwitch(pbx, pool=POOL, is_connected=lambda call_id: True)
    fill(pbx, 1)
    skipped = await pbx2_switch.enter()
    assert [m.outcome for m in skipped.moves] == ["skipped"]


async def test_exit_moves_nobody_by_default(pbx) -> None:
    fill(pbx, 2, queue=EMER)
    pbx.talking.add("PJSIP/trunk-talking")
    switch = PbxSwitch(pbx, pool=POOL)
    report = await switch.exit()
    assert pbx.astdb[("hotline", "mode")] == "normal"
    assert report.moves == () and report.complete
    assert len(pbx.queues[EMER]) == 2 and "PJSIP/trunk-talking" in pbx.talking
    assert pbx.named("Redirect") == []


async def test_exit_can_move_waiting_callers_back_but_never_talkers(pbx) -> None:
    fill(pbx, 2, queue=EMER)
    pbx.talking.add("PJSIP/trunk-talking")
    switch = PbxSwitch(pbx, pool=POOL, move_back_on_exit=True)
    report = await switch.exit()
    assert report.moved == 2
    assert len(pbx.queues[MAIN]) == 2 and pbx.queues[EMER] == []
    assert "PJSIP/trunk-talking" in pbx.talking
    assert all(a[1] != "PJSIP/trunk-talking" for a in pbx.named("Redirect"))


async def test_pbx_down_is_reported_not_raised(pbx) -> None:
    fill(pbx, 2)
    pbx.connected = False
    switch = PbxSwitch(pbx, pool=POOL)
    report = await switch.enter()
    assert not report.astdb_written and not report.complete
    assert len(report.pool.failed) == 2
    assert any("QueueStatus" in e for e in report.errors)
    pbx.connected = True
    assert (await switch.reapply(emergency=True)).complete
    assert pbx.queues[MAIN] == [] and len(pbx.queues[EMER]) == 2


@pytest.mark.parametrize("bad", ["PJSIP/1003\r\nAction: Logoff", "", "  "])
def test_pool_members_are_validated(pbx, bad: str) -> None:
    with pytest.raises(InvalidRequest):
        PbxSwitch(pbx, pool=[bad])


async def test_moving_200_callers_keeps_every_one(pbx) -> None:
    fill(pbx, 200, prio=lambda i: (10, 7, 4, 1, 5)[i % 5])
    expected = [w.channel for w in pbx.queues[MAIN]]
    report = await PbxSwitch(pbx, pool=POOL).enter()
    assert report.moved == 200
    assert [w.channel for w in pbx.queues[EMER]] == expected
