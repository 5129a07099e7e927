"""Shared harness of the console tests (loaded by path: see `load_harness` in the conftests).

Console tests run the real app on the real storage (a fresh SQLite file per test, or a
scratch PostgreSQL database), the in-process bus, and recording fakes for the PBX and the
emergency desk."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from ami.errors import AmiActionError, AmiError
from bus import InProcessBus
from calls.control import QueueEntry, QueueMemberState, QueueSnapshot
from console import ConsoleDeps, create_app
from console.server import ConsoleServer
from fallback.errors import BackfillConflict, BackfillIncomplete, InvalidRequest, UnknownPaperNumber
from fallback.records import BackfillItem, EmergencyStatus, Reconciliation
from routing.domain.levels import SlaPolicy
from routing.records import NewTicket, Ticket, TicketSource
from storage.calls import CallRepository
from storage.database import Database
from storage.models import (
    ConsoleUserRow,
    ContactRow,
    ContractRow,
    EngineerRow,
    EquipmentRow,
    SiteEngineerRow,
    SiteRow,
)
from storage.revocations import RevocationRepository
from storage.sites import SiteRepository
from storage.tickets import TicketRepository
from storage.users import UserRepository, hash_password
from testkit.scratch_db import (
    create_tables,
    empty_all_tables,
)

PASSWORD = "correct horse battery"
SECRET = "test-secret-" + "x" * 24


class RecordingPbx:
    """`CallControl` that records queue actions; `fail` makes the next actions fail."""

    def __init__(self) -> None:
        self.actions: list[tuple[Any, ...]] = []
        self.fail: AmiError | None = None
        self.members: dict[str, QueueMemberState] = {}
        self.waiting: tuple[QueueEntry, ...] | None = None  # None: one caller, 12 s

    def _maybe_fail(self) -> None:
        if self.fail is not None:
            raise self.fail

    async def queue_add(
        self,
        queue: str,
        interface: str,
        *,
        member_name: str | None = None,
        penalty: int = 0,
        paused: bool = False,
        state_interface: str | None = None,
    ) -> None:
        self._maybe_fail()
        if interface in self.members:
            raise AmiActionError("QueueAdd", "Unable to add interface: Already there")
        self.actions.append(("add", queue, interface, member_name))
        self.members[interface] = QueueMemberState(
            queue, member_name or interface, interface, paused, False, 1
        )

    async def queue_remove(self, queue: str, interface: str) -> None:
        self._maybe_fail()
        self.actions.append(("remove", queue, interface))
        self.members.pop(interface, None)

    async def queue_pause(
        self, interface: str, paused: bool, *, queue: str | None = None, reason: str = ""
    ) -> None:
        self._maybe_fail()
        self.actions.append(("pause", interface, paused))
        member = self.members[interface]
        self.members[interface] = QueueMemberState(
            member.queue, member.name, interface, paused, False, 1
        )

    async def queue_status(self, queue: str | None = None) -> QueueSnapshot:
        self._maybe_fail()
        entry = QueueEntry(
            "hotline-main",
            1,
            "PJSIP/trunk-0001",
            "1.1",
            "1.1",
            "13800138000",
            "<b>caller</b>",
            12,
            10,
        )
        waiting = (entry,) if self.waiting is None else self.waiting
        return QueueSnapshot(tuple(self.members.values()), waiting)

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        raise AmiActionError("Redirect", "not used by the console")

    async def originate(self, channel: str, **kwargs: Any) -> str:
        raise AmiActionError("Originate", "not used by the console")

    async def setvar(self, variable: str, value: str, *, channel: str | None = None) -> None:
        raise AmiActionError("Setvar", "not used by the console")

    async def getvar(self, variable: str, *, channel: str | None = None) -> str | None:
        raise AmiActionError("Getvar", "not used by the console")

    async def db_put(self, family: str, key: str, value: str) -> None:
        raise AmiActionError("DBPut", "not used by the console")

    async def db_get(self, family: str, key: str) -> str | None:
        raise AmiActionError("DBGet", "not used by the console")

    async def db_del(self, family: str, key: str) -> None:
        raise AmiActionError("DBDel", "not used by the console")

    async def user_event(self, name: str, headers: Mapping[str, str]) -> None:
        raise AmiActionError("UserEvent", "not used by the console")

    async def command(self, command: str) -> list[str]:
        raise AmiActionError("Command", "not used by the console")


class EmergencyDesk:
    """Emergency control + backfill desk in memory, backfilling into the REAL ticket store."""

    def __init__(self, tickets: TicketRepository, clock: Any) -> None:
        self._tickets = tickets
        self._clock = clock
        self._status = EmergencyStatus(False, None, None, None, "normal")
        self.items_: dict[str, BackfillItem] = {}
        self.flips: list[tuple[bool, str, str]] = []

    def status(self) -> EmergencyStatus:
        return self._status

    async def set_active(self, active: bool, *, reason: str, by: str) -> EmergencyStatus:
        if not reason.strip():
            raise InvalidRequest("a reason is required")
        self.flips.append((active, reason, by))
        state = "emergency" if active else ("recovering" if self.items_ else "normal")
        self._status = EmergencyStatus(active, self._clock(), reason, by, state)
        return self._status

    def add_call(self, paper: str, call_id: str | None, caller: str | None) -> None:
        self.items_[paper] = BackfillItem(
            paper, call_id, caller, self._clock(), "alice", None, False, None
        )

    async def items(self) -> list[BackfillItem]:
        return list(self.items_.values())

    async def submit(
        self,
        paper_number: str,
        *,
        site_code: str | None,
        level: int,
        description: str,
        caller_number: str | None,
        by: str,
    ) -> str:
        item = self.items_.get(paper_number)
        if item is None:
            raise UnknownPaperNumber(paper_number)
        if item.ticket_number or item.waived:
            raise BackfillConflict(f"{paper_number} is already accounted for")
        now = self._clock()
        ticket = await self._tickets.create(
            NewTicket(
                level=level,
                caller_number=caller_number or item.caller_number or "",
                created_at=item.started_at or now,
                response_due=now + timedelta(hours=2),
                onsite_due=None,
                source=TicketSource.BACKFILL,
                call_id=item.call_id,
                site_code=site_code,
                description=description,
                paper_number=paper_number,
                created_by=by,
            )
        )
        self.items_[paper_number] = BackfillItem(
            paper_number,
            item.call_id,
            item.caller_number,
            item.started_at,
            item.agent,
            ticket.number,
            False,
            None,
            paper_entered=True,
            entered_by=by,
        )
        return ticket.number

    async def waive(self, paper_number: str, *, reason: str, by: str) -> None:
        item = self.items_.get(paper_number)
        if item is None:
            raise UnknownPaperNumber(paper_number)
        self.items_[paper_number] = BackfillItem(
            paper_number,
            item.call_id,
            item.caller_number,
            item.started_at,
            item.agent,
            None,
            True,
            reason,
        )

    async def reconciliation(self) -> Reconciliation:
        items = list(self.items_.values())
        missing = tuple(i for i in items if not i.accounted_for)
        return Reconciliation(
            calls_without_ticket=missing,
            awaiting_paper=(),
            paper_without_call=tuple(i for i in items if i.call_id is None),
            waived=tuple(i for i in items if i.waived),
            total=len(items),
            ticketed=sum(1 for i in items if i.ticket_number),
            done=not missing,
        )

    async def close_backfill(self, by: str) -> None:
        missing = [i.paper_number for i in self.items_.values() if not i.accounted_for]
        if missing:
            raise BackfillIncomplete(missing)
        self._status = EmergencyStatus(False, self._clock(), "backfill closed", by, "normal")


@dataclass
class World:
    db: Database
    tickets: TicketRepository
    calls: CallRepository
    sites: SiteRepository
    users: UserRepository
    bus: InProcessBus
    pbx: RecordingPbx
    desk: EmergencyDesk
    deps: ConsoleDeps
    health_state: dict[str, Any] = field(default_factory=dict)

    def app(self) -> Any:
        return create_app(self.deps)


def now() -> datetime:
    return datetime.now(UTC)


async def seed_site(
    db: Database, code: str = "4401001", name: str = "Riverside Pump Station"
) -> None:
    async with db.sessions.begin() as session:
        site = SiteRow(
            site_code=code,
            customer_id="CUST-77",
            organisation="Provincial Water Resources Bureau",
            site_name=name,
            tier="county",
            address="12 Dyke Road, Riverside County",
            distance_km=73.5,
            sector="water_resources",
            network_notes="MPLS line, backup 4G router",
            updated_at=now(),
        )
        site.contacts = [
            ContactRow(
                name="Wang Li", phone="010-12345678", normalised="+861012345678", line_kind="fixed"
            ),
        ]
        site.equipment = [
            EquipmentRow(
                kind="MCU", model="MX-8000", serial="MCU-0001", warranty_end=date(2020, 1, 1)
            ),
            EquipmentRow(
                kind="camera",
                model="IPC-22",
                serial="CAM-0042",
                warranty_end=date.today() + timedelta(days=365),
            ),
        ]
        site.contract = ContractRow(tier="gold", warranty_end=date.today() + timedelta(days=200))
        engineer = EngineerRow(name="Zhao Gang", phone="13900000001", interface=None)
        site.engineer_links = [SiteEngineerRow(engineer=engineer, position=0)]
        session.add(site)


_HASH: list[str] = []


async def seed_users(db: Database) -> None:
    """The four console users, with one scrypt hash computed per test session (speed);
    `UserRepository.authenticate` still verifies it for real on every log-in."""
    if not _HASH:
        _HASH.append(await asyncio.to_thread(hash_password, PASSWORD))
    async with db.sessions.begin() as session:
        for name, role, interface in (
            ("alice", "agent", "PJSIP/1001"),
            ("bob", "agent", "PJSIP/1002"),
            ("sue", "supervisor", "PJSIP/1009"),
            ("root", "admin", None),
        ):
            session.add(
                ConsoleUserRow(
                    username=name,
                    role=role,
                    password_hash=_HASH[0],
                    interface=interface,
                    active=True,
                    created_at=now(),
                )
            )


async def open_call_ticket(
    world: World, call_id: str, *, site: str | None = "4401001", description: str = ""
) -> Ticket:
    at = now()
    opening = await world.tickets.open_for_call(
        NewTicket(
            level=2,
            caller_number="01012345678",
            created_at=at,
            response_due=at + timedelta(hours=2),
            onsite_due=at + timedelta(hours=12),
            call_id=call_id,
            site_code=site,
            description=description,
        )
    )
    return opening.ticket


async def build_world(url: str, *, fresh: bool) -> World:
    db = Database(url)
    if fresh:
        await create_tables(db)
    else:
        await empty_all_tables(db)
    tickets = TicketRepository(db, policy=SlaPolicy())  # as wired in production
    calls = CallRepository(db)
    sites = SiteRepository(db)
    users = UserRepository(db)
    bus = InProcessBus()
    pbx = RecordingPbx()
    desk = EmergencyDesk(tickets, now)
    health_state: dict[str, Any] = {"ami": "ok", "database": "ok", "redis": "in_process"}

    async def health() -> dict[str, Any]:
        return dict(health_state)

    deps = ConsoleDeps(
        tickets=tickets,
        calls=calls,
        sites=sites,
        users=users,
        bus=bus,
        call_control=pbx,
        emergency=desk,
        backfill=desk,
        health=health,
        session_secret=SECRET,
        revocations=RevocationRepository(db),
    )
    world = World(db, tickets, calls, sites, users, bus, pbx, desk, deps, health_state)
    await seed_users(db)
    await seed_site(db)
    return world


async def token_for(client: httpx.AsyncClient, username: str) -> str:
    response = await client.post("/api/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    client.cookies.clear()  # tests choose their credentials explicitly
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class LiveServer:
    url: str
    port: int


async def start_server(app: Any) -> tuple[ConsoleServer, None, LiveServer]:
    """The product's own in-loop server (what `hotline serve` uses), on a free port."""
    server = ConsoleServer(app, host="127.0.0.1", port=0)
    await server.start()
    return server, None, LiveServer(server.url, server.port)


async def stop_server(server: ConsoleServer, task: None = None) -> None:
    await server.stop()


def random_call_id() -> str:
    return f"{secrets.randbelow(10**10)}.{secrets.randbelow(1000)}"


# Tokens reused across Hypothesis examples of one test (log-in costs a scrypt each time).
TOKENS: dict[str, str] = {}
