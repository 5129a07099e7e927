"""The SLA scheduler: runs the pure escalation plan periodically inside the controller.

Restart safety: every step is written to the database (with its pending notices) before
any notice goes out; at start the log is reloaded and notices still pending are sent.
Because the plan is a pure function of (tickets, log, now), a restart repeats nothing that
was recorded and still plans every step that fell due meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from calls.clock import Clock
from supervision.domain.escalation import (
    Action,
    NoticeRecord,
    StepRecord,
    SupervisionPolicy,
    plan,
)
from supervision.domain.notice import compose
from supervision.domain.sla import TicketSla
from supervision.notify.dispatcher import NoticeDispatcher
from supervision.notify.recipients import RecipientDirectory
from supervision.ports import OpenTicketSource, SupervisionStore
from supervision.records import NoticeDraft, StoredNotice

log = logging.getLogger(__name__)


AssessmentListener = Callable[[Sequence[TicketSla], datetime], None]


@dataclass(frozen=True, slots=True)
class PassReport:
    at: datetime
    open_tickets: int
    actions: tuple[Action, ...]  # actions this pass recorded
    notices: int  # notices queued for delivery


def new_ack_code() -> str:
    # 16 URL-safe characters (96 bits): unguessable, short enough to read out.
    return secrets.token_urlsafe(12)


class SlaScheduler:
    def __init__(
        self,
        *,
        store: SupervisionStore,
        tickets: OpenTicketSource,
        recipients: RecipientDirectory,
        dispatcher: NoticeDispatcher,
        policy: SupervisionPolicy,
        clock: Clock,
        interval: float = 30.0,
        ack_code: Callable[[], str] = new_ack_code,
        on_assessment: AssessmentListener | None = None,
        translate: Callable[[str], str] | None = None,
    ) -> None:
        self._translate = translate
        self._store = store
        self._tickets = tickets
        self._recipients = recipients
        self._dispatcher = dispatcher
        self._policy = policy
        self._clock = clock
        self._interval = interval
        self._ack_code = ack_code
        self._listeners: list[AssessmentListener] = [on_assessment] if on_assessment else []
        self._log: dict[str, StepRecord] = {}
        self._notice_slot: dict[int, tuple[str, int]] = {}  # notice id -> (step, index)
        self._ack_watermark: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._loaded = False
        self.last_assessment: tuple[TicketSla, ...] = ()
        dispatcher.on_result = self._delivery_result

    def add_listener(self, listener: AssessmentListener) -> None:
        self._listeners.append(listener)

    @property
    def sent_log(self) -> dict[str, StepRecord]:
        return dict(self._log)

    async def load(self) -> None:
        """Reload the log and re-send notices a previous run left pending."""
        steps, notices = await self._store.load_log()
        self._log = {s.key: s for s in steps}
        self._notice_slot.clear()
        grouped: dict[str, list[NoticeRecord]] = {}
        for notice_id, key, record in notices:
            if key in self._log:
                group = grouped.setdefault(key, [])
                self._notice_slot[notice_id] = (key, len(group))
                group.append(record)
        for key, records in grouped.items():
            self._log[key] = replace(self._log[key], notices=tuple(records))
        acked = [r.acked_at for _, _, r in notices if r.acked_at is not None]
        self._ack_watermark = max(acked) if acked else None
        self._loaded = True
        pending = await self._store.undelivered()
        if pending:
            log.info("re-sending %d notice(s) left pending by the previous run", len(pending))
        for notice in pending:
            self._dispatcher.submit(notice)

    async def start(self) -> None:
        await self.load()
        self._task = asyncio.create_task(self._run(), name="sla-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._dispatcher.close()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A database hiccup costs one pass, never the scheduler or the calls.
                log.exception("SLA scheduler pass failed; next try in %.0f s", self._interval)
            await asyncio.sleep(self._interval)

    async def tick(self, now: datetime | None = None) -> PassReport:
        if not self._loaded:
            await self.load()
        now = now or self._clock()
        tickets = list(await self._tickets.open_tickets())
        await self._refresh_acks()
        self._prune({t.number for t in tickets})
        # CPU-bound over every open ticket: off the event loop.
        result = await asyncio.to_thread(plan, tickets, self._log, now, self._policy)
        self.last_assessment = result.assessments
        queued = 0
        if result.actions:
            queued = await self._take(result.actions, result.assessments, now)
        for listener in self._listeners:
            try:
                listener(result.assessments, now)
            except Exception:
                log.exception("assessment listener failed")
        return PassReport(now, len(tickets), result.actions, queued)

    async def _take(
        self, actions: Sequence[Action], assessments: Sequence[TicketSla], now: datetime
    ) -> int:
        by_number = {a.ticket.number: a for a in assessments}
        zone = self._policy.calendar.zone
        items: list[tuple[Action, list[NoticeDraft]]] = []
        for action in actions:
            sla = by_number[action.ticket_number]
            drafts: list[NoticeDraft] = []
            recipients = self._recipients.route(action.targets, int(action.level))
            if not recipients:
                log.warning(
                    "ticket %s (call %s): nobody configured for %s at level %d",
                    action.ticket_number,
                    sla.ticket.call_id,
                    ",".join(action.targets),
                    int(action.level),
                )
            for recipient in recipients:
                code = self._ack_code()
                text = compose(
                    action,
                    sla,
                    now,
                    zone=zone,
                    translate=self._translate,
                    ack_code=code,
                    ack_url=self._dispatcher.ack_url(code),
                )
                drafts.append(
                    NoticeDraft(
                        recipient.name,
                        recipient.channel,
                        recipient.kind,
                        text.title,
                        text.markdown,
                        code,
                    )
                )
            items.append((action, drafts))
        written = await self._store.record_steps(items, now)
        queued = 0
        for action, _ in items:
            notices = written.get(action.key)
            if notices is None:
                continue
            log.info(
                "ticket %s (call %s): %s %s -> %s",
                action.ticket_number,
                by_number[action.ticket_number].ticket.call_id,
                action.kind.value,
                action.key,
                ", ".join(n.recipient for n in notices) or "nobody",
            )
            self._log[action.key] = StepRecord(action.key, action.ticket_number, now)
            for notice in notices:
                self._index_notice(notice)
                self._dispatcher.submit(notice)
                queued += 1
        return queued

    def _index_notice(self, notice: StoredNotice) -> None:
        step = self._log.get(notice.step_key)
        if step is None or notice.id in self._notice_slot:
            return
        record = NoticeRecord(notice.channel_kind, notice.delivered_at, notice.acked_at)
        self._notice_slot[notice.id] = (notice.step_key, len(step.notices))
        self._log[notice.step_key] = replace(step, notices=(*step.notices, record))

    def _update_notice(
        self,
        notice_id: int,
        *,
        delivered_at: datetime | None = None,
        acked_at: datetime | None = None,
        failed_at: datetime | None = None,
    ) -> None:
        slot = self._notice_slot.get(notice_id)
        if slot is None:
            return
        key, index = slot
        step = self._log.get(key)
        if step is None:
            return
        old = step.notices[index]
        new = replace(
            old,
            delivered_at=old.delivered_at or delivered_at,
            acked_at=old.acked_at or acked_at,
            failed_at=old.failed_at or failed_at,
        )
        notices = (*step.notices[:index], new, *step.notices[index + 1 :])
        self._log[key] = replace(step, notices=notices)

    def _delivery_result(self, notice: StoredNotice, delivered: datetime | None) -> None:
        if delivered is not None:
            self._update_notice(notice.id, delivered_at=delivered)
        else:
            self._update_notice(notice.id, failed_at=self._clock())

    async def _refresh_acks(self) -> None:
        # ">=": acks sharing the watermark's instant are applied again, harmlessly.
        for _key, notice_id, at in await self._store.acks_since(self._ack_watermark):
            self._update_notice(notice_id, acked_at=at)
            if self._ack_watermark is None or at > self._ack_watermark:
                self._ack_watermark = at

    def _prune(self, open_numbers: set[str]) -> None:
        gone = [k for k, s in self._log.items() if s.ticket_number not in open_numbers]
        for key in gone:
            del self._log[key]
        if gone:
            dropped = set(gone)
            self._notice_slot = {
                i: slot for i, slot in self._notice_slot.items() if slot[0] not in dropped
            }
