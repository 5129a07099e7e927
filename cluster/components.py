"""Leadership as a component: `build(settings, fence)` makes the `ClusterController` (a
Redis lease, fenced in the database through `fence`) when `HOTLINE_REDIS_URL` is set, and
`SoleLeader` otherwise. Either runs everywhere and tells its listeners when this process
leads; either wraps the leader-only call-event handlers (`fenced`), says whether the PBX
is left to another process (`standby`), gives the hand-overs a takeover needs
(`handovers`) and the `/healthz` entry `controller`.
"""

from __future__ import annotations

from cluster.controller import ClusterController, LeadershipSettings, build_controller
from cluster.ports import Fence
from cluster.sole import SoleLeader

Leadership = ClusterController | SoleLeader


def build(settings: LeadershipSettings, fence: Fence) -> Leadership:
    return build_controller(settings, fence) if settings.redis_url else SoleLeader()
