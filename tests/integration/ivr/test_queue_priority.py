"""One owner and one rule for the queue priority the dialplan gets (HOTLINE_PRIORITY,
copied to QUEUE_PRIO).

Routing decides it for every call; the menu has no say. For a given caller and level the
priority is the same in normal and in emergency mode, whether the router answers, fails,
hangs or is absent: without an answer it is routing's level rule, where an unknown level
(operator, or no key pressed) counts as P2. Each call runs over real TCP, once per mode,
under the default SLA policy and under a configured one (so no fixed table can pass).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from calls.control import QueueMemberState, QueueSnapshot
from ivr.directory import DirectorySite, InMemorySiteDirectory, InMemorySurveySink, StaticIvrMode
from ivr.menu_file import load_menu
from ivr.server import IvrServer, IvrServerError
from pbx.agi_client import CallerScript, agi_environment, run_agi_session
from routing.advice import IvrRoutingAdvisor
from routing.domain.levels import SlaPolicy
from routing.records import Engineer, SiteRecord, SiteTier
from routing.router import CallRouter

KNOWN = "13800138000"  # site 234567, a water-resources site: flood season in July
UNKNOWN = "13900000000"
ENGINEER = "PJSIP/1004"
FLOOD_SEASON_BOOST = 2  # the router's default raise for a site in a special period

# Policy → HOTLINE_PRIORITY by level ("" = operator / no level: P2's).
POLICIES: dict[str, tuple[SlaPolicy, dict[str, int]]] = {
    "default": (SlaPolicy(), {"1": 10, "2": 7, "3": 4, "4": 1, "": 7}),
    "configured": (
        SlaPolicy.from_mapping({"queue_priority": {"1": 30, "2": 20, "3": 12, "4": 6}}),
        {"1": 30, "2": 20, "3": 12, "4": 6, "": 20},
    ),
}
ROUTERS = ["answers", "fails", "hangs", "absent"]


class Mode(StaticIvrMode):
    """Normal or emergency mode; `flip` turns emergency mode on once the call has started."""

    flip = False

    def emergency_active(self) -> bool:
        active = self.emergency
        if self.flip:
            self.emergency, self.flip = True, False
        return active


class WaterSite:
    """The router's site directory: every site is a water-resources one with an engineer."""

    async def site_profile(self, site_code: str) -> SiteRecord:
        return SiteRecord(
            customer_id="C-HB-01",
            organisation="湖北省水利厅",
            site_code=site_code,
            site_name="视频会议中心",
            tier=SiteTier.PROVINCE,
            address="",
            distance_km=8.5,
            engineers=(Engineer(name="张浩", phone="13127162151", interface=ENGINEER),),
            sector="water_resources",
        )


class FreeEngineer:
    """QueueStatus: the site's engineer is logged in and idle in the main queue."""

    def __init__(self) -> None:
        self.asked: list[str | None] = []

    async def queue_status(self, queue: str | None = None) -> QueueSnapshot:
        self.asked.append(queue)
        member = QueueMemberState("hotline-main", "dave", ENGINEER, False, False, 1)
        return QueueSnapshot((member,), ())


class Router:
    """The IVR's routing port over the real router, recording what it was asked;
    `behaviour` says whether it answers, fails or hangs."""

    def __init__(self, behaviour: str, policy: SlaPolicy, members: FreeEngineer) -> None:
        self.behaviour = behaviour
        self.asked: list[tuple[str | None, int | None, str]] = []
        in_july = datetime(2026, 7, 15, tzinfo=UTC)
        router = CallRouter(WaterSite(), policy, clock=lambda: in_july)  # type: ignore[arg-type]
        self.advisor = IvrRoutingAdvisor(router, members)  # type: ignore[arg-type]

    async def advise(
        self, *, call_ref: str, site_code: str | None, level: int | None, queue: str
    ) -> Mapping[str, str]:
        self.asked.append((site_code, level, queue))
        if self.behaviour == "fails":
            raise RuntimeError("routing rules unavailable")
        if self.behaviour == "hangs":
            await asyncio.Event().wait()
        return await self.advisor.advise(
            call_ref=call_ref, site_code=site_code, level=level, queue=queue
        )


@dataclass
class Rig:
    server: IvrServer
    mode: Mode
    router: Router | None
    members: FreeEngineer

    async def call(self, number: str, keys: tuple[str, ...], *, emergency: bool) -> dict[str, str]:
        self.mode.emergency = emergency
        assert self.server.port is not None
        env = agi_environment(
            script="ivr",
            host="127.0.0.1",
            port=self.server.port,
            channel="PJSIP/trunk-00000000",
            uniqueid="1795303935.0",
            caller_number=number,
            caller_name="Site caller",
        )
        result = await run_agi_session(
            "127.0.0.1",
            self.server.port,
            script="ivr",
            env=env,
            caller=CallerScript(keys),
            variables={},
        )
        assert result.error is None
        return result.variables


MakeRig = Callable[[str, SlaPolicy], Awaitable[Rig]]


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[MakeRig]:
    servers: list[IvrServer] = []

    async def make(behaviour: str, policy: SlaPolicy) -> Rig:
        members = FreeEngineer()
        router = None if behaviour == "absent" else Router(behaviour, policy, members)
        mode = Mode()
        server = IvrServer(
            load_menu(),
            InMemorySiteDirectory([DirectorySite("234567", "视频会议中心", (KNOWN,))]),
            mode,
            InMemorySurveySink(),
            policy=policy,
            sounds_dir=tmp_path,
            port_timeout=0.2,
            router=router,
        )
        await server.start("127.0.0.1", 0)
        servers.append(server)
        return Rig(server, mode, router, members)

    yield make
    for server in servers:
        await server.stop()
        assert server.failures == 0


@pytest.mark.parametrize("policy", list(POLICIES))
@pytest.mark.parametrize("behaviour", ROUTERS)
@pytest.mark.parametrize(
    ("number", "keys", "site", "level"),
    [
        pytest.param(KNOWN, ("1",), "234567", "1", id="P1"),
        pytest.param(KNOWN, ("2",), "234567", "2", id="P2"),
        pytest.param(KNOWN, ("3",), "234567", "3", id="P3"),
        pytest.param(KNOWN, ("4",), "234567", "4", id="P4"),
        pytest.param(KNOWN, ("0",), "234567", "", id="operator"),
        pytest.param(UNKNOWN, ("", "", "", "1"), "", "1", id="unidentified-P1"),
        pytest.param(UNKNOWN, ("", "", "", "2"), "", "2", id="unidentified-P2"),
        pytest.param(UNKNOWN, ("", "", "", "0"), "", "", id="unidentified-operator"),
    ],
)
async def test_the_priority_is_the_same_in_normal_and_emergency_mode(
    make_rig: MakeRig,
    policy: str,
    behaviour: str,
    number: str,
    keys: tuple[str, ...],
    site: str,
    level: str,
) -> None:
    sla, by_level = POLICIES[policy]
    rig = await make_rig(behaviour, sla)

    normal = await rig.call(number, keys, emergency=False)
    emergency = await rig.call(number, keys, emergency=True)

    expected = by_level[level]
    if behaviour == "answers" and site:  # the router knows the site is in flood season
        expected += FLOOD_SEASON_BOOST
    assert (normal["HOTLINE_PRIORITY"], emergency["HOTLINE_PRIORITY"]) == (
        str(expected),
        str(expected),
    )
    for variables, queue in ((normal, "hotline-main"), (emergency, "hotline-emergency")):
        assert (variables["HOTLINE_SITE"], variables["HOTLINE_LEVEL"]) == (site, level)
        assert variables["HOTLINE_QUEUE"] == queue
    if rig.router is not None:
        # Asked for every call, emergency mode included.
        asked = (site or None, int(level) if level else None)
        assert rig.router.asked == [(*asked, "hotline-main"), (*asked, "hotline-emergency")]


async def test_an_engineer_is_preferred_in_normal_mode_only(make_rig: MakeRig) -> None:
    rig = await make_rig("answers", SlaPolicy())
    normal = await rig.call(KNOWN, ("1",), emergency=False)
    emergency = await rig.call(KNOWN, ("1",), emergency=True)
    assert (normal["HOTLINE_PREFERRED"], normal["HOTLINE_PREFERRED_TIMEOUT"]) == (ENGINEER, "15")
    assert (emergency["HOTLINE_PREFERRED"], emergency["HOTLINE_PREFERRED_TIMEOUT"]) == ("", "0")
    assert rig.members.asked == ["hotline-main"]  # no QueueStatus for the emergency pool


@pytest.mark.parametrize("behaviour", ROUTERS)
async def test_the_mode_flipping_during_the_menu_keeps_the_priority(
    make_rig: MakeRig, behaviour: str
) -> None:
    """The caller is queued where calls go when the menu ends, with the same priority."""
    rig = await make_rig(behaviour, SlaPolicy())
    rig.mode.flip = True
    variables = await rig.call(UNKNOWN, ("", "", "", "0"), emergency=False)
    assert variables["HOTLINE_QUEUE"] == "hotline-emergency"
    assert variables["HOTLINE_PRIORITY"] == "7"
    if rig.router is not None:
        assert rig.router.asked == [(None, None, "hotline-emergency")]


def test_a_policy_without_a_priority_for_every_level_is_refused(tmp_path: Path) -> None:
    """The level rule is the fallback for every call, so it must answer for every level."""
    partial = SlaPolicy(queue_priority={})
    with pytest.raises(IvrServerError, match="queue priority"):
        IvrServer(
            load_menu(),
            InMemorySiteDirectory([]),
            Mode(),
            InMemorySurveySink(),
            policy=partial,
            sounds_dir=tmp_path,
        )
