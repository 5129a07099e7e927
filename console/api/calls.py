"""`/api/calls`, `/api/queues`, `/api/consoles`: the call records, what the PBX has in the
hotline queues right now, and who has a console open; and `recordings_router(files)`,
`GET /api/calls/{call_id}/recording`, a call's recording (WAV) with HTTP range requests,
which `console.components.build` mounts on the recordings directory.

A call record shows its recording as `recording_url` (`call_json`), a ticket its calls
(`with_calls`). Supervisors and admins play every recording; an agent only those of calls
they answered or of tickets that are theirs (`routing.domain.recordings.may_play`). The
file is read from the recordings directory (`routing.ports.RecordingFiles`) in a worker
thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from console.api.inputs import DIGITS, LINE
from console.deps import json_value
from console.domain.byte_ranges import ByteRange, Unsatisfiable, requested_range
from console.errors import ERROR_RESPONSES, NotYourRecording, RecordingNotFound
from console.runtime import AgentSession, SupervisorSession, runtime_of
from routing.domain.recordings import may_play, recording_url
from routing.ports import CallStore, RecordingFiles
from routing.records import CallFilter, CallRecord, UserRole

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["calls"])

OutcomeName = Literal["answered", "abandoned", "ivr_hangup", "no_agent", "transferred"]
CHUNK_BYTES = 64 * 1024
MEDIA_TYPE = "audio/wav"


def call_json(call: CallRecord) -> dict[str, Any]:
    """A call record as the API shows it: the recording as a URL, never as a file name."""
    data: dict[str, Any] = json_value(call)
    data.pop("recording", None)
    data["recording_url"] = recording_url(call.call_id, call.recording, call.answered_at)
    return data


def ticket_call_json(call: CallRecord) -> dict[str, Any]:
    return {
        "call_id": call.call_id,
        "started_at": call.started_at.isoformat(),
        "outcome": call.outcome,
        "recording_url": recording_url(call.call_id, call.recording, call.answered_at),
    }


async def with_calls(calls: CallStore, tickets: Sequence[dict[str, Any]]) -> None:
    """Give each ticket (as JSON) its `calls`: every call attached to it."""
    keys = [(str(ticket["number"]), ticket.get("call_id")) for ticket in tickets]
    attached = await calls.attached_to(keys)
    for ticket, (number, _call_id) in zip(tickets, keys, strict=True):
        ticket["calls"] = [ticket_call_json(c) for c in attached.get(number, [])]


@router.get("/calls")
async def list_calls(
    session: AgentSession,
    request: Request,
    call_id: Annotated[str | None, Query(max_length=128, pattern=LINE)] = None,
    outcome: Annotated[OutcomeName | None, Query()] = None,
    site: Annotated[str | None, Query(pattern=DIGITS)] = None,
    active: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=128, pattern=LINE)] = None,
) -> dict[str, Any]:
    filters = CallFilter(call_id=call_id, outcome=outcome, site_code=site)
    calls = await runtime_of(request).deps.calls.list(filters, limit=limit, before=before)
    items = [call_json(c) for c in calls]
    next_before = items[-1]["call_id"] if len(items) == limit else None
    if active:  # the live list: calls not yet ended, within the page asked for
        items = [c for c in items if c.get("ended_at") is None]
    return {"items": items, "next_before": next_before}


@router.get("/queues")
async def queue_status(session: SupervisorSession, request: Request) -> dict[str, Any]:
    """What the PBX has right now in the hotline queues: members and waiting callers."""
    snapshot = await runtime_of(request).deps.call_control.queue_status()
    return {
        "members": [json_value(m) for m in snapshot.members],
        "entries": [json_value(e) for e in snapshot.entries],
    }


@router.get("/consoles")
async def consoles(session: SupervisorSession, request: Request) -> dict[str, Any]:
    """Who has a console open on any console process (shared through Redis when it is
    configured), their last heartbeat and their queue state as this node knows it."""
    runtime = runtime_of(request)
    return {
        "items": [
            {
                "username": seen.username,
                "role": seen.role,
                "connections": seen.connections,
                "last_seen": seen.last_seen.isoformat(),
                "agent_state": runtime.agents.state_of(seen.username).value,
            }
            for seen in await runtime.deps.presence.consoles()
        ]
    }


def _read(path: Path, first: int, length: int) -> bytes:
    with path.open("rb") as file:
        file.seek(first)
        return file.read(length)


async def _stream(path: Path, first: int, length: int) -> AsyncIterator[bytes]:
    offset, left = first, length
    while left > 0:
        chunk = await asyncio.to_thread(_read, path, offset, min(CHUNK_BYTES, left))
        if not chunk:  # the file shrank under us (purged): end the body here
            return
        offset += len(chunk)
        left -= len(chunk)
        yield chunk


async def _ticket_people(request: Request, call: CallRecord) -> tuple[str, ...]:
    if call.ticket_number is None:
        return ()
    ticket = await runtime_of(request).deps.tickets.get(call.ticket_number)
    if ticket is None:
        return ()
    return tuple(p for p in (ticket.duty_agent, ticket.owner) if p)


def recordings_router(files: RecordingFiles) -> APIRouter:
    """The playback route, reading recordings from `files`."""
    router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["calls"])

    @router.get(
        "/calls/{call_id}/recording",
        response_class=Response,
        responses={
            200: {"content": {MEDIA_TYPE: {}}, "description": "the whole recording"},
            206: {"content": {MEDIA_TYPE: {}}, "description": "the requested byte range"},
            416: {"description": "the range is outside the recording"},
        },
    )
    async def play_recording(
        call_id: str,
        session: AgentSession,
        request: Request,
        range_header: Annotated[str | None, Header(alias="Range", max_length=200)] = None,
    ) -> Response:
        """The call's recording (audio/wav), whole or the one byte range asked for."""
        call = await runtime_of(request).deps.calls.get(call_id)
        if call is None or recording_url(call.call_id, call.recording, call.answered_at) is None:
            raise RecordingNotFound(call_id)
        user = session.user
        if not may_play(
            role_at_least_supervisor=user.role.at_least(UserRole.SUPERVISOR),
            username=user.username,
            call_agent=call.agent,
            ticket_people=await _ticket_people(request, call),
        ):
            log.warning("call %s: %s may not play its recording", call_id, user.username)
            raise NotYourRecording(call_id)
        path = await asyncio.to_thread(files.path_of, call.recording or "")
        if path is None:
            log.warning("call %s: recording %s is not in the directory", call_id, call.recording)
            raise RecordingNotFound(call_id)
        size = (await asyncio.to_thread(path.stat)).st_size
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, no-store"}
        try:
            wanted = requested_range(range_header, size)
        except Unsatisfiable:
            return Response(
                status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"}
            )
        part = wanted or ByteRange(0, size - 1)
        headers["Content-Length"] = str(max(part.length, 0))
        if wanted is not None:
            headers["Content-Range"] = wanted.content_range(size)
        return StreamingResponse(
            _stream(path, part.first, part.length),
            status_code=206 if wanted is not None else 200,
            media_type=MEDIA_TYPE,
            headers=headers,
        )

    return router
