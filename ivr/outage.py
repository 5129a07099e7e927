"""Outage announcements: a supervisor tells callers about a known major incident.

While an announcement is on, the IVR plays it right after the greeting and offers
"press 1 if you are calling about this"; those callers join the incident's ticket (a
progress entry) instead of opening a new one (`routing.tickets.CallTicketService`).

The announcement is rendered with the menu's voices into the sounds directory, kept
in `HOTLINE_JOURNAL_DIR/outage.json` so a restarted controller keeps announcing, and
shared with the other instances over the bus (topic ``outage``), each of which serves
the IVR too. The console's `/api/outage` route (`console.api.outage`) drives it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from bus import MessageBus
from bus.topics import SUPERVISORS
from calls.clock import Clock, utc_now
from ivr.errors import PromptBuildError, UnknownIncident
from ivr.menu import Menu, Outage
from ivr.mode import IvrMode
from ivr.prompts import render_announcement
from routing.ports import TicketStore

log = logging.getLogger(__name__)

TOPIC = "outage"
STATE_FILE = "outage.json"


class OutageAnnouncements:
    """The announcement callers hear, kept on disk and followed across instances."""

    def __init__(
        self,
        *,
        menu: Menu,
        sounds_dir: Path,
        journal_dir: Path,
        ivr_mode: IvrMode,
        tickets: TicketStore,
        bus: MessageBus,
        clock: Clock = utc_now,
    ) -> None:
        self.menu = menu
        self.sounds_dir = sounds_dir
        self.state_file = journal_dir / STATE_FILE
        self.ivr_mode = ivr_mode
        self.tickets = tickets
        self.bus = bus
        self.clock = clock
        self.since: datetime | None = None
        self.by: str | None = None
        self._listener: asyncio.Task[None] | None = None

    # --- state -----------------------------------------------------------------------------

    def current(self) -> dict[str, Any]:
        outage = self.ivr_mode.outage
        if outage is None:
            return {"active": False}
        return {
            "active": True,
            "incident": outage.incident_id,
            "prompt": outage.prompt,
            "text": outage.text,
            "since": self.since.isoformat() if self.since else None,
            "by": self.by,
        }

    async def start(self) -> None:
        """Resume the announcement that was on before a restart; follow other instances."""
        try:
            raw = await asyncio.to_thread(self.state_file.read_text, encoding="utf-8")
        except FileNotFoundError:
            raw = ""
        if raw:
            try:
                self._apply(json.loads(raw))
            except (ValueError, KeyError, TypeError) as exc:
                log.error("outage state %s unreadable (%s); no announcement", self.state_file, exc)
        subscription = await self.bus.subscribe(TOPIC)

        async def follow() -> None:
            async for message in subscription:
                if message.get("origin") != id(self):
                    await self._follow(message)

        self._listener = asyncio.create_task(follow(), name="outage-follow")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()

    def _apply(self, state: Mapping[str, Any]) -> None:
        if not state.get("active"):
            self.ivr_mode.outage, self.since, self.by = None, None, None
            return
        self.ivr_mode.outage = Outage(
            str(state["incident"]), str(state["prompt"]), str(state.get("text", ""))
        )
        since = state.get("since")
        self.since = datetime.fromisoformat(since) if since else None
        self.by = state.get("by")

    async def _save(self) -> None:
        data = json.dumps(self.current(), ensure_ascii=False)

        def write() -> None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_suffix(".tmp")
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.state_file)

        await asyncio.to_thread(write)

    async def _follow(self, message: Mapping[str, Any]) -> None:
        """Another instance changed the announcement: render it here too (our IVR)."""
        state = message.get("state") or {}
        if state.get("active") and message.get("texts"):
            try:
                await render_announcement(
                    self.menu, self.sounds_dir, str(state["incident"]), message["texts"]
                )
            except PromptBuildError:
                log.exception("outage %s: cannot render here", state.get("incident"))
        self._apply(state)
        await self._save()

    # --- changes ---------------------------------------------------------------------------

    async def announce(self, incident: str, texts: Mapping[str, str], by: str) -> dict[str, Any]:
        ticket = await self.tickets.get(incident)
        if ticket is None:
            raise UnknownIncident(f"no ticket {incident}: an announcement names its incident")
        outage = await render_announcement(self.menu, self.sounds_dir, incident, texts)
        now = self.clock()
        self.ivr_mode.outage, self.since, self.by = outage, now, by
        await self._save()
        await self.tickets.add_progress(
            incident, text=f"outage announcement on: {outage.text}", by=by, at=now
        )
        state = self.current()
        await self.bus.publish(TOPIC, {"origin": id(self), "state": state, "texts": dict(texts)})
        await self.bus.publish(SUPERVISORS, {"type": "outage", **state})
        log.warning("outage announcement on for %s by %s", incident, by)
        return state

    async def clear(self, by: str) -> dict[str, Any]:
        outage = self.ivr_mode.outage
        self.ivr_mode.outage, self.since, self.by = None, None, None
        await self._save()
        if outage is not None:
            await self.tickets.add_progress(
                outage.incident_id, text="outage announcement off", by=by, at=self.clock()
            )
            log.warning("outage announcement off for %s by %s", outage.incident_id, by)
        state = self.current()
        await self.bus.publish(TOPIC, {"origin": id(self), "state": state})
        await self.bus.publish(SUPERVISORS, {"type": "outage", **state})
        return state
