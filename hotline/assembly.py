"""Wiring the composition root delegates: the web console with the supervision and
outage routes, the console's shared state and its access settings, and the system
health behind `/healthz`."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from ami.client import AmiClient, LinkState
from ami.tracker import CallTracker
from bus import MessageBus
from bus.redis import RedisBus
from cluster import ClusterController, default_node_name
from console import ConsoleDeps, create_app
from console.outage import outage_router
from console.runtime import current_username, record, require, wallboard_session
from console.shared_state import ConsoleState
from console.websocket_auth import websocket_role_check
from fallback.health import ConsoleHeartbeats
from fallback.service import EmergencyService
from hotline.settings import Settings
from ivr.outage import OutageAnnouncements
from ivr.server import IvrServer
from pipeline import CallPipeline
from pipeline.spool import EventSpool
from routing.records import UserRole
from storage.audit import AuditRepository
from storage.calls import CallRepository
from storage.database import Database
from storage.revocations import RevocationRepository
from storage.sites import SiteRepository
from storage.tickets import TicketRepository
from storage.users import UserRepository
from supervision.service import SupervisionService


def access_settings(settings: Settings, db: Database, state: ConsoleState) -> dict[str, Any]:
    """The console's access settings (`ConsoleDeps` fields): proxies, cookies, idle
    time-out, audit trail and its retention."""
    idle = settings.session_idle_minutes
    return {
        "trusted_proxies": tuple(settings.trusted_proxies),
        "secure_cookies": settings.cookies_secure(),
        "session_idle": timedelta(minutes=idle) if idle else None,
        "session_activity": state.activity,
        "audit": AuditRepository(db),
        "audit_retention": timedelta(days=settings.audit_retention_days),
    }


def console_state_for(settings: Settings, db: Database) -> ConsoleState:
    """Log-outs in the database; log-in throttle and open consoles through Redis when
    `HOTLINE_REDIS_URL` is set, in this process otherwise."""
    return ConsoleState.build(
        RevocationRepository(db),
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        node=settings.node_name or default_node_name(),
    )


@dataclass(frozen=True)
class SystemHealth:
    """Component states for `/healthz` and the supervisor page."""

    settings: Settings
    db: Database
    bus: MessageBus
    ami: AmiClient
    tracker: CallTracker
    pipeline: CallPipeline
    emergency: EmergencyService
    ivr: IvrServer
    cluster: ClusterController | None
    spool: EventSpool

    async def __call__(self) -> Mapping[str, Any]:
        standby = self.cluster is not None and not self.cluster.is_leader
        ami: dict[str, Any] = {
            # A standby leaves AMI to the leader by design: that is not a fault.
            "status": "disabled"
            if standby
            else ("ok" if self.ami.state is LinkState.CONNECTED else "down"),
            "state": self.ami.state.value,
            "connections": self.ami.connections,
        }
        if self.ami.last_error:
            ami["error"] = self.ami.last_error
        try:
            async with asyncio.timeout(self.settings.health_timeout):
                await self.db.ping()
            database: dict[str, Any] = {"status": "ok"}
        except Exception as exc:  # the page shows the reason, never a stack trace
            database = {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:200]}
        status = self.emergency.status()
        return {
            "ami": ami,
            "database": database,
            "redis": self.bus.state()
            if isinstance(self.bus, RedisBus)
            else ("not_configured" if not self.settings.redis_url else "in_process"),
            "controller": await self.cluster.state()
            if self.cluster is not None
            else {"status": "ok", "role": "leader", "note": "single instance"},
            "ivr": {"status": "ok" if self.ivr.port else "down", "port": self.ivr.port}
            if self.settings.role != "console"
            else {"status": "disabled", "port": None},
            "emergency": {"status": "ok", "active": status.active, "state": status.state},
            "calls": {
                "status": "ok",
                "live": len(self.tracker.calls),
                "pipeline_backlog": self.pipeline.backlog,
            },
            # Call events waiting for the database, on disk: warn before the bound.
            "spool": {
                "status": "warning" if self.spool.near_full else "ok",
                "events": self.spool.pending,
                "bytes": self.spool.size,
                "limit_bytes": self.spool.max_bytes,
                "refused": self.spool.refused,
            },
        }


def console_app(
    settings: Settings,
    db: Database,
    *,
    tickets: TicketRepository,
    calls: CallRepository,
    sites: SiteRepository,
    users: UserRepository,
    ami: AmiClient,
    bus: MessageBus,
    emergency: EmergencyService,
    heartbeats: ConsoleHeartbeats,
    console_state: ConsoleState,
    health: SystemHealth,
    supervision: SupervisionService,
    outage: OutageAnnouncements,
) -> FastAPI:
    """The web console with the supervision and outage routes."""
    secret = (
        settings.session_secret.get_secret_value()
        if settings.session_secret
        else secrets.token_hex(32)
    )
    app = create_app(
        ConsoleDeps(
            tickets=tickets,
            calls=calls,
            sites=sites,
            users=users,
            bus=bus,
            call_control=ami,
            emergency=emergency,
            backfill=emergency,
            health=health,
            session_secret=secret,
            main_queue=settings.main_queue,
            board=emergency,
            heartbeat=heartbeats,
            revocations=console_state.revocations,
            login_attempts=console_state.login_attempts,
            presence=console_state.presence,
            **access_settings(settings, db, console_state),
            locale=settings.locale,
            timezone=settings.timezone,
        )
    )
    app.include_router(
        supervision.web_router(
            require_supervisor=require(UserRole.SUPERVISOR),
            require_agent=require(UserRole.AGENT),
            authorize_websocket=websocket_role_check(UserRole.SUPERVISOR, wallboard=True),
            require_wallboard=wallboard_session,
            current_user=current_username,
            audit=record,
        )
    )
    app.include_router(outage_router(outage))
    return app
