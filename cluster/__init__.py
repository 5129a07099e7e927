"""Leadership of the controller: a Redis lease (`cluster.lease`), a fencing token the
database enforces (`cluster.fence`), the election loop that starts and stops the
leader's components (`cluster.controller`) and the emergency-mode hand-over after a
takeover (`cluster.handover`)."""

from cluster.controller import ClusterController, LeadershipSettings, Role, build_controller
from cluster.errors import ClusterError, StaleLeader
from cluster.fence import FenceStore, fenced_writes, install_commit_check
from cluster.handover import ModeHandover
from cluster.lease import LeaseTiming, RedisLease, default_node_name, lease_value, parse_lease_value

__all__ = [
    "ClusterController",
    "ClusterError",
    "FenceStore",
    "LeadershipSettings",
    "LeaseTiming",
    "ModeHandover",
    "RedisLease",
    "Role",
    "StaleLeader",
    "build_controller",
    "default_node_name",
    "fenced_writes",
    "install_commit_check",
    "lease_value",
    "parse_lease_value",
]
