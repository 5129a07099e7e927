"""The whole hotline, as `hotline serve` builds it, against the loopback PBX stand-in.

`system` is one `HotlineService` (AMI controller, IVR, tickets, screen-pop, console on
uvicorn) on a scratch database (SQLite, and PostgreSQL when the server is up) holding a
small site directory imported from CSV and four console users, plus a `PbxStandIn` whose
agent phones match those users' interfaces. Nothing is faked between the two: calls go
over real AMI and FastAGI sockets, agents get ready through the HTTP API and watch a
real websocket. `System` names the parts of the service tests use most.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect

from ami.client import AmiClient
from ami.tracker import CallTracker
from bus import MessageBus
from calls import DomainCallEvent
from hotline.runtime import HotlineService
from hotline.settings import Settings
from pbx import PbxStandIn
from pipeline import CallPipeline
from routing.records import Ticket
from routing.tickets import CallTicketService
from storage.calls import CallRepository
from storage.database import Database
from storage.migrate import upgrade
from storage.site_import import import_sites
from storage.tickets import TicketRepository
from storage.users import UserRepository
from testkit.scratch_db import (
    copy_sqlite,
    create_postgres_from_template,
    create_scratch_postgres,
    drop_scratch_postgres,
    postgres_available,
    scratch_sqlite_url,
)

log = logging.getLogger(__name__)

PASSWORD = "system-test-pw"
SPEED = 10.0  # simulated seconds per real second
# (username, role, phone interface, simulated seconds before the phone is answered)
AGENTS = (
    ("alice", "agent", "PJSIP/1001", 2.0),
    ("bob", "agent", "PJSIP/1002", 2.0),
)
OTHERS = (("sue", "supervisor"), ("root", "admin"))

RIVERSIDE = "4401001"  # known caller 010-12345678, 80 km out
HILLTOP = "4401002"  # known caller 13911112222, 30 km out
SWITCHBOARD_A = "4402001"  # two sites share the switchboard 027-88880000
SWITCHBOARD_B = "4402002"
FARAWAY = "4403001"  # nobody calls from its number in the tests: reached by site code
LAKESIDE = "4404001"  # known caller 13722223333; its assigned engineer is bob (PJSIP/1002)


def directory_csv(today: date) -> str:
    """A small directory in the INTERFACE.md CSV format (one row per contact)."""
    later = (today + timedelta(days=400)).isoformat()
    past = (today - timedelta(days=30)).isoformat()
    header = (
        "site_code,organisation,site_name,contact_phone,customer_id,tier,address,distance_km,"
        "contact_name,engineer,contract_tier,warranty_end,engineer_phone,engineer_interface,"
        "equipment"
    )
    rows = [
        f"{RIVERSIDE},Provincial Water Resources Bureau,Riverside Pump Station,010-12345678,"
        f"C-100,county,12 Dyke Road,80,Wang Li,Zhao Gang,gold,{later},13700001111,,"
        f"MCU|RMX-2000|SN-RIV-1|{past};camera|HDX-9000|SN-RIV-2|{later}",
        f"{RIVERSIDE},Provincial Water Resources Bureau,Riverside Pump Station,13800001234,"
        f"C-100,county,12 Dyke Road,80,Li Na,Zhao Gang,gold,{later},13700001111,,",
        f"{HILLTOP},Provincial Water Resources Bureau,Hilltop Reservoir,13911112222,C-100,"
        f"township,1 Hill Lane,30,Chen Jie,,silver,{later},,,terminal|HDX-7000|SN-HILL-1|{later}",
        f"{SWITCHBOARD_A},City Flood Office,East Gate Station,027-88880000,C-200,city,"
        f"East Gate,20,Front Desk,,,,,,",
        f"{SWITCHBOARD_B},City Flood Office,West Gate Station,027-88880000,C-200,city,"
        f"West Gate,25,Front Desk,,,,,,",
        f"{FARAWAY},Mountain County Office,Summit Relay,0719-5550123,C-300,township,"
        f"Summit Road,450,Guo Qiang,,,,,,",
        f"{LAKESIDE},Lake Authority,Lakeside Gauge,13722223333,C-400,county,3 Shore Road,"
        f"60,Sun Mei,Bob Engineer,gold,{later},13700002222,PJSIP/1002,",
    ]
    return "\n".join([header, *rows]) + "\n"


@dataclass
class ConsoleSocket:
    """A real websocket client on `/ws/console` that keeps every message it receives."""

    username: str
    connection: ClientConnection
    messages: list[dict[str, Any]] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read(), name=f"ws-{self.username}")

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.connection:
                self.messages.append(json.loads(raw))
                self._arrived.set()

    def about(self, call_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("call_id") == call_id]

    async def wait_for(
        self, kind: str, call_id: str | None = None, timeout: float = 15.0
    ) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for message in self.messages:
                    if message.get("type") == kind and (
                        call_id is None or message.get("call_id") == call_id
                    ):
                        return message
                self._arrived.clear()
                await self._arrived.wait()

    async def close(self) -> None:
        await self.connection.close()
        if self._reader is not None:
            await self._reader


@dataclass
class System:
    pbx: PbxStandIn
    service: HotlineService
    db_url: str
    http: httpx.AsyncClient
    events: list[DomainCallEvent]
    settings: Settings
    sockets: list[ConsoleSocket] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.service.console_url

    # The parts the tests reach most often, as the service built them.
    @property
    def tickets(self) -> TicketRepository:
        return self.service.edges.store.tickets

    @property
    def calls(self) -> CallRepository:
        return self.service.edges.store.calls

    @property
    def bus(self) -> MessageBus:
        return self.service.edges.bus.bus

    @property
    def ami(self) -> AmiClient:
        return self.service.edges.ami.client

    @property
    def tracker(self) -> CallTracker:
        return self.service.edges.ami.tracker

    @property
    def pipeline(self) -> CallPipeline:
        return self.service.path.pipeline.pipeline

    @property
    def call_tickets(self) -> CallTicketService:
        return self.service.path.routing.call_tickets

    async def login(self, username: str) -> str:
        response = await self.http.post(
            "/api/login", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        token = response.json()["token"]
        assert isinstance(token, str)
        return token

    async def set_state(self, token: str, state: str) -> None:
        response = await self.http.post(
            "/api/agent/state",
            json={"state": state},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text

    async def open_socket(self, username: str, token: str) -> ConsoleSocket:
        ws_url = self.url.replace("http://", "ws://") + f"/ws/console?token={token}"
        connection = await connect(ws_url, open_timeout=10)
        sock = ConsoleSocket(username, connection)
        hello = json.loads(await asyncio.wait_for(connection.recv(), 10))
        assert hello["type"] == "hello" and hello["username"] == username
        sock.start()
        self.sockets.append(sock)
        # The subscription exists once hello was sent; nothing published after it is lost.
        return sock

    async def agent_on_duty(self, username: str) -> ConsoleSocket:
        """Log in through the API, open the console websocket, press Ready."""
        token = await self.login(username)
        sock = await self.open_socket(username, token)
        await self.set_state(token, "ready")
        return sock

    async def ticket_of(self, call_id: str, timeout: float = 15.0) -> Ticket:
        async with asyncio.timeout(timeout):
            while True:
                ticket = await self.tickets.get_by_call(call_id)
                if ticket is not None:
                    return ticket
                await asyncio.sleep(0.05)

    async def until(self, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.02)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def prepare_database(url: str, directory: Path) -> None:
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        report = await import_sites(db, directory)
        assert not report.errors, report.errors
        users = UserRepository(db)
        for username, role, interface, _ in AGENTS:
            await users.create(username, role, PASSWORD, interface)
        for username, role in OTHERS:
            await users.create(username, role, PASSWORD, None)
    finally:
        await db.dispose()


class PreparedDatabases:
    """The system tests' database (migrated, holding the directory and the users), made
    once per test session for each kind on first use; every test runs on its own copy."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._sqlite: str | None = None
        self._postgres: str | None = None

    def _prepare(self, url: str) -> None:
        csv = self._directory / "sites.csv"
        csv.write_text(directory_csv(date.today()), encoding="utf-8")
        # Called from a worker thread (asyncio.to_thread): the loop here is its own.
        asyncio.run(prepare_database(url, csv))

    def sqlite_copy(self, tmp_path: Path) -> str:
        """A SQLite file of the test's own (synchronous: call it in a thread)."""
        if self._sqlite is None:
            url = scratch_sqlite_url(self._directory)
            self._prepare(url)
            self._sqlite = url
        return copy_sqlite(self._sqlite, tmp_path)

    def postgres_copy(self) -> str:
        """A PostgreSQL database of the test's own, dropped by `drop_scratch_postgres`."""
        if self._postgres is None:
            url = create_scratch_postgres(None, "hotline_e2e_template")
            try:
                self._prepare(url)
            except BaseException:
                drop_scratch_postgres(url)
                raise
            self._postgres = url
        return create_postgres_from_template(self._postgres, prefix="hotline_e2e_system")

    def close(self) -> None:
        if self._postgres is not None:
            drop_scratch_postgres(self._postgres)


@pytest.fixture(scope="session")
def prepared_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PreparedDatabases]:
    prepared = PreparedDatabases(tmp_path_factory.mktemp("system-template"))
    try:
        yield prepared
    finally:
        prepared.close()


@pytest_asyncio.fixture(loop_scope="session")
async def sqlite_url(prepared_databases: PreparedDatabases, tmp_path: Path) -> str:
    """A prepared SQLite database of the test's own, for `running_system`."""
    return await asyncio.to_thread(prepared_databases.sqlite_copy, tmp_path)


@contextlib.asynccontextmanager
async def running_system(
    db_url: str,
    tmp_path: Path,
    *,
    emergency_desks: tuple[str, ...] = (),
    **settings_overrides: Any,
) -> AsyncIterator[System]:
    """The system on `db_url`, a copy of the prepared database (`sqlite_url`, or
    `PreparedDatabases.postgres_copy`)."""
    # The PBX writes its CDR into the hotline database, as cdr_pgsql does, and its call
    # recordings into a directory the controller reads (a shared mount in production).
    recordings = tmp_path / "recordings"
    pbx = PbxStandIn(
        recordings_dir=recordings,
        speed=SPEED,
        agi_port=free_port(),
        auth_failure_delay=0,
        prompt_seconds=0.5,
        cdr_db_url=db_url,
    )
    for _username, _role, interface, delay in AGENTS:
        pbx.add_agent(interface, answer_after=delay)
    for desk in emergency_desks:
        pbx.add_agent(desk, answer_after=2.0)
    await pbx.start()
    settings = Settings(
        ami_host="127.0.0.1",
        ami_port=pbx.ami_port,
        ami_user="hotline",
        ami_secret=SecretStr("hotline-secret"),
        agi_port=0,
        http_port=0,
        db_url=db_url,
        journal_dir=tmp_path / "journal",
        sounds_dir=tmp_path / "sounds",
        emergency_members=list(emergency_desks),
        **{"recordings_dir": recordings, **settings_overrides},
    )
    service = HotlineService.build(settings)
    events: list[DomainCallEvent] = []
    service.edges.ami.tracker.subscribe(events.append)
    try:
        await service.start()
        await service.edges.ami.client.wait_connected(10)
        pbx.set_agi_target("127.0.0.1", service.path.ivr.server.port or 0)
        async with httpx.AsyncClient(base_url=service.console_url, timeout=10) as http:
            system = System(pbx, service, db_url, http, events, settings)
            try:
                yield system
            finally:
                for sock in system.sockets:
                    with contextlib.suppress(Exception):
                        await sock.close()
    finally:
        await service.stop()
        await pbx.stop()


@pytest_asyncio.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    loop_scope="session",
)
async def system(
    request: pytest.FixtureRequest, prepared_databases: PreparedDatabases, tmp_path: Path
) -> AsyncIterator[System]:
    if request.param == "sqlite":
        url = await asyncio.to_thread(prepared_databases.sqlite_copy, tmp_path)
        async with running_system(url, tmp_path) as s:
            yield s
        return
    if not await asyncio.to_thread(postgres_available):
        pytest.skip("PostgreSQL is not reachable")
    url = await asyncio.to_thread(prepared_databases.postgres_copy)
    try:
        async with running_system(url, tmp_path) as s:
            yield s
    finally:
        await asyncio.to_thread(drop_scratch_postgres, url)


# For a test whose path does not depend on the database: the storage it touches is tested
# on both dialects in tests/integration, so a PostgreSQL round here repeats, not adds.
SQLITE_ONLY = pytest.mark.parametrize("system", ["sqlite"], indirect=True)


@pytest_asyncio.fixture(loop_scope="session")
async def sqlite_system(sqlite_url: str, tmp_path: Path) -> AsyncIterator[System]:
    async with running_system(sqlite_url, tmp_path) as s:
        yield s


EMERGENCY_DESK = "PJSIP/1901"


@pytest_asyncio.fixture(loop_scope="session")
async def system_with_pool(sqlite_url: str, tmp_path: Path) -> AsyncIterator[System]:
    """`sqlite_system` plus an emergency desk (answers after 2 simulated seconds)."""
    async with running_system(sqlite_url, tmp_path, emergency_desks=(EMERGENCY_DESK,)) as s:
        yield s


ARTIFACTS = Path(__file__).parents[3] / "artifacts" / "system"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def page_errors(page: Any) -> list[str]:
    """The page's script errors and CSP refusals (the test fails on any)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

    def on_console(msg: Any) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(f"console: {msg.text}")

    page.on("console", on_console)
    return errors


async def logged_in_page(
    browser: Any, url: str, username: str, *, password: str = PASSWORD, lands_on: str = "agent"
) -> tuple[Any, Any, list[str]]:
    """A fresh browser context logged in on the real log-in form: (context, page, the
    page's script errors, which a test should find empty at its end)."""
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1400, "height": 1100})
    page = await context.new_page()
    errors = page_errors(page)
    await page.goto(f"{url}/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-submit")
    await expect(page).to_have_url(f"{url}/{lands_on}")
    return context, page, errors
