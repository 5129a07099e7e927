"""`hotline demo`: the whole hotline on one machine, no external server.

The loopback PBX stand-in plays Asterisk (real AMI and FastAGI over TCP), a call
generator plays the callers, SQLite holds a generated directory of 2,000 sites, and
the simulated agents' phones answer. The controller is exactly `hotline serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import tempfile
from datetime import date
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console
from sqlalchemy import select

from ami.client import AmiClient
from ami.errors import AmiActionError
from hotline.admin_commands import import_site_file
from hotline.runtime import HotlineService
from hotline.settings import Settings
from pbx import DemoCaller, PbxStandIn, run_traffic
from routing.errors import InvalidInput, UserExists
from routing.numbers import LineKind, normalise
from storage.database import Database
from storage.migrate import upgrade
from storage.models import SiteRow
from storage.users import UserRepository
from testkit.demo_directory import generate, write_csv

log = logging.getLogger(__name__)
console = Console(stderr=True)

DEMO_PASSWORD = "hotline-demo"  # the user store wants 8+ characters
# (username, role, phone interface, seconds before the phone is answered)
DEMO_AGENTS = (
    ("alice", "agent", "PJSIP/1001", 3.0),
    ("bob", "agent", "PJSIP/1002", 5.0),
    ("carol", "agent", "PJSIP/1003", 4.0),
    ("dave", "agent", "PJSIP/1004", 6.0),
)
DEMO_OTHERS = (("sue", "supervisor"), ("root", "admin"))
EMERGENCY_DESKS = ("PJSIP/1901", "PJSIP/1902")


async def prepare_database(settings: Settings, sites: int) -> list[dict[str, str]]:
    """Migrate, import the generated directory once, create the demo users."""
    await asyncio.to_thread(upgrade, settings.db_url)
    rows = generate(7, sites, around=date.today())
    db = Database(settings.db_url)
    try:
        async with db.session() as session:
            has_sites = (await session.execute(select(SiteRow.id).limit(1))).first() is not None
        users = UserRepository(db)
        for username, role, interface, _ in DEMO_AGENTS:
            with contextlib.suppress(UserExists):
                await users.create(username, role, DEMO_PASSWORD, interface)
        for username, role in DEMO_OTHERS:
            with contextlib.suppress(UserExists):
                await users.create(username, role, DEMO_PASSWORD, None)
    finally:
        await db.dispose()
    if not has_sites:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "demo-sites.csv"
            write_csv(rows, path)
            console.print(f"importing a generated directory of {sites} sites")
            db = Database(settings.db_url)
            try:
                await import_site_file(db, path, console=console)
            finally:
                await db.dispose()
    return rows


def presented_caller_id(raw: str) -> tuple[str, str] | None:
    """(caller id as the trunk presents a directory number, its matching key): national
    digits with trunk 0 for fixed lines, never the extension written in the directory."""
    try:
        number = normalise(raw)
    except InvalidInput:
        return None
    if not number.valid or not number.key.startswith("+86"):
        return None
    national = number.key[3:]
    return (national if number.kind is LineKind.MOBILE else "0" + national), number.key


def demo_callers(rows: list[dict[str, str]], seed: int = 11) -> list[DemoCaller]:
    rng = random.Random(seed)
    sample = rng.sample(rows, min(300, len(rows)))
    sites_of: dict[str, set[str]] = {}
    for r in rows:
        if (presented := presented_caller_id(r["contact_phone"])) is not None:
            sites_of.setdefault(presented[1], set()).add(r["site_code"])
    callers = []
    for r in sample:
        presented = presented_caller_id(r["contact_phone"])
        if presented is None:
            continue
        # A shared switchboard does not identify the site: the IVR asks for the code.
        known = len(sites_of[presented[1]]) == 1
        callers.append(DemoCaller(presented[0], r.get("contact_name") or "", r["site_code"], known))
    # Some callers ring from numbers the directory does not know: they type the code.
    for r in rng.sample(rows, min(40, len(rows))):
        callers.append(
            DemoCaller(f"139{rng.randrange(10**8):08d}", "", r["site_code"], number_known=False)
        )
    return callers


async def agents_ready(client: AmiClient, queue: str) -> None:
    """The demo agents are logged in and ready, as if each had pressed Ready."""
    for username, _role, interface, _delay in DEMO_AGENTS:
        with contextlib.suppress(AmiActionError):  # already a member after a reconnect
            await client.queue_add(queue, interface, member_name=username)


async def run_demo(
    settings: Settings, *, speed: float, interval: float, sites: int, max_calls: int | None
) -> None:
    # Like a PBX with cdr_pgsql: every call's CDR lands in the demo database too; its
    # MixMonitor recordings land in the directory the console plays them from.
    pbx = PbxStandIn(
        agi_host=settings.agi_host,
        agi_port=settings.agi_port,
        speed=speed,
        cdr_db_url=settings.db_url,
        recordings_dir=settings.recordings_dir,
    )
    for _username, _role, interface, delay in DEMO_AGENTS:
        pbx.add_agent(interface, answer_after=delay)
    for desk in EMERGENCY_DESKS:
        pbx.add_agent(desk, answer_after=4.0)
    await pbx.start()
    settings = settings.model_copy(
        update={
            "ami_host": "127.0.0.1",
            "ami_port": pbx.ami_port,
            "ami_user": "hotline",
            "ami_secret": SecretStr("hotline-secret"),
            "emergency_members": settings.emergency_members or list(EMERGENCY_DESKS),
        }
    )
    service: HotlineService | None = None
    stop = asyncio.Event()
    try:
        rows = await prepare_database(settings, sites)
        service = HotlineService.build(settings)

        async def on_connected(client: AmiClient) -> None:
            await agents_ready(client, settings.main_queue)

        service.edges.ami.client.on_connected.append(on_connected)
        await service.start()
        pbx.set_agi_target(settings.agi_host, service.path.ivr.server.port or settings.agi_port)
        await service.edges.ami.client.wait_connected(10)
        console.rule("[bold]hotline demo")
        console.print(f"console:    [link]{service.console_url}[/link]")
        console.print(
            f"agents:     {', '.join(a[0] for a in DEMO_AGENTS)} "
            f"(password [bold]{DEMO_PASSWORD}[/bold]; phones "
            f"{', '.join(a[2] for a in DEMO_AGENTS)})"
        )
        console.print(f"supervisor: sue / {DEMO_PASSWORD}    admin: root / {DEMO_PASSWORD}")
        console.print(
            f"wallboard:  {service.console_url}/wallboard   "
            f"PBX stand-in AMI 127.0.0.1:{pbx.ami_port} (hotline / hotline-secret)"
        )
        console.print(
            f"simulated time runs {speed:g}x; a call every ~{interval:g} s "
            "(simulated). Ctrl-C stops."
        )
        console.rule()
        traffic = asyncio.create_task(
            run_traffic(
                pbx, demo_callers(rows), stop=stop, mean_interval=interval, max_calls=max_calls
            )
        )
        from hotline.cli import wait_for_signal

        signal_wait = asyncio.create_task(wait_for_signal())
        done, _ = await asyncio.wait({traffic, signal_wait}, return_when=asyncio.FIRST_COMPLETED)
        if traffic in done:
            placed = traffic.result()
            console.print(f"{len(placed)} calls placed; waiting for them to finish")
            await asyncio.gather(*(c.finished for c in placed), return_exceptions=True)
            await service.path.pipeline.pipeline.drain(30)
            signal_wait.cancel()
        else:
            stop.set()
            traffic.cancel()
    finally:
        stop.set()
        if service is not None:
            await service.stop()
        await pbx.stop()
