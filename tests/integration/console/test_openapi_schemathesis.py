"""Schemathesis over the console's own OpenAPI schema, as an agent and as a supervisor.

The app is built as `hotline serve` builds it (the console, the supervision routes and
the outage announcement) and served by the product's server in a thread of its own;
every operation in `/openapi.json` gets a bounded number of generated requests, one at a
time. Any 5xx or a status code the schema does not list fails the test. Left out: the
emergency switch (a flip is not a fuzzing matter) and whatever ends the test's own
session (log-out, log out everywhere, password changes).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import console_test_harness as h
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, status_code_conformance

from console import create_app
from console.api.calls import recordings_router
from console.api.outage import outage_router
from console.api.tickets import split_router
from console.i18n import language_of
from console.runtime import current_username, record, require, wallboard_session
from console.websocket_auth import websocket_role_check
from fallback.records import AuditRecord, CallbackTarget, CheckResult
from ivr.menu_file import load_menu
from ivr.mode import IvrMode
from ivr.outage import OutageAnnouncements
from routing.domain.levels import SlaPolicy
from routing.records import UserRole
from routing.tickets import CallTicketService
from storage.call_events import CallEventWriter
from storage.dispatch import DispatchRepository
from storage.group_commit import GroupCommit
from storage.oncall import OnCallRepository
from storage.recordings import RecordingArchive
from storage.repeat_calls import RepeatCallRepository
from storage.reports import ReportRepository
from storage.supervision import SupervisionRepository
from supervision.dispatch.service import DispatchService
from supervision.dispatch.web import router as dispatch_router
from supervision.domain.escalation import SupervisionPolicy
from supervision.oncall.web import OnCallWebDeps, oncall_router
from supervision.wallboard import WallboardPublisher
from supervision.web import SupervisionWebDeps, router
from testkit.scratch_db import scratch_sqlite_url

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 20
SESSION_ENDING = (
    ("POST", "/api/emergency"),
    ("POST", "/api/logout"),
    ("POST", "/api/logout-everywhere"),
    ("POST", "/api/me/password"),
    ("POST", "/api/users/{username}/password"),
    ("POST", "/api/users/{username}/disable"),
    ("POST", "/api/users/{username}/role"),
)


@dataclass
class Served:
    url: str
    world: h.World


class QuietBoard:
    """`fallback.ports.HealthBoard` of a seat system nobody has checked yet, whose PBX
    takes every call-back."""

    def __init__(self) -> None:
        self.called_back: list[str] = []

    def health(self) -> list[CheckResult]:
        return []

    def audit_log(self, limit: int = 100) -> list[AuditRecord]:
        return []

    async def callback_list(self) -> list[CallbackTarget]:
        return []

    async def call_back(self, caller_number: str, *, interface: str, by: str) -> str:
        self.called_back.append(caller_number)
        return f"callback-{len(self.called_back)}"


def _production_like_app(world: h.World, tmp: Path, publisher: WallboardPublisher) -> Any:
    dispatch = DispatchService(
        store=DispatchRepository(world.db),
        tickets=world.tickets,
        sites=world.sites,
        policy=SupervisionPolicy(),
        key=b"schemathesis-check-in-key",
        channels={},
    )
    app = create_app(
        dataclasses.replace(world.deps, board=QuietBoard(), ticket_clocks=dispatch.ticket_clocks)
    )
    app.include_router(
        router(
            SupervisionWebDeps(
                SupervisionRepository(world.db),
                world.bus,
                publisher=publisher,
                reports=ReportRepository(world.db),
                report_dir=tmp / "reports",
                require_supervisor=require(UserRole.SUPERVISOR),
                authorize_websocket=websocket_role_check(UserRole.SUPERVISOR, wallboard=True),
                require_agent=require(UserRole.AGENT),
                require_wallboard=wallboard_session,
                current_user=current_username,
                audit=record,
            )
        )
    )
    outage = OutageAnnouncements(
        menu=load_menu(),
        sounds_dir=tmp / "sounds",
        journal_dir=tmp,
        ivr_mode=IvrMode(lambda: False),
        tickets=world.tickets,
        bus=world.bus,
    )
    app.include_router(outage_router(outage))
    app.include_router(
        dispatch_router(
            dispatch, require_agent=require(UserRole.AGENT), current_user=current_username
        )
    )
    app.include_router(recordings_router(RecordingArchive(tmp / "recordings")))
    app.include_router(
        oncall_router(
            OnCallWebDeps(
                OnCallRepository(world.db),
                ZoneInfo("Asia/Shanghai"),
                require_supervisor=require(UserRole.SUPERVISOR),
                current_user=current_username,
                language_of=lambda request: language_of(request, "zh-CN"),
                audit=record,
            )
        )
    )
    tickets = CallTicketService(
        tickets=world.tickets,
        calls=world.calls,
        writes=CallEventWriter(GroupCommit(world.db), world.tickets, world.calls),
        sites=world.sites,
        users=world.users,
        policy=SlaPolicy(),
        repeats=RepeatCallRepository(world.db),
    )
    app.include_router(split_router(tickets))
    return app


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app on a real port, its event loop in a thread (the test itself is synchronous:
    schemathesis and Hypothesis drive it with blocking HTTP)."""
    tmp = tmp_path_factory.mktemp("schemathesis")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="console-under-test", daemon=True)
    thread.start()

    publisher: list[WallboardPublisher] = []

    async def start() -> tuple[h.World, Any, str]:
        world = await h.build_world(scratch_sqlite_url(tmp), fresh=True)
        publisher.append(WallboardPublisher(world.bus, clock=h.now, interval=0.5))
        await publisher[0].start()
        app = _production_like_app(world, tmp, publisher[0])
        server, _task, live = await h.start_server(app)
        return world, server, live.url

    async def stop(world: h.World, server: Any) -> None:
        await h.stop_server(server)
        await publisher[0].stop()
        await world.bus.close()
        await world.db.dispose()

    started: Future[tuple[h.World, Any, str]] = asyncio.run_coroutine_threadsafe(start(), loop)
    world, server, url = started.result(timeout=60)
    try:
        yield Served(url, world)
    finally:
        asyncio.run_coroutine_threadsafe(stop(world, server), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def _token(url: str, username: str) -> str:
    answer = httpx.post(
        f"{url}/api/login", json={"username": username, "password": h.PASSWORD}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


@pytest.mark.parametrize("username", ["alice", "sue"])
def test_no_server_error_and_only_documented_status_codes(served: Served, username: str) -> None:
    token = _token(served.url, username)
    raw = httpx.get(f"{served.url}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(raw)
    operations = [
        result.ok()
        for result in schema.get_all_operations()
        if (result.ok().method.upper(), result.ok().path) not in SESSION_ENDING
    ]
    assert len(operations) > 30, [op.label for op in operations]
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    sent = [0]

    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy() | st.nothing())
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=served.url, headers=headers, timeout=30)
            sent[0] += 1
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance])

        try:
            run()
        except BaseExceptionGroup as group:  # schemathesis' FailureGroup, shrunk by Hypothesis
            failures.append(f"{operation.label}: {group}")
    # The session survived the run: nothing above ended it.
    me = httpx.get(f"{served.url}/api/me", headers=headers, timeout=30)
    assert me.status_code == 200, me.text
    assert failures == [], "\n\n".join(failures)
    assert sent[0] >= 3 * len(operations)  # generated requests, not just one each
