from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ivr.directory import DirectorySite, InMemorySiteDirectory, InMemorySurveySink, StaticIvrMode
from ivr.menu_file import load_menu
from ivr.server import IvrServer
from pbx.agi_client import AgiSessionResult, CallerScript, agi_environment, run_agi_session
from routing.domain.levels import SlaPolicy

KNOWN = "+86 138 0013 8000"  # contact of site 234567 (stored as a national number)
SHARED = "010-6655-4433"  # contact of two sites


@dataclass
class Rig:
    server: IvrServer
    mode: StaticIvrMode
    surveys: InMemorySurveySink
    sounds: Path

    async def call(
        self,
        number: str,
        inputs: Iterable[str] = (),
        *,
        hangup_after: int | None = None,
        script: str = "ivr",
        variables: dict[str, str] | None = None,
        uniqueid: str = "1795303935.0",
    ) -> AgiSessionResult:
        assert self.server.port is not None
        env = agi_environment(
            script=script,
            host="127.0.0.1",
            port=self.server.port,
            channel="PJSIP/trunk-00000000",
            uniqueid=uniqueid,
            caller_number=number,
            caller_name="Site caller",
        )
        return await run_agi_session(
            "127.0.0.1",
            self.server.port,
            script=script,
            env=env,
            caller=CallerScript(tuple(inputs), hangup_after),
            variables=variables or {},
            idle_timeout=10,
        )

    def play(self, name: str) -> str:
        return f'STREAM FILE {self.sounds}/{name} ""'

    def ask(self, name: str, timeout: int, digits: int) -> str:
        return f"GET DATA {self.sounds}/{name} {timeout} {digits}"


def sets(**variables: str) -> list[str]:
    return [f'SET VARIABLE {k} "{v}"' for k, v in variables.items()]


def directory() -> InMemorySiteDirectory:
    return InMemorySiteDirectory(
        [
            DirectorySite("234567", "Water Bureau machine room", ("13800138000",)),
            DirectorySite("345678", "County meeting room A", (SHARED,)),
            DirectorySite("456789", "County meeting room B", ("+86 10 6655 4433",)),
        ]
    )


RigFactory = Callable[..., "AsyncIterator[Rig]"]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    mode = StaticIvrMode()
    surveys = InMemorySurveySink()
    server = IvrServer(
        load_menu(), directory(), mode, surveys, policy=SlaPolicy(), sounds_dir=tmp_path
    )
    await server.start("127.0.0.1", 0)
    yield Rig(server, mode, surveys, server.sounds_dir)
    await server.stop()
    assert server.failures == 0
