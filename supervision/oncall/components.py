"""On-call paging as components: `build(settings, deps)` makes the pager with its notice
channels (from `[supervision]`, as for escalation notices). Their HTTP client runs
everywhere (closed at stop); the paging passes run on the leader only, so one controller
pages each step. `OnCall.routes` are its console routes: `/api/oncall`, the rota page's
API and the acknowledgement link.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import httpx
from fastapi import APIRouter, Request

from bus import MessageBus
from lifecycle import Resource
from supervision.config import SupervisionConfig
from supervision.notify.channels import (
    Channel,
    DingTalkRobot,
    JsonWebhook,
    SmsGateway,
    SmtpMailer,
    WeComRobot,
)
from supervision.oncall.ports import OnCallStore
from supervision.oncall.service import OnCallService
from supervision.oncall.web import OnCallWebDeps, PageLanguage, oncall_router


class OnCallSettings(Protocol):
    """The settings on-call paging reads (`hotline.settings.Settings` has them)."""

    @property
    def oncall_escalate_minutes(self) -> float: ...
    @property
    def oncall_interval(self) -> float: ...
    @property
    def locale(self) -> str: ...
    def tz(self) -> ZoneInfo: ...


class OnCallAccess(Protocol):
    """The console's access checks the on-call routes use."""

    @property
    def require_supervisor(self) -> Callable[..., Any]: ...
    @property
    def current_user(self) -> Callable[..., Awaitable[str]]: ...
    @property
    def audit(self) -> Callable[..., Awaitable[None]]: ...
    @property
    def language_of(self) -> Callable[[Request], PageLanguage]: ...


@dataclass(frozen=True)
class OnCallDeps:
    """`console_url` gives the acknowledgement links' base when `[supervision]` has no
    `public_base_url` (the console's own address, known once it listens); on `bus` the
    console says when an agent changed a ticket's level."""

    store: OnCallStore
    config: SupervisionConfig
    console_url: Callable[[], str] | None = None
    bus: MessageBus | None = None


@dataclass(frozen=True)
class OnCall:
    service: OnCallService
    store: OnCallStore
    http: httpx.AsyncClient
    zone: ZoneInfo

    def components(self) -> tuple[Resource, Resource]:
        """Its HTTP client (everywhere, closed at stop) and the paging passes (leader only:
        one controller pages each step)."""
        return (
            Resource("oncall", close=self.close),
            Resource(
                "oncall-paging", open=self.service.start, close=self.service.stop, leader_only=True
            ),
        )

    async def close(self) -> None:
        await self.service.stop()
        await self.http.aclose()

    def routes(self, access: OnCallAccess) -> APIRouter:
        return oncall_router(
            OnCallWebDeps(
                self.store,
                self.zone,
                require_supervisor=access.require_supervisor,
                current_user=access.current_user,
                language_of=access.language_of,
                audit=access.audit,
                on_change=self.service.wake,
            )
        )


def build(settings: OnCallSettings, deps: OnCallDeps) -> OnCall:
    http = httpx.AsyncClient(timeout=10.0)
    channels: dict[str, Channel] = {
        "dingtalk": DingTalkRobot(http),
        "wecom": WeComRobot(http),
        "webhook": JsonWebhook(http),
        "email": SmtpMailer(deps.config.smtp),
        "sms": SmsGateway(http),
    }
    zone = settings.tz()
    service = OnCallService(
        deps.store,
        channels,
        escalate_after=timedelta(minutes=settings.oncall_escalate_minutes),
        interval=settings.oncall_interval,
        ack_base_url=deps.config.public_base_url or deps.console_url,
        language=settings.locale,
        zone=zone,
        bus=deps.bus,
    )
    return OnCall(service, deps.store, http, zone)
