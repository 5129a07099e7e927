"""Wiring of on-call paging and repeat calls: built once by `hotline.runtime`.

`OnCallParts.service` pages (leader only: started and stopped with the lead),
`repeats` is the repeat-call store the ticket service reads, and `routers(...)` are the
HTTP routes the console mounts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from fastapi import APIRouter, Request

from console.i18n import language_of
from console.repeat_calls import CallSplitter, split_router
from hotline.settings import Settings
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


def build_oncall(settings: Settings, db: Database, config: SupervisionConfig) -> OnCallParts:
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
        ack_base_url=config.public_base_url,
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
