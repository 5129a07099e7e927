"""The composition root's wiring, built but not started: which components run where,
in which order, and that leadership reaches them only through its listeners."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from cluster import ClusterController, ModeHandover, SoleLeader
from hotline.runtime import HotlineService
from hotline.settings import Settings

EVERYWHERE = [
    "database",
    "bus",
    "console-state",
    "supervision",
    "dispatch",
    "oncall",
    "emergency-journal",
    "pipeline",
    "database-check",
    "site-cache",
    "outage",
    "ivr",
    "leadership",
    "console",
]
LEADER_ONLY = [
    "spool-replay",
    "journal-refresh",
    "ami",
    "supervision",
    "health-watch",
    "backfill-reconciliation",
    "cdr-sweep",
    "dispatch-resend",
    "recording-purge",
    "oncall-paging",
]


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(
        ami_user="hotline",
        ami_secret=SecretStr("s"),
        db_url=f"sqlite:///{tmp_path / 'h.db'}",
        journal_dir=tmp_path / "journal",
        **values,
    )


async def test_a_single_instance_leads_through_the_sole_leader(tmp_path: Path) -> None:
    service = HotlineService.build(settings(tmp_path))
    try:
        lifecycle = service.lifecycle
        assert [c.name for c in lifecycle.everywhere] == EVERYWHERE
        assert [c.name for c in lifecycle.leader] == LEADER_ONLY
        assert isinstance(service.leadership, SoleLeader)
        assert service.leadership._listeners == [lifecycle]
        # Nothing is fenced without a cluster.
        screen_pop = next(s for s in service.pipeline.stages if s.name == "screen-pop")
        assert service.pipeline._handlers["screen-pop"] == screen_pop.handle
    finally:
        await service.db.dispose()


async def test_a_cluster_member_fences_and_arms_the_hand_over_at_election(
    tmp_path: Path,
) -> None:
    service = HotlineService.build(
        settings(tmp_path, redis_url="redis://127.0.0.1:1/0", drill_interval_hours=24)
    )
    try:
        leadership = service.leadership
        assert isinstance(leadership, ClusterController)
        assert leadership._listeners == [service.lifecycle]
        leader = [c.name for c in service.lifecycle.leader]
        assert leader == ["mode-handover", *LEADER_ONLY[:4], "drills", *LEADER_ONLY[4:]]
        # The hand-over is the first AMI log-in hook: the PBX's mode wins after a takeover.
        assert isinstance(service.ami.on_connected[0], ModeHandover)
        screen_pop = next(s for s in service.pipeline.stages if s.name == "screen-pop")
        assert service.pipeline._handlers["screen-pop"] != screen_pop.handle
        assert service.pipeline._handlers["emergency-journal"] is not None
    finally:
        await leadership.lease.client.aclose()
        await service.db.dispose()


async def test_a_console_process_has_no_fastagi_listener(tmp_path: Path) -> None:
    service = HotlineService.build(
        settings(tmp_path, role="console", redis_url="redis://127.0.0.1:1/0")
    )
    try:
        assert "ivr" not in [c.name for c in service.lifecycle.everywhere]
        assert isinstance(service.leadership, ClusterController)
        assert not service.leadership.campaign
    finally:
        await service.leadership.lease.client.aclose()
        await service.db.dispose()
