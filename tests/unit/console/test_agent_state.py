"""Queue membership plan: what the PBX must do for each console request."""

from __future__ import annotations

import pytest

from console.domain.agent_state import AgentState, Membership, QueueAction, after, plan

OUT = Membership()
READY = Membership(in_queue=True, paused=False)
PAUSED = Membership(in_queue=True, paused=True)


@pytest.mark.parametrize(
    ("current", "wanted", "steps", "final"),
    [
        (OUT, AgentState.READY, (QueueAction.ADD,), AgentState.READY),
        (OUT, AgentState.PAUSED, (), AgentState.LOGGED_OUT),
        (OUT, AgentState.LOGGED_OUT, (), AgentState.LOGGED_OUT),
        (READY, AgentState.READY, (), AgentState.READY),
        (READY, AgentState.PAUSED, (QueueAction.PAUSE,), AgentState.PAUSED),
        (READY, AgentState.LOGGED_OUT, (QueueAction.REMOVE,), AgentState.LOGGED_OUT),
        (PAUSED, AgentState.READY, (QueueAction.UNPAUSE,), AgentState.READY),
        (PAUSED, AgentState.PAUSED, (), AgentState.PAUSED),
        (PAUSED, AgentState.LOGGED_OUT, (QueueAction.REMOVE,), AgentState.LOGGED_OUT),
    ],
)
def test_plan(
    current: Membership,
    wanted: AgentState,
    steps: tuple[QueueAction, ...],
    final: AgentState,
) -> None:
    assert plan(current, wanted) == steps
    state = current
    for step in steps:
        state = after(state, step)
    assert state.state is final
