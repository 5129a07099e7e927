"""The scheduler against a real database and real notification peers, across restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from routing.records import NewTicket, TicketSource
from storage.database import Database
from storage.models import EscalationStepRow, NoticeRow
from storage.supervision import SupervisionRepository
from storage.tickets import TicketRepository
from supervision.domain.escalation import SupervisionPolicy
from supervision.notify import (
    NoticeDispatcher,
    Recipient,
    RecipientDirectory,
    RetryPolicy,
    SmtpMailer,
    WeComRobot,
)
from supervision.notify.channels import DingTalkRobot, SmtpSettings
from supervision.scheduler import SlaScheduler

from .conftest import HttpRecorder, MailSink

T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 10:00 Beijing


class FakeClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, minutes: float) -> None:
        self.at += timedelta(minutes=minutes)


def directory(rec: HttpRecorder, smtp: MailSink) -> RecipientDirectory:
    return RecipientDirectory(
        [
            Recipient("duty", frozenset({"duty_engineer"}), "wecom", rec.url("/duty")),
            Recipient(
                "managers",
                frozenset({"responsible_manager", "account_manager"}),
                "email",
                "managers@example.org",
            ),
            Recipient(
                "team",
                frozenset(
                    {"emergency_team", "service_centre_head", "remote_expert", "expert_group"}
                ),
                "dingtalk",
                rec.url("/team?access_token=t"),
                secret="SECx",
            ),
        ]
    )


@dataclass
class Controller:
    scheduler: SlaScheduler
    dispatcher: NoticeDispatcher
    store: SupervisionRepository


@asynccontextmanager
async def controller(
    db: Database, rec: HttpRecorder, smtp: MailSink, clock: Callable[[], datetime]
) -> AsyncIterator[Controller]:
    """One controller lifetime: everything built fresh, as after a process restart."""
    store = SupervisionRepository(db)
    async with httpx.AsyncClient() as client:
        dispatcher = NoticeDispatcher(
            store,
            directory(rec, smtp),
            {
                "wecom": WeComRobot(client),
                "dingtalk": DingTalkRobot(client),
                "email": SmtpMailer(SmtpSettings(port=smtp.port)),
            },
            clock=clock,
            retry=RetryPolicy(max_attempts=2, first_delay=0.01),
            ack_base_url="http://console.local",
        )
        scheduler = SlaScheduler(
            store=store,
            tickets=store,
            recipients=directory(rec, smtp),
            dispatcher=dispatcher,
            policy=SupervisionPolicy(),
            clock=clock,
        )
        try:
            yield Controller(scheduler, dispatcher, store)
            await dispatcher.drain()
        finally:
            await scheduler.stop()


async def open_ticket(db: Database, level: int, at: datetime) -> str:
    repo = TicketRepository(db, clock=lambda: at)
    ticket = await repo.create(
        NewTicket(
            level=level,
            caller_number="+8613800138000",
            created_at=at,
            response_due=at + (timedelta(minutes=30) if level == 1 else timedelta(hours=2)),
            onsite_due=at + timedelta(hours=2 if level == 1 else 12),
            source=TicketSource.MANUAL,
            description="MCU down, all sites cut off",
        )
    )
    return ticket.number


async def step_keys(db: Database) -> list[str]:
    async with db.sessions() as s:
        return sorted((await s.execute(select(EscalationStepRow.key))).scalars())


async def test_restart_mid_escalation_sends_each_step_once(
    any_database: Database, http_recorder: HttpRecorder, smtp_sink: MailSink
) -> None:
    db = any_database
    clock = FakeClock(T0)
    number = await open_ticket(db, 1, T0)

    async with controller(db, http_recorder, smtp_sink, clock) as c1:
        clock.advance(16)
        report = await c1.scheduler.tick()
        assert [a.key for a in report.actions] == [f"{number}/esc/1/0"]
        await c1.dispatcher.drain()
        # duty (WeCom) and the managers (mail) hear about step 0; both acknowledge.
        assert len(http_recorder.to("/duty")) == 1 and len(smtp_sink.messages) == 1
        for n in await c1.store.notices():
            await c1.store.acknowledge(n.ack_code, "alice", clock())
    # The controller is down from minute 16 to minute 70: steps 30/45/60 fall due meanwhile.
    clock.advance(54)
    async with controller(db, http_recorder, smtp_sink, clock) as c2:
        report = await c2.scheduler.tick()
        keys = [a.key for a in report.actions]
        assert keys == [
            f"{number}/breach/response",
            f"{number}/esc/1/1",
            f"{number}/esc/1/2",
            f"{number}/esc/1/3",
            f"{number}/progress/1",
        ]
        again = await c2.scheduler.tick()
        assert again.actions == ()
        await c2.dispatcher.drain()

    assert await step_keys(db) == sorted([f"{number}/esc/1/0", *keys])
    async with db.sessions() as s:
        notices = (await s.execute(select(NoticeRow))).scalars().all()
    assert {n.state for n in notices} == {"delivered"}
    per_step: dict[str, list[str]] = {}
    for n in notices:
        per_step.setdefault(n.step_key.split("/", 1)[1], []).append(n.recipient)
    assert sorted(per_step["esc/1/0"]) == ["duty", "managers"]
    assert per_step["esc/1/1"] == ["team"]
    assert per_step["esc/1/2"] == ["managers"]
    assert per_step["esc/1/3"] == ["team"]
    assert sorted(per_step["breach/response"]) == ["duty", "managers"]
    # Every notice reached its peer exactly once.
    assert len(http_recorder.to("/duty")) == 3  # esc 0, breach, progress report
    assert len(http_recorder.to("/team")) == 3  # esc 1, esc 3, progress report
    assert len(smtp_sink.messages) == 4  # esc 0, breach, esc 2, progress report
    team_text = http_recorder.to("/team")[0].json()["markdown"]["text"]
    assert number in team_text and "/ack/" in team_text


async def test_pending_notices_are_sent_after_a_crash(
    database: Database, http_recorder: HttpRecorder, smtp_sink: MailSink
) -> None:
    clock = FakeClock(T0)
    number = await open_ticket(database, 2, T0)
    clock.advance(15)
    async with controller(database, http_recorder, smtp_sink, clock) as c1:
        # Simulate a crash between recording the step and delivering it.
        c1.dispatcher.submit = lambda notice: None  # type: ignore[method-assign]
        report = await c1.scheduler.tick()
        assert [a.key for a in report.actions] == [f"{number}/esc/2/0"]
    assert http_recorder.to("/duty") == []
    async with controller(database, http_recorder, smtp_sink, clock) as c2:
        await c2.scheduler.load()
        await c2.dispatcher.drain()
        assert (await c2.scheduler.tick()).actions == ()
    assert len(http_recorder.to("/duty")) == 1
    assert [n.state for n in await SupervisionRepository(database).notices()] == ["delivered"]


async def test_unacknowledged_notice_escalates_to_the_next_step(
    database: Database, http_recorder: HttpRecorder, smtp_sink: MailSink
) -> None:
    clock = FakeClock(T0)
    number = await open_ticket(database, 2, T0)
    clock.advance(15)
    async with controller(database, http_recorder, smtp_sink, clock) as c1:
        await c1.scheduler.tick()
    clock.advance(9)
    async with controller(database, http_recorder, smtp_sink, clock) as c2:
        assert (await c2.scheduler.tick()).actions == ()
        clock.advance(1)  # 10 minutes after the IM notice, nobody acknowledged it
        report = await c2.scheduler.tick()
        assert [(a.key, a.reason) for a in report.actions] == [
            (f"{number}/esc/2/1", "step 0 not acknowledged in time")
        ]
        await c2.dispatcher.drain()
    assert len(http_recorder.to("/team")) == 1


async def test_acknowledgement_stops_the_early_escalation(
    database: Database, http_recorder: HttpRecorder, smtp_sink: MailSink
) -> None:
    clock = FakeClock(T0)
    await open_ticket(database, 4, T0)
    clock.advance(15)
    async with controller(database, http_recorder, smtp_sink, clock) as c:
        await c.scheduler.tick()
        await c.dispatcher.drain()
        (duty,) = await c.store.notices()
        clock.advance(5)
        acked = await c.store.acknowledge(duty.ack_code, "bob", clock())
        assert acked.acked_by == "bob" and acked.acked_at == clock()
        clock.advance(60)
        # Acknowledged: no "unacknowledged" escalation even long after the window.
        assert (await c.scheduler.tick()).actions == ()


async def test_failed_delivery_moves_to_the_next_step(
    database: Database, http_recorder: HttpRecorder, smtp_sink: MailSink
) -> None:
    http_recorder.on("/duty", *[(500, {})] * 5)
    clock = FakeClock(T0)
    number = await open_ticket(database, 3, T0)
    clock.advance(15)
    async with controller(database, http_recorder, smtp_sink, clock) as c1:
        await c1.scheduler.tick()
        await c1.dispatcher.drain()
        (notice,) = await c1.store.notices()
        assert (notice.state, notice.attempts) == ("failed", 2)
        clock.advance(1)
        # Step 1 (emergency team, normally at 60 min) is brought forward: nobody got step 0.
        report = await c1.scheduler.tick()
        assert [a.key for a in report.actions] == [f"{number}/esc/3/1"]
    async with database.sessions() as s:
        failed_at = (
            await s.execute(select(NoticeRow.failed_at).where(NoticeRow.id == notice.id))
        ).scalar_one()
    assert failed_at == T0 + timedelta(minutes=15)
    # After a restart the failure is still known: nothing is planned twice.
    async with controller(database, http_recorder, smtp_sink, clock) as c2:
        assert (await c2.scheduler.tick()).actions == ()
