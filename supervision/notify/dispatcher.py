"""Deliver recorded notices with retries and back-off; record every attempt.

Delivery runs in background tasks: a slow or dead channel delays only its own notice,
never the scheduler pass and never call handling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from calls.clock import Clock
from supervision.domain.errors import DeliveryError
from supervision.notify.channels import Channel, OutboundNotice
from supervision.notify.recipients import RecipientDirectory
from supervision.ports import SupervisionStore
from supervision.records import StoredNotice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    first_delay: float = 2.0  # seconds; doubles after every failure
    max_delay: float = 60.0

    def delay(self, attempt: int) -> float:
        return float(min(self.first_delay * (2 ** (attempt - 1)), self.max_delay))


class NoticeDispatcher:
    def __init__(
        self,
        store: SupervisionStore,
        recipients: RecipientDirectory,
        channels: Mapping[str, Channel],
        *,
        clock: Clock,
        retry: RetryPolicy | None = None,
        ack_base_url: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_result: Callable[[StoredNotice, datetime | None], None] | None = None,
        max_concurrent: int = 20,
    ) -> None:
        self._store = store
        self._recipients = recipients
        self._channels = dict(channels)
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._ack_base = ack_base_url.rstrip("/") if ack_base_url else None
        self._sleep = sleep
        self.on_result = on_result
        self._tasks: set[asyncio.Task[bool]] = set()
        self._limit = asyncio.Semaphore(max_concurrent)

    def ack_url(self, code: str) -> str | None:
        return f"{self._ack_base}/ack/{code}" if self._ack_base else None

    def submit(self, notice: StoredNotice) -> None:
        """Deliver in the background (returns at once)."""
        task = asyncio.create_task(self.deliver(notice), name=f"notice-{notice.id}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[bool]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The notice stays "pending" in the database: the next start retries it.
            log.error("delivery task %s failed: %r", task.get_name(), task.exception())

    async def drain(self) -> None:
        """Wait for every delivery in flight (tests, clean shutdown)."""
        while self._tasks:
            await asyncio.gather(*tuple(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in tuple(self._tasks):
            task.cancel()
        await asyncio.gather(*tuple(self._tasks), return_exceptions=True)

    async def deliver(self, notice: StoredNotice) -> bool:
        """Up to `max_attempts` tries with doubling delays; True when delivered."""
        recipient = self._recipients.get(notice.recipient)
        channel = self._channels.get(notice.channel)
        if recipient is None or channel is None:
            why = "recipient no longer configured" if recipient is None else "no such channel"
            log.error("notice %s for ticket %s: %s", notice.id, notice.ticket_number, why)
            await self._store.note_attempt(
                notice.id, attempts=notice.attempts, error=why, final=True, at=self._clock()
            )
            self._report(notice, None)
            return False
        outbound = OutboundNotice(
            notice.id,
            notice.ticket_number,
            notice.title,
            notice.body,
            notice.ack_code,
            self.ack_url(notice.ack_code),
            notice.step_key,
        )
        attempts = notice.attempts
        async with self._limit:
            while True:
                attempts += 1
                try:
                    await channel.deliver(outbound, recipient)
                except DeliveryError as exc:
                    final = not exc.retryable or attempts >= self._retry.max_attempts
                    log.warning(
                        "notice %s (ticket %s) to %s via %s: attempt %d failed: %s%s",
                        notice.id,
                        notice.ticket_number,
                        recipient.name,
                        channel.name,
                        attempts,
                        exc,
                        " (giving up)" if final else "",
                    )
                    await self._store.note_attempt(
                        notice.id, attempts=attempts, error=str(exc), final=final, at=self._clock()
                    )
                    if final:
                        self._report(notice, None)
                        return False
                    await self._sleep(self._retry.delay(attempts))
                    continue
                except Exception as exc:  # a channel bug must not kill the dispatcher
                    log.exception("notice %s: channel %s crashed", notice.id, channel.name)
                    await self._store.note_attempt(
                        notice.id, attempts=attempts, error=repr(exc), final=True, at=self._clock()
                    )
                    self._report(notice, None)
                    return False
                delivered = self._clock()
                await self._store.note_attempt(notice.id, attempts=attempts, delivered_at=delivered)
                log.info(
                    "notice %s (ticket %s) delivered to %s via %s",
                    notice.id,
                    notice.ticket_number,
                    recipient.name,
                    channel.name,
                )
                self._report(notice, delivered)
                return True

    def _report(self, notice: StoredNotice, delivered: datetime | None) -> None:
        if self.on_result is not None:
            self.on_result(notice, delivered)
