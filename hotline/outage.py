"""Outage announcements: a supervisor tells callers about a known major incident.

While an announcement is on, the IVR plays it right after the greeting and offers
"press 1 if you are calling about this"; those callers join the incident's ticket (a
progress entry) instead of opening a new one (`routing.tickets.CallTicketService`).

The announcement is rendered with the menu's voices into the sounds directory, kept
in `HOTLINE_JOURNAL_DIR/outage.json` so a restarted controller keeps announcing, and
shared with the other instances over the bus (topic ``outage``), each of which serves
the IVR too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bus import MessageBus
from console.runtime import require
from console.sessions import Session
from hotline.adapters import IvrMode
from ivr.errors import PromptBuildError
from ivr.menu import Menu, Outage
from ivr.prompts import render_announcement
from routing.ports import TicketStore
from routing.records import UserRole

log = logging.getLogger(__name__)

TOPIC = "outage"
STATE_FILE = "outage.json"


class UnknownIncident(LookupError):
    """The incident an announcement names is not a ticket."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OutageAnnouncements:
    def __init__(
        self,
        *,
        menu: Menu,
        sounds_dir: Path,
        journal_dir: Path,
        ivr_mode: IvrMode,
        tickets: TicketStore,
        bus: MessageBus,
        clock: Callable[[], datetime] = _utcnow,
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
        await self.bus.publish("supervisors", {"type": "outage", **state})
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
        await self.bus.publish("supervisors", {"type": "outage", **state})
        return state


class OutageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9-]+$",
        description="number of the incident's ticket",
    )
    texts: dict[str, Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        description='announcement per menu language, e.g. {"zh": ..., "en": ...}'
    )

    @field_validator("texts")
    @classmethod
    def _one_line_each(cls, value: dict[str, str]) -> dict[str, str]:
        for lang, text in value.items():
            if any(ch in text for ch in "\r\n\0"):
                raise ValueError(f"the {lang} text must be one line")
        return value


def outage_router(board: OutageAnnouncements) -> APIRouter:
    router = APIRouter(tags=["outage"])

    @router.get("/api/outage")
    async def get_outage(
        _: Annotated[Session, Depends(require(UserRole.AGENT))],
    ) -> dict[str, Any]:
        return board.current()

    @router.post("/api/outage")
    async def post_outage(
        body: OutageIn, session: Annotated[Session, Depends(require(UserRole.SUPERVISOR))]
    ) -> dict[str, Any]:
        try:
            return await board.announce(body.incident, body.texts, session.user.username)
        except UnknownIncident as exc:
            raise HTTPException(404, str(exc)) from exc
        except PromptBuildError as exc:
            raise HTTPException(503, f"cannot render the announcement: {exc}") from exc

    @router.delete("/api/outage")
    async def delete_outage(
        session: Annotated[Session, Depends(require(UserRole.SUPERVISOR))],
    ) -> dict[str, Any]:
        return await board.clear(session.user.username)

    return router
