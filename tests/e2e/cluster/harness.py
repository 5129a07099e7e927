"""A hotline cluster on one machine, for the multi-process tests and `bench/scale.py`.

Real processes (`hotline serve`, two candidates for the controller and N console-only
ones) against the scratch PostgreSQL database and the shared Redis (own key prefix),
driven by the PBX stand-in in the calling process. The stand-in plays the dialplan with
two FastAGI targets: the call goes to the first IVR and falls back to the second when
the first refuses the connection (AGISTATUS=FAILURE -> second AGI()).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import websockets
from rich.console import Console
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hotline.admin_commands import import_site_file
from pbx import CallResult, PbxStandIn, SimCall
from pbx.agi_client import AgiSessionResult, CallerScript, run_agi_session
from pbx.domain.traffic import DemoCaller, TrafficMix, plan_call
from pbx.traffic import place_planned_call
from storage.database import Database, async_url
from testkit.console_users import add_console_users
from testkit.demo import DEMO_AGENTS, DEMO_PASSWORD, demo_callers
from testkit.demo_directory import generate, write_csv

HOTLINE = str(Path(sys.executable).with_name("hotline"))
# Callers who go straight through: no IVR hang-ups, no abandons, no operator.
STEADY_MIX = TrafficMix(
    operator=0.0,
    wrong_code_first=0.0,
    ivr_hangup=0.0,
    impatient=0.0,
    join_outage=0.0,
    talk=(14.0, 22.0),
    patience=(600.0, 600.0),
    takes_survey=0.0,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def failover_agi(targets: Sequence[tuple[str, int]]) -> Callable[..., Any]:
    """The stand-in's AGI step with the dialplan's fallback to the next FastAGI server."""

    async def run(
        host: str,
        port: int,
        *,
        script: str,
        env: Mapping[str, str],
        caller: CallerScript,
        variables: MutableMapping[str, str],
        on_command: Callable[[str, str], Any] | None = None,
        prompt_seconds: float = 0.0,
    ) -> AgiSessionResult:
        result: AgiSessionResult | None = None
        for target_host, target_port in targets:
            result = await run_agi_session(
                target_host,
                target_port,
                script=script,
                env=env,
                caller=caller,
                variables=variables,
                on_command=on_command,
                prompt_seconds=prompt_seconds,
            )
            if not (result.error or "").startswith("connect failed"):
                return result
        assert result is not None
        return result

    return run


@dataclass
class Node:
    name: str
    role: str  # "full" or "console"
    http_port: int
    agi_port: int
    env: dict[str, str]
    workdir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def spawn(self) -> None:
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"--- start {self.starts} ---\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [HOTLINE, "serve"],
            env=self.env,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_lines_with(self, needles: Sequence[str]) -> list[str]:
        """The lines of this process's log that name any of `needles` (call ids)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if any(n in line for n in needles)]

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class AgentSocket:
    username: str
    interface: str
    node: Node
    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    reconnects: int = 0


class Cluster:
    """Processes, stand-in, agents' websockets; `check_end_state` for the verdict."""

    def __init__(
        self,
        *,
        db_url: str,
        redis_url: str,
        consoles: int = 2,
        lease_ttl: float = 2.0,
        speed: float = 8.0,
        workdir: Path | None = None,
        agents: Sequence[tuple[str, str]] | None = None,
        answer_after: float = 1.5,
    ) -> None:
        """`agents`: (username, phone interface) pairs; the demo's four by default."""
        self.db_url = db_url
        self.agents = list(agents or [(a[0], a[2]) for a in DEMO_AGENTS])
        self.answer_after = answer_after
        # Real time at which the PBX connected each call to an agent (AgentConnect).
        self.connected_at: dict[str, float] = {}
        self.redis_url = redis_url
        self.prefix = f"test-cluster-e2e-{os.getpid()}-{secrets.token_hex(3)}"
        self.lease_ttl = lease_ttl
        self.speed = speed
        self._tmp = tempfile.TemporaryDirectory(prefix="hotline-cluster-") if not workdir else None
        self.workdir = workdir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.session_secret = secrets.token_hex(32)
        self.controllers = [self._node(f"ctl{i + 1}", "full") for i in range(2)]
        self.consoles = [self._node(f"web{i + 1}", "console") for i in range(consoles)]
        self.pbx = PbxStandIn(
            speed=speed,
            prompt_seconds=0.5,
            agi_runner=failover_agi([("127.0.0.1", n.agi_port) for n in self.controllers]),
        )
        self.calls: list[SimCall] = []
        self.results: dict[str, CallResult] = {}
        self.sockets: list[AgentSocket] = []
        self.callers: list[DemoCaller] = []
        self.engine: AsyncEngine = create_async_engine(async_url(db_url))
        self.http = httpx.AsyncClient(timeout=5.0)
        self._stop_sockets = asyncio.Event()
        self._leader: Node | None = None

    def _node(self, name: str, role: str) -> Node:
        workdir = self.workdir / name
        workdir.mkdir(parents=True, exist_ok=True)
        node = Node(
            name=name,
            role=role,
            http_port=free_port(),
            agi_port=free_port(),
            env={},
            workdir=workdir,
            log_path=workdir / "serve.log",
        )
        return node

    def _env(self, node: Node) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env.update(
            {
                "HOTLINE_AMI_HOST": "127.0.0.1",
                "HOTLINE_AMI_PORT": str(self.pbx.ami_port),
                "HOTLINE_AMI_USER": "hotline",
                "HOTLINE_AMI_SECRET": "hotline-secret",
                "HOTLINE_AMI_PING_INTERVAL": "1",
                "HOTLINE_AGI_PORT": str(node.agi_port),
                "HOTLINE_HTTP_PORT": str(node.http_port),
                "HOTLINE_DB_URL": self.db_url,
                "HOTLINE_REDIS_URL": self.redis_url,
                "HOTLINE_REDIS_PREFIX": self.prefix,
                "HOTLINE_ROLE": node.role,
                "HOTLINE_LEASE_TTL": str(self.lease_ttl),
                "HOTLINE_NODE_NAME": node.name,
                "HOTLINE_SESSION_SECRET": self.session_secret,
                "HOTLINE_JOURNAL_DIR": str(node.workdir / "journal"),
                "HOTLINE_SOUNDS_DIR": str(node.workdir / "sounds"),
                "HOTLINE_HEALTH_INTERVAL": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        # The processes run on the event loop the test run names (asyncio's by default).
        if loop := os.environ.get("HOTLINE_EVENT_LOOP"):
            env["HOTLINE_EVENT_LOOP"] = loop
        return env

    # --- lifecycle -------------------------------------------------------------------------

    async def prepare(self, sites: int = 60) -> None:
        """Agents and a small generated directory, in the migrated database."""
        rows = generate(7, sites, around=date.today())
        db = Database(self.db_url)
        try:
            agents = [(username, "agent", interface) for username, interface in self.agents]
            await add_console_users(db, agents, DEMO_PASSWORD)
        finally:
            await db.dispose()
        path = self.workdir / "sites.csv"
        write_csv(rows, path)
        db = Database(self.db_url)
        try:
            await import_site_file(db, path, console=Console(file=io.StringIO()))
        finally:
            await db.dispose()
        self.callers = [c for c in demo_callers(rows) if c.number_known]

    async def start(self) -> None:
        for _username, interface in self.agents:
            self.pbx.add_agent(interface, answer_after=self.answer_after)
        self.pbx.sim.add_sink(self._on_pbx_event)
        await self.pbx.start()
        for username, interface in self.agents:
            self.pbx.add_static_member("hotline-main", interface, member_name=username)
        for node in [*self.controllers, *self.consoles]:
            node.env = self._env(node)
        # The first controller first, so it is the leader the test kills.
        self.controllers[0].spawn()
        await self.wait_healthy(self.controllers[0])
        await self.wait_for(lambda: self.leader() is self.controllers[0], 20, "first leader")
        for node in [*self.controllers[1:], *self.consoles]:
            node.spawn()
        for node in [*self.controllers[1:], *self.consoles]:
            await self.wait_healthy(node)

    def _on_pbx_event(self, headers: Sequence[tuple[str, str]]) -> None:
        fields = dict(headers)
        if fields.get("Event") == "AgentConnect" and "Linkedid" in fields:
            self.connected_at.setdefault(fields["Linkedid"], time.monotonic())

    async def stop(self) -> None:
        self._stop_sockets.set()
        for sock in self.sockets:
            if sock.task is not None:
                sock.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sock.task
        for node in [*self.controllers, *self.consoles]:
            if node.process is not None and node.alive():
                with contextlib.suppress(ProcessLookupError):
                    node.signal(signal.SIGCONT)
                    node.signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for node in [*self.controllers, *self.consoles]:
            if node.process is None:
                continue
            while node.alive() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if node.alive():
                node.process.kill()
            node.process.wait()
        await self.pbx.stop()
        await self.http.aclose()
        await self.engine.dispose()
        if self._tmp is not None:
            self._tmp.cleanup()

    # --- observation ---------------------------------------------------------------------

    async def health(self, node: Node, timeout: float = 2.0) -> dict[str, Any] | None:
        try:
            response = await self.http.get(node.url + "/healthz", timeout=timeout)
            body: dict[str, Any] = response.json()
            return body
        except (httpx.HTTPError, ValueError):
            return None

    async def wait_healthy(self, node: Node, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not node.alive():
                raise AssertionError(f"{node.name} exited:\n{node.log_tail()}")
            if await self.health(node) is not None:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{node.name} did not come up:\n{node.log_tail()}")

    async def roles(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for node in self.controllers:
            if not node.alive():
                continue
            body = await self.health(node, timeout=0.5)
            if body is not None:
                controller = body.get("controller", {})
                ami = body.get("ami", {})
                role = controller.get("role", "?")
                if role == "leader" and ami.get("status") != "ok":
                    role = "leader-connecting"
                found[node.name] = role
        return found

    def leader(self) -> Node | None:
        return self._leader

    async def refresh_leader(self) -> Node | None:
        roles = await self.roles()
        leaders = [n for n in self.controllers if roles.get(n.name) == "leader"]
        self._leader = leaders[0] if len(leaders) == 1 else None
        return self._leader

    async def wait_for(
        self, check: Callable[[], Any], timeout: float, what: str, every: float = 0.05
    ) -> float:
        """Seconds until `check` held (refreshing the leader view each round)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            await self.refresh_leader()
            if check():
                return time.monotonic() - started
            await asyncio.sleep(every)
        logs = "\n".join(f"== {n.name}\n{n.log_tail(25)}" for n in self.controllers)
        raise AssertionError(f"{what}: not within {timeout} s\n{logs}")

    # --- agents ----------------------------------------------------------------------------

    async def connect_agents(self) -> None:
        """Each demo agent logs in on a console process (round robin) and opens its socket."""
        for i, (username, interface) in enumerate(self.agents):
            node = self.consoles[i % len(self.consoles)] if self.consoles else self.controllers[0]
            sock = AgentSocket(username, interface, node)
            self.sockets.append(sock)
            sock.task = asyncio.create_task(self._agent_loop(sock))
        for sock in self.sockets:
            await self.wait_for(
                lambda s=sock: any(m.get("type") == "hello" for _, m in s.messages),  # type: ignore[misc]
                15,
                f"websocket of {sock.username}",
            )

    async def _agent_loop(self, sock: AgentSocket) -> None:
        while not self._stop_sockets.is_set():
            try:
                login = await self.http.post(
                    sock.node.url + "/api/login",
                    json={"username": sock.username, "password": DEMO_PASSWORD},
                )
                token = login.json()["token"]
                uri = f"ws://127.0.0.1:{sock.node.http_port}/ws/console?token={token}"
                async with websockets.connect(uri, open_timeout=5) as ws:
                    async for raw in ws:
                        sock.messages.append((time.monotonic(), json.loads(raw)))
            except asyncio.CancelledError:
                raise
            except Exception:
                sock.reconnects += 1
                await asyncio.sleep(0.3)

    # --- traffic ---------------------------------------------------------------------------

    async def place_calls(self, count: int, every: float, seed: int = 3) -> None:
        rng = random.Random(seed)
        for _ in range(count):
            plan = plan_call(rng, rng.choice(self.callers), STEADY_MIX)
            call = await place_planned_call(self.pbx, plan)
            self.calls.append(call)
            await asyncio.sleep(every)

    async def finish_calls(self, timeout: float = 60.0) -> None:
        done = await asyncio.wait_for(asyncio.gather(*(c.finished for c in self.calls)), timeout)
        self.results = {r.linkedid: r for r in done}

    # --- verdict ---------------------------------------------------------------------------

    async def store_counts(self) -> tuple[dict[str, int], dict[str, int], dict[str, Any]]:
        ids = [c.linkedid for c in self.calls]
        async with self.engine.connect() as conn:
            records = dict(
                (
                    await conn.execute(
                        text(
                            "SELECT call_id, count(*) FROM calls WHERE call_id = ANY(:ids)"
                            " GROUP BY call_id"
                        ),
                        {"ids": ids},
                    )
                ).all()
            )
            tickets = dict(
                (
                    await conn.execute(
                        # A call's tickets: the one it opened, or the open ticket of its
                        # site it joined as a repeat call (its record names that ticket).
                        text(
                            "SELECT c.call_id, count(t.number) FROM calls c JOIN tickets t"
                            " ON t.call_id = c.call_id"
                            " OR (t.number = c.ticket_number AND t.call_id <> c.call_id)"
                            " WHERE c.call_id = ANY(:ids) GROUP BY c.call_id"
                        ),
                        {"ids": ids},
                    )
                ).all()
            )
            outcomes = dict(
                (
                    await conn.execute(
                        text("SELECT call_id, outcome FROM calls WHERE call_id = ANY(:ids)"),
                        {"ids": ids},
                    )
                ).all()
            )
        return records, tickets, outcomes

    async def wait_store_complete(self, timeout: float = 20.0) -> None:
        """Until every call has its record and ticket (the leader's pipeline catches up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            records, tickets, _ = await self.store_counts()
            if len(records) == len(self.calls) and len(tickets) == len(self.calls):
                return
            await asyncio.sleep(0.2)

    def screen_pops(self) -> list[tuple[str, str, float]]:
        """(username, call_id, received at) of every screen_pop an agent received."""
        return [
            (sock.username, m["call_id"], at)
            for sock in self.sockets
            for at, m in sock.messages
            if m.get("type") == "screen_pop"
        ]

    async def check_end_state(self) -> dict[str, Any]:
        records, tickets, outcomes = await self.store_counts()
        ids = [c.linkedid for c in self.calls]
        missing_records = [i for i in ids if records.get(i, 0) == 0]
        missing_tickets = [i for i in ids if tickets.get(i, 0) == 0]
        duplicated = [i for i in ids if records.get(i, 0) > 1 or tickets.get(i, 0) > 1]
        by_user = {s.username: s.interface for s in self.sockets}
        wrong = [
            (user, call_id)
            for user, call_id, _ in self.screen_pops()
            if self.results[call_id].agent_interface != by_user[user]
        ]
        popped = {call_id for _, call_id, _ in self.screen_pops()}
        answered = [i for i in ids if self.results[i].outcome == "answered"]
        return {
            "calls": len(ids),
            "answered": len(answered),
            "missing_records": missing_records,
            "missing_tickets": missing_tickets,
            "duplicated": duplicated,
            "wrong_screen_pops": wrong,
            "answered_without_pop": [i for i in answered if i not in popped],
            "records_without_outcome": [i for i in ids if outcomes.get(i) is None],
        }
