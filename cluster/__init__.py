"""Leadership of the controller: a Redis lease (`cluster.lease`), a fencing token the
database enforces (the `cluster.ports.Fence` port, implemented in storage/), the election
loop that tells its listeners when this process leads (`cluster.controller`), the same
interface for a single instance (`cluster.sole`) and the emergency-mode hand-over after a
takeover (`cluster.handover`)."""

from cluster.controller import (
    ClusterController,
    LeadershipListener,
    LeadershipSettings,
    Role,
    build_controller,
)
from cluster.errors import ClusterError, FenceUnavailable, StaleLeader, stale_leader_in
from cluster.handover import ModeHandover
from cluster.lease import LeaseTiming, RedisLease, default_node_name, lease_value, parse_lease_value
from cluster.ports import Fence, TokenHolder
from cluster.sole import SoleLeader

__all__ = [
    "ClusterController",
    "ClusterError",
    "Fence",
    "FenceUnavailable",
    "LeadershipListener",
    "LeadershipSettings",
    "LeaseTiming",
    "ModeHandover",
    "RedisLease",
    "Role",
    "SoleLeader",
    "StaleLeader",
    "TokenHolder",
    "build_controller",
    "default_node_name",
    "lease_value",
    "parse_lease_value",
    "stale_leader_in",
]
