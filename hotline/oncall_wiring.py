"""Wiring of on-call paging and repeat calls: built once by `hotline.runtime`.

`OnCallParts.service` pages (leader only: started and stopped with the lead),
`repeats` is the repeat-call store the ticket service reads, and `routers(...)` are the
HTTP routes the console mounts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import httpx
from fastapi import APIRouter, Request

from console.i18n import language_of
from console.repeat_calls import CallSplitter, split_router
from console.runtime import current_username, record, require
from hotline.assembly import Edges
from hotline.settings import ConfigError, Settings
from lifecycle import Resource
from routing.components import RoutingDeps
from routing.records import UserRole
from storage.database import Database
from storage.oncall import OnCallRepository
from storage.repeat_calls import RepeatCallRepository
from supervision.config import SupervisionConfig
from supervision.notify.channels import (
    Channel,
    DingTalkRobot,
    JsonWebhook,
    SmsGateway,
    SmtpMailer,
    WeComRobot,
)
from supervision.oncall.service import OnCallService
from supervision.oncall.web import OnCallWebDeps, PageLanguage, oncall_router


@dataclass
class OnCallParts:
    service: OnCallService
    store: OnCallRepository
    repeats: RepeatCallRepository
    http: httpx.AsyncClient
    repeat_window: timedelta

    def routers(
        self,
        settings: Settings,
        splitter: CallSplitter,
        *,
        require_supervisor: Callable[..., Any],
        current_user: Callable[..., Awaitable[str]],
        audit: Callable[..., Awaitable[None]],
    ) -> list[APIRouter]:
        def language(request: Request) -> PageLanguage:
            return language_of(request, settings.locale)

        deps = OnCallWebDeps(
            self.store,
            settings.tz(),
            require_supervisor=require_supervisor,
            current_user=current_user,
            language_of=language,
            audit=audit,
            on_change=self.service.wake,
        )
        return [oncall_router(deps), split_router(splitter)]

    async def close(self) -> None:
        await self.service.stop()
        await self.http.aclose()

    def console_routers(self, settings: Settings, splitter: CallSplitter) -> list[APIRouter]:
        """`/api/oncall`, the rota page's API, the acknowledgement link and the split."""
        return self.routers(
            settings,
            splitter,
            require_supervisor=require(UserRole.SUPERVISOR),
            current_user=current_username,
            audit=record,
        )

    def routing_deps(self, deps: RoutingDeps) -> RoutingDeps:
        """The call path's ports with repeat calls and level-1 paging added."""
        return replace(
            deps, repeats=self.repeats, repeat_window=self.repeat_window, pager=self.service
        )

    def components(self) -> list[Resource | OnCallPaging]:
        """Its HTTP client (everywhere, closed at stop) and the pager (leader only)."""
        return [Resource("oncall", close=self.close), OnCallPaging(self.service)]


class OnCallPaging:
    """Leader only: the paging passes (one controller pages each step)."""

    name = "oncall-paging"
    leader_only = True

    def __init__(self, service: OnCallService) -> None:
        self.service = service

    async def start(self) -> None:
        await self.service.start()

    async def stop(self) -> None:
        await self.service.stop()


def build_oncall(
    settings: Settings,
    db: Database,
    config: SupervisionConfig,
    console_url: Callable[[], str] | None = None,
) -> OnCallParts:
    """`console_url` gives the acknowledgement links' base when `[supervision]` has no
    `public_base_url` (the console's own address, known once it listens)."""
    http = httpx.AsyncClient(timeout=10.0)
    channels: dict[str, Channel] = {
        "dingtalk": DingTalkRobot(http),
        "wecom": WeComRobot(http),
        "webhook": JsonWebhook(http),
        "email": SmtpMailer(config.smtp),
        "sms": SmsGateway(http),
    }
    store = OnCallRepository(db)
    service = OnCallService(
        store,
        channels,
        escalate_after=timedelta(minutes=settings.oncall_escalate_minutes),
        interval=settings.oncall_interval,
        ack_base_url=config.public_base_url or console_url,
        language=settings.locale,
        zone=settings.tz(),
    )
    return OnCallParts(
        service=service,
        store=store,
        repeats=RepeatCallRepository(db),
        http=http,
        repeat_window=timedelta(minutes=settings.repeat_window_minutes),
    )


def oncall_on(settings: Settings, edges: Edges, console_url: Callable[[], str]) -> OnCallParts:
    """On-call paging and repeat calls on the edges' database; the notice channels come
    from `[supervision]` as for escalation notices."""
    try:
        config = SupervisionConfig.from_mapping(dict(settings.supervision))
    except ValueError as exc:
        raise ConfigError(f"bad [supervision] configuration: {exc}") from exc
    return build_oncall(settings, edges.db, config, console_url)
