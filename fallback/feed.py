"""What the supervisor's page hears of emergency mode: messages on the `emergency` bus topic
(mode, health, paper numbers, backfill, drills, the journal's replication) and the last
journal write that failed."""

from __future__ import annotations

import logging
from typing import Any

from bus.base import MessageBus
from bus.topics import EMERGENCY
from fallback.journal import EmergencyJournal

log = logging.getLogger(__name__)


class SupervisorFeed:
    """Publishes on the `emergency` topic; a bus failure is logged, never raised (the call
    and the journal matter more than the page)."""

    def __init__(self, bus: MessageBus | None, journal: EmergencyJournal) -> None:
        self.bus = bus
        self.journal = journal
        self.journal_error: str | None = None  # the last journal write failure, for the page
        # Whether the journal is in step with its replica, as last announced.
        self._replicated = True

    async def publish(self, message: dict[str, Any]) -> None:
        if self.bus is None:
            return
        try:
            await self.bus.publish(EMERGENCY, message)
        except Exception:
            log.exception("could not publish %s on the bus", message.get("type"))

    async def announce_replication(self) -> None:
        """Tell the page when the journal falls out of step with its replica or is back."""
        state = self.journal.state()
        replicated = state["replication"] != "degraded"
        if replicated == self._replicated:
            return
        self._replicated = replicated
        await self.publish({"type": "journal", **state})
