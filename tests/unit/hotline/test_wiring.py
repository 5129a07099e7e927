"""The composition root's wiring, built but not started: which components run where,
in which order, and that leadership reaches them only through its listeners."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from cluster import ClusterController, ModeHandover, SoleLeader
from console.components import SystemHealth
from hotline.runtime import HotlineService
from hotline.settings import ConfigError, Settings
from lifecycle import HealthEntry

EVERYWHERE = [
    "thread-handoff",
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
    "settled-heap",
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
        assert isinstance(service.edges.leadership, SoleLeader)
        assert service.edges.leadership._listeners == [lifecycle]
        # Nothing is fenced without a cluster.
        screen_pop = next(
            s for s in service.path.pipeline.pipeline.stages if s.name == "screen-pop"
        )
        assert service.path.pipeline.pipeline._handlers["screen-pop"] == screen_pop.handle
    finally:
        await service.edges.store.db.dispose()


async def test_a_cluster_member_fences_and_arms_the_hand_over_at_election(
    tmp_path: Path,
) -> None:
    service = HotlineService.build(
        settings(tmp_path, redis_url="redis://127.0.0.1:1/0", drill_interval_hours=24)
    )
    try:
        leadership = service.edges.leadership
        assert isinstance(leadership, ClusterController)
        assert leadership._listeners == [service.lifecycle]
        leader = [c.name for c in service.lifecycle.leader]
        assert leader == ["mode-handover", *LEADER_ONLY[:4], "drills", *LEADER_ONLY[4:]]
        # The hand-over is the first AMI log-in hook: the PBX's mode wins after a takeover.
        assert isinstance(service.edges.ami.client.on_connected[0], ModeHandover)
        screen_pop = next(
            s for s in service.path.pipeline.pipeline.stages if s.name == "screen-pop"
        )
        assert service.path.pipeline.pipeline._handlers["screen-pop"] != screen_pop.handle
        assert service.path.pipeline.pipeline._handlers["emergency-journal"] is not None
    finally:
        await leadership.lease.client.aclose()
        await service.edges.store.db.dispose()


async def test_a_console_process_has_no_fastagi_listener(tmp_path: Path) -> None:
    service = HotlineService.build(
        settings(tmp_path, role="console", redis_url="redis://127.0.0.1:1/0")
    )
    try:
        assert "ivr" not in [c.name for c in service.lifecycle.everywhere]
        assert isinstance(service.edges.leadership, ClusterController)
        assert not service.edges.leadership.campaign
    finally:
        await service.edges.leadership.lease.client.aclose()
        await service.edges.store.db.dispose()


async def test_the_heap_is_left_to_the_collector_when_asked(tmp_path: Path) -> None:
    service = HotlineService.build(settings(tmp_path, gc_freeze=False))
    try:
        assert [c.name for c in service.lifecycle.everywhere] == EVERYWHERE[:-1]
    finally:
        await service.edges.store.db.dispose()


async def test_healthz_gathers_each_package_entry_in_order(tmp_path: Path) -> None:
    service = HotlineService.build(settings(tmp_path))
    try:
        health = await service.console.health()
        assert list(health) == [
            "ami", "database", "redis", "controller", "ivr", "emergency", "journal", "calls",
            "spool",
        ]  # fmt: skip
        # Not started: the AMI link is down and FastAGI does not listen yet.
        assert health["ami"] == {"status": "down", "state": "disconnected", "connections": 0}
        assert health["database"] == {"status": "ok"}
        assert health["redis"] == "not_configured"
        assert health["controller"] == {"status": "ok", "role": "leader", "note": "single instance"}
        assert health["ivr"] == {"status": "down", "port": None}
        assert health["emergency"] == {"status": "ok", "active": False, "state": "normal"}
        assert health["journal"]["status"] == "ok"
        assert health["calls"] == {"status": "ok", "live": 0, "pipeline_backlog": 0}
        assert health["spool"]["status"] == "ok" and health["spool"]["events"] == 0
        assert health["spool"]["limit_bytes"] == 100 * 1024 * 1024
    finally:
        await service.edges.store.db.dispose()


async def test_a_standby_reports_ami_disabled_and_a_console_process_no_ivr(
    tmp_path: Path,
) -> None:
    service = HotlineService.build(
        settings(tmp_path, role="console", redis_url="redis://127.0.0.1:1/0")
    )
    try:
        health = await service.console.health()
        assert health["ami"]["status"] == "disabled"
        assert health["ivr"] == {"status": "disabled", "port": None}
    finally:
        assert isinstance(service.edges.leadership, ClusterController)
        await service.edges.leadership.lease.client.aclose()
        await service.edges.store.db.dispose()


async def test_the_log_in_hooks_run_the_emergency_pool_then_the_cdr_sweep(
    tmp_path: Path,
) -> None:
    service = HotlineService.build(settings(tmp_path))
    try:
        hooks = [hook.__qualname__ for hook in service.edges.ami.client.on_connected]
        assert hooks == ["Emergency.after_login", "CdrSweep.after_login"]
    finally:
        await service.edges.store.db.dispose()


async def test_the_console_mounts_every_package_route(tmp_path: Path) -> None:
    service = HotlineService.build(settings(tmp_path))
    try:
        paths = set(service.console.app.openapi()["paths"])
        assert {
            "/healthz",
            "/api/wallboard",  # supervision
            "/api/tickets/{number}/dispatch",  # dispatch
            "/api/oncall",  # on-call paging
            "/api/tickets/{number}/split",  # repeat calls
            "/api/outage",  # outage announcements
            "/api/calls/{call_id}/recording",  # recordings
        } <= paths
    finally:
        await service.edges.store.db.dispose()


async def test_serve_refuses_a_database_behind_the_newest_migration(tmp_path: Path) -> None:
    service = HotlineService.build(settings(tmp_path), check_schema=True)
    with pytest.raises(ConfigError, match="revision none.*run `hotline db upgrade`"):
        await service.start()
    assert service.lifecycle.running() == []  # what had started is stopped again


async def test_the_wired_supervision_routes_refuse_anonymous_requests(tmp_path: Path) -> None:
    service = HotlineService.build(settings(tmp_path, http_port=0))
    server = service.console.http
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=service.console_url) as client:
            for path in ("/api/wallboard", "/api/supervision/notices", "/reports/monthly/2026-11/"):
                assert (await client.get(path)).status_code == 401, path
        socket_url = service.console_url.replace("http://", "ws://") + "/ws/wallboard"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(socket_url):
                pass
        assert refused.value.response.status_code == 401
    finally:
        await server.stop()
        await service.edges.store.db.dispose()


def test_two_health_entries_of_one_name_are_refused() -> None:
    class Part:
        def __init__(self, *names: str) -> None:
            self.names = names

        def health_entries(self) -> dict[str, HealthEntry]:
            return {name: lambda: "ok" for name in self.names}

    assert list(SystemHealth.of([Part("ami"), Part("database")]).entries) == ["ami", "database"]
    with pytest.raises(ValueError, match="'ami'"):
        SystemHealth.of([Part("ami", "database"), Part("ami")])


def test_a_bad_supervision_table_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"bad \[supervision\] configuration: unknown"):
        HotlineService.build(settings(tmp_path, supervision={"chanels": []}))
