"""`PbxStandIn`: the loopback Asterisk 22 stand-in used by `hotline demo`, tests and benches.

It speaks real AMI over TCP (see `pbx.ami_server`) and drives our FastAGI IVR through
`pbx.agi_client`, so the controller cannot tell it from a real Asterisk for everything the
hotline uses.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pbx.agi_client import CallerScript
from pbx.ami_server import AmiServer
from pbx.cdr import CdrWriter
from pbx.clock import SimClock
from pbx.errors import PbxNotRunning
from pbx.simulation import (
    AgiRunner,
    QueueCaller,
    SimAgent,
    SimCall,
    SimChannel,
    SimMember,
    Simulation,
)

log = logging.getLogger(__name__)


class PbxStandIn:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        ami_port: int = 0,
        username: str = "hotline",
        secret: str = "hotline-secret",
        agi_host: str = "127.0.0.1",
        agi_port: int = 4573,
        speed: float = 1.0,
        auth_failure_delay: float = 1.0,
        seed: int = 0,
        prompt_seconds: float = 1.0,
        agi_runner: AgiRunner | None = None,
        read: str = "all",
        cdr_db_url: str | None = None,
        recordings_dir: Path | None = None,
    ) -> None:
        """`read` is the AMI user's manager.conf read classes: "all" (as in the recordings)
        or e.g. "system,call,agent,user,dialplan,reporting" (asterisk-conf's user, which
        gets no dtmf, agi or security events). `cdr_db_url`: write each call's CDR rows
        into that database's `pbx_cdr`, as cdr_pgsql does (pbx.cdr). `recordings_dir`: the
        directory the dialplan's MixMonitor writes call recordings to (the PBX's
        `${HOTLINE_RECORDINGS}`); None: recordings are started but no file is written."""
        self.clock = SimClock(speed)
        self.sim = Simulation(
            clock=self.clock,
            agi_host=agi_host,
            agi_port=agi_port,
            seed=seed,
            agi_runner=agi_runner,
            prompt_seconds=prompt_seconds,
            recordings_dir=recordings_dir,
        )
        self._ami = AmiServer(
            self.sim,
            host=host,
            port=ami_port,
            username=username,
            secret=secret,
            auth_failure_delay=auth_failure_delay,
            read=read,
        )
        self.host = host
        self._running = False
        self.cdr: CdrWriter | None = None
        if cdr_db_url is not None:
            self.cdr = CdrWriter(cdr_db_url)
            self.sim.on_call_finished(self.cdr.record)

    # ---------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        await self._ami.start()
        self._running = True

    async def stop(self) -> None:
        self._running = False
        await self.sim.stop()
        await self._ami.stop()
        if self.cdr is not None:
            await self.cdr.close()

    async def __aenter__(self) -> PbxStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def ami_port(self) -> int:
        return self._ami.port

    # ---------------------------------------------------------------- configuration
    def set_agi_target(self, host: str, port: int) -> None:
        self.sim.agi_host = host
        self.sim.agi_port = port

    def add_agent(
        self,
        interface: str,
        *,
        answer_after: float | None = 1.0,
        talk_time: float | None = None,
        member_name: str | None = None,
    ) -> SimAgent:
        """Describe how the phone behind `interface` behaves; it joins a queue only when a
        client sends QueueAdd (or through `add_static_member`)."""
        return self.sim.add_agent(
            interface, answer_after=answer_after, talk_time=talk_time, member_name=member_name
        )

    def add_static_member(
        self, queue: str, interface: str, *, member_name: str | None = None, paused: bool = False
    ) -> SimMember:
        agent = self.sim.agents.get(interface)
        name = member_name or (agent.member_name if agent is not None else None) or interface
        return self.sim.queue_add(queue, interface, member_name=name, paused=paused)

    # ---------------------------------------------------------------- calls
    async def place_call(
        self,
        caller_number: str,
        caller_name: str = "",
        *,
        script: CallerScript | None = None,
        survey: CallerScript | None = None,
        patience: float = 300.0,
        talk_time: float = 30.0,
        dialled: str = "4000",
    ) -> SimCall:
        """Start an inbound call now; `await call.finished` gives its `CallResult`."""
        if not self._running:
            raise PbxNotRunning("start() the stand-in first")
        return self.sim.place_call(
            caller_number,
            caller_name,
            script=script,
            survey=survey,
            patience=patience,
            talk_time=talk_time,
            dialled=dialled,
        )

    # ---------------------------------------------------------------- faults
    async def cut_ami_clients(self) -> None:
        """Abort every AMI connection with a TCP RST while calls go on."""
        self._ami.cut_clients()

    def freeze_ami(self, frozen: bool) -> None:
        """A hung peer: sockets stay open but nothing is read, answered or sent."""
        self._ami.freeze(frozen)

    @property
    def ami_clients(self) -> int:
        return len(self._ami.sessions)

    # ---------------------------------------------------------------- introspection
    def queue_entries(self, queue: str) -> list[QueueCaller]:
        return self.sim.queue_entries(queue)

    def channels(self) -> list[SimChannel]:
        return list(self.sim.channels.values())

    @property
    def astdb(self) -> dict[str, str]:
        """AstDB as `{"family/key": value}` (e.g. `astdb["hotline/mode"]`)."""
        return self.sim.astdb

    def queue_members(self, queue: str) -> list[SimMember]:
        q = self.sim.queues.get(queue)
        return list(q.members.values()) if q is not None else []
