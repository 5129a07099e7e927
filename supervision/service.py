"""One object the composition root starts and stops: scheduler, notices, wallboard.

::

    repo = SupervisionRepository(db)      # storage.supervision: the ports on the database
    sup = SupervisionService(store=repo, tickets=repo, calls=repo,
                             reports=ReportRepository(db), bus=bus,
                             config=SupervisionConfig.from_mapping(cfg),
                             sla=settings.sla_policy(), call_control=ami,
                             queues=[settings.main_queue, settings.emergency_queue],
                             service_level_target=timedelta(seconds=20))
    stages.append(wallboard_stage(sup.publisher))
    await sup.start()
    app.include_router(sup.web_router(require_supervisor=..., authorize_websocket=...))
    ...
    await sup.stop()
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, time, timedelta
from typing import Any

import httpx
from fastapi import APIRouter, WebSocket

from bus import MessageBus
from calls.clock import Clock, utc_now
from calls.control import CallControl
from routing.domain.levels import SlaPolicy
from supervision.config import SupervisionConfig
from supervision.notify.channels import (
    Channel,
    DingTalkRobot,
    JsonWebhook,
    SmsGateway,
    SmtpMailer,
    WeComRobot,
)
from supervision.notify.dispatcher import NoticeDispatcher
from supervision.ports import CallHistory, MonthlyFacts, OpenTicketSource, SupervisionStore
from supervision.scheduler import SlaScheduler
from supervision.wallboard import QueueStatusAgents, WallboardPublisher, emergency_from_message
from supervision.web import SupervisionWebDeps, router
from translations import DEFAULT_LANGUAGE, translator

log = logging.getLogger(__name__)


class SupervisionService:
    def __init__(
        self,
        *,
        store: SupervisionStore,
        tickets: OpenTicketSource,
        calls: CallHistory,
        bus: MessageBus,
        config: SupervisionConfig,
        sla: SlaPolicy,
        clock: Clock = utc_now,
        call_control: CallControl | None = None,
        queues: Sequence[str] = ("hotline-main", "hotline-emergency"),
        service_level_target: timedelta = timedelta(seconds=20),
        http_timeout: float = 10.0,
        emergency_status: Callable[[], Any] | None = None,
        reports: MonthlyFacts | None = None,
        language: str = DEFAULT_LANGUAGE,
    ) -> None:
        # fallback's EmergencyControl.status: the wallboard starts with the mode in force.
        self._emergency_status = emergency_status
        self.config = config
        # The commitments the console's monthly report judges field work by.
        self.sla = sla
        self.bus = bus
        self.clock = clock
        self.store = store
        self.calls = calls
        self.reports = reports
        self._http = httpx.AsyncClient(timeout=http_timeout)
        # Notices are written in the hotline's language (HOTLINE_LOCALE): whoever reads a
        # group robot's message has no language of their own the notice could follow.
        self.language = language
        translate = translator(language).gettext
        channels: dict[str, Channel] = {
            "dingtalk": DingTalkRobot(self._http),
            "wecom": WeComRobot(self._http),
            "webhook": JsonWebhook(self._http),
            "email": SmtpMailer(config.smtp, translate=translate),
            "sms": SmsGateway(self._http, translate=translate),
        }
        self.dispatcher = NoticeDispatcher(
            self.store,
            config.recipients,
            channels,
            clock=clock,
            retry=config.retry,
            ack_base_url=config.public_base_url,
        )
        self.publisher = WallboardPublisher(
            bus,
            clock=clock,
            agents=QueueStatusAgents(call_control, queues) if call_control else None,
            queues=queues,
            zone=config.calendar.zone,
            service_level_target=service_level_target,
        )
        self.scheduler = SlaScheduler(
            store=self.store,
            tickets=tickets,
            recipients=config.recipients,
            dispatcher=self.dispatcher,
            policy=config.policy(sla),
            clock=clock,
            interval=config.interval_seconds,
            on_assessment=self.publisher.on_assessment,
            translate=translate,
        )

    async def start(self) -> None:
        await self.seed_today()
        if self._emergency_status is not None:
            state = emergency_from_message({"type": "mode", **self._emergency_status().as_json()})
            if state is not None:
                self.publisher.set_emergency(state)
        await self.publisher.start()
        await self.scheduler.start()
        log.info(
            "supervision started: %d recipient(s), pass every %.0f s",
            len(self.config.recipients.recipients),
            self.config.interval_seconds,
        )

    async def seed_today(self) -> None:
        """Restore today's answered/abandoned counts from the call records after a restart."""
        zone = self.config.calendar.zone
        now = self.clock()
        day = now.astimezone(zone).date()
        start = datetime.combine(day, time(0), zone)
        target = self.publisher.floor.service_level_target
        rows = await self.calls.calls_started(start, now)
        answered = [r.call_id for r in rows if r.outcome == "answered"]
        in_target = [
            r.call_id
            for r in rows
            if r.outcome == "answered"
            and (
                timedelta(seconds=r.hold_seconds) <= target
                if r.hold_seconds is not None
                else (
                    r.queued_at is not None
                    and r.answered_at is not None
                    and r.answered_at - r.queued_at <= target
                )
            )
        ]
        abandoned = [r.call_id for r in rows if r.outcome == "abandoned"]
        self.publisher.floor.seed_counts(day, answered, in_target, abandoned)

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.publisher.stop()
        await self._http.aclose()

    def web_router(
        self,
        *,
        require_supervisor: Callable[..., Any],
        authorize_websocket: Callable[[WebSocket], Awaitable[bool]],
        require_agent: Callable[..., Any] | None = None,
        require_wallboard: Callable[..., Any] | None = None,
        current_user: Callable[..., Awaitable[str]] | None = None,
        audit: Callable[..., Awaitable[None]] | None = None,
    ) -> APIRouter:
        """The routes of `supervision.web`, behind the checks given (the supervisor's and
        the websocket's are required)."""
        return router(
            SupervisionWebDeps(
                self.store,
                self.bus,
                publisher=self.publisher,
                require_supervisor=require_supervisor,
                authorize_websocket=authorize_websocket,
                require_agent=require_agent,
                require_wallboard=require_wallboard,
                current_user=current_user,
                audit=audit,
                clock=self.clock,
                reports=self.reports,
                report_dir=self.config.report_dir,
                language=self.language,
                zone=self.config.calendar.zone,
                sla=self.sla,
                calendar=self.config.calendar,
            )
        )
