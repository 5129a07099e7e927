"""Queue routing reaches the dialplan: the IVR asks the routing rules (special periods,
free assigned engineers) before it hands the caller back, and never waits on them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from calls.control import QueueMemberState, QueueSnapshot
from ivr.directory import DirectorySite, InMemorySiteDirectory, InMemorySurveySink, StaticIvrMode
from ivr.menu_file import load_menu
from ivr.server import IvrServer
from pbx.agi_client import CallerScript, agi_environment, run_agi_session
from routing.advice import IvrRoutingAdvisor
from routing.domain.levels import SlaPolicy
from routing.records import Engineer, SiteRecord, SiteTier
from routing.router import CallRouter

CALLER = "13800138000"


class OneSite:
    """The `SiteDirectory` slice the router reads: a water-resources site (flood season)
    whose assigned engineer sits at PJSIP/1004."""

    async def site_profile(self, site_code: str) -> SiteRecord:
        return SiteRecord(
            customer_id="C-HB-01",
            organisation="湖北省水利厅",
            site_code=site_code,
            site_name="视频会议中心",
            tier=SiteTier.PROVINCE,
            address="",
            distance_km=8.5,
            engineers=(Engineer(name="张浩", phone="13127162151", interface="PJSIP/1004"),),
            sector="water_resources",
        )


class Members:
    def __init__(self, free: bool) -> None:
        self.free = free
        self.asked: list[str | None] = []

    async def queue_status(self, queue: str | None = None) -> QueueSnapshot:
        self.asked.append(queue)
        return QueueSnapshot(
            (
                QueueMemberState(
                    queue="hotline-main",
                    name="dave",
                    interface="PJSIP/1004",
                    paused=False,
                    in_call=not self.free,
                    status=1 if self.free else 2,
                ),
            ),
            (),
        )


class Broken:
    async def advise(self, **_: object) -> Mapping[str, str]:
        raise RuntimeError("routing rules unavailable")


class Slow:
    async def advise(self, **_: object) -> Mapping[str, str]:
        await asyncio.sleep(60)
        return {}


async def run_ivr(server: IvrServer) -> dict[str, str]:
    assert server.port is not None
    env = agi_environment(
        script="ivr",
        host="127.0.0.1",
        port=server.port,
        channel="PJSIP/trunk-00000000",
        uniqueid="1795303935.0",
        caller_number=CALLER,
        caller_name="Site caller",
    )
    result = await run_agi_session(
        "127.0.0.1", server.port, script="ivr", env=env, caller=CallerScript(("1",)), variables={}
    )
    return result.variables


MakeServer = Callable[[object], Awaitable[IvrServer]]


@pytest.fixture
async def make_server(tmp_path: Path) -> AsyncIterator[MakeServer]:
    servers: list[IvrServer] = []

    async def make(router: object) -> IvrServer:
        server = IvrServer(
            load_menu(None),
            InMemorySiteDirectory([DirectorySite("234567", "视频会议中心", (CALLER,))]),
            StaticIvrMode(),
            InMemorySurveySink(),
            policy=SlaPolicy(),
            sounds_dir=tmp_path,
            port_timeout=0.5,
            router=router,  # type: ignore[arg-type]
        )
        await server.start("127.0.0.1", 0)
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


def in_flood_season() -> datetime:
    return datetime(2026, 7, 15, 10, 0, tzinfo=UTC)


async def test_flood_season_and_free_engineer_reach_the_channel(make_server: MakeServer) -> None:
    members = Members(free=True)
    router = CallRouter(OneSite(), SlaPolicy(), clock=in_flood_season)  # type: ignore[arg-type]
    server = await make_server(IvrRoutingAdvisor(router, members))  # type: ignore[arg-type]
    variables = await run_ivr(server)
    assert variables["HOTLINE_LEVEL"] == "1"
    assert int(variables["HOTLINE_PRIORITY"]) > SlaPolicy().queue_priority[1]  # type: ignore[index]
    assert variables["HOTLINE_PREFERRED"] == "PJSIP/1004"
    assert int(variables["HOTLINE_PREFERRED_TIMEOUT"]) > 0
    assert variables["HOTLINE_QUEUE"] == "hotline-main"  # the menu's decision stays
    assert members.asked == ["hotline-main"]


async def test_busy_engineer_is_not_waited_for(make_server: MakeServer) -> None:
    router = CallRouter(OneSite(), SlaPolicy(), clock=in_flood_season)  # type: ignore[arg-type]
    server = await make_server(IvrRoutingAdvisor(router, Members(free=False)))  # type: ignore[arg-type]
    variables = await run_ivr(server)
    assert variables.get("HOTLINE_PREFERRED", "") == ""


@pytest.mark.parametrize("advisor", [Broken(), Slow()], ids=["failing", "hanging"])
async def test_routing_failure_falls_back_to_level_priority(
    make_server: MakeServer, advisor: object
) -> None:
    server = await make_server(advisor)
    variables = await run_ivr(server)
    assert variables["HOTLINE_PRIORITY"] == str(SlaPolicy().queue_priority[1])  # type: ignore[index]
    assert variables["HOTLINE_IVR_RESULT"] == "ok"


class Hostile:
    """Routing advice that would turn Dial(${HOTLINE_PREFERRED},...) into something else."""

    def __init__(self, advice: Mapping[str, str]) -> None:
        self.advice = advice

    async def advise(self, **_: object) -> Mapping[str, str]:
        return self.advice


@pytest.mark.parametrize(
    "advice",
    [
        {"HOTLINE_PREFERRED": "PJSIP/1004,,U(steal^s^1)", "HOTLINE_PREFERRED_TIMEOUT": "15"},
        {"HOTLINE_PREFERRED": "PJSIP/1004", "HOTLINE_PREFERRED_TIMEOUT": "15,,G(x)"},
        {"HOTLINE_PREFERRED": "PJSIP/1004", "HOTLINE_PREFERRED_TIMEOUT": "86400"},
        {"HOTLINE_PREFERRED": "PJSIP/1004&DAHDI/g0/110", "HOTLINE_PREFERRED_TIMEOUT": "15"},
        {"HOTLINE_PREFERRED": "PJSIP/1004\r\nHOTLINE_QUEUE: x", "HOTLINE_PREFERRED_TIMEOUT": "1"},
        {"HOTLINE_PRIORITY": "９", "HOTLINE_PREFERRED": "", "HOTLINE_PREFERRED_TIMEOUT": "0"},
    ],
    ids=["dial-options", "timeout-options", "endless-ring", "trunk-line", "crlf", "wide-digit"],
)
async def test_hostile_advice_never_reaches_dial(
    make_server: MakeServer, advice: Mapping[str, str]
) -> None:
    server = await make_server(Hostile(advice))
    variables = await run_ivr(server)
    assert variables.get("HOTLINE_PREFERRED", "") == ""
    assert variables.get("HOTLINE_PREFERRED_TIMEOUT", "0") == "0"
    assert variables["HOTLINE_PRIORITY"] == str(SlaPolicy().queue_priority[1])  # type: ignore[index]
    assert variables["HOTLINE_QUEUE"] == "hotline-main"
    assert variables["HOTLINE_IVR_RESULT"] == "ok"


async def test_safe_advice_passes_through(make_server: MakeServer) -> None:
    advice = {
        "HOTLINE_PRIORITY": "12",
        "HOTLINE_PREFERRED": "PJSIP/1004&Local/1002@agents-local",
        "HOTLINE_PREFERRED_TIMEOUT": "20",
    }
    variables = await run_ivr(await make_server(Hostile(advice)))
    assert {k: variables[k] for k in advice} == advice


class SlowMembers(Members):
    """QueueStatus that takes a while, as it does with a hundred members."""

    async def queue_status(self, queue: str | None = None) -> QueueSnapshot:
        await asyncio.sleep(0.05)
        return await super().queue_status(queue)


class NoEngineerPhones(OneSite):
    async def site_profile(self, site_code: str) -> SiteRecord:
        record = await super().site_profile(site_code)
        return replace(record, engineers=(Engineer("张浩", "13127162151", None),))


async def test_a_flash_crowd_asks_queue_status_once() -> None:
    members = SlowMembers(free=True)
    advisor = IvrRoutingAdvisor(
        CallRouter(OneSite(), SlaPolicy(), clock=in_flood_season),  # type: ignore[arg-type]
        members,  # type: ignore[arg-type]
        members_ttl=5.0,
    )
    advice = await asyncio.gather(
        *(
            advisor.advise(call_ref=f"c{n}", site_code="234567", level=1, queue="hotline-main")
            for n in range(30)
        )
    )
    assert {a["HOTLINE_PREFERRED"] for a in advice} == {"PJSIP/1004"}
    assert members.asked == ["hotline-main"] and advisor.queue_status_asked == 1


async def test_queue_status_is_asked_again_after_the_ttl_and_after_a_failure() -> None:
    members = Members(free=True)
    advisor = IvrRoutingAdvisor(
        CallRouter(OneSite(), SlaPolicy(), clock=in_flood_season),  # type: ignore[arg-type]
        members,  # type: ignore[arg-type]
        members_ttl=0.05,
    )
    ask = {"call_ref": "c", "site_code": "234567", "level": 1, "queue": "hotline-main"}
    await advisor.advise(**ask)  # type: ignore[arg-type]
    await advisor.advise(**ask)  # type: ignore[arg-type]
    assert len(members.asked) == 1
    await asyncio.sleep(0.06)
    members.free = False
    assert (await advisor.advise(**ask))["HOTLINE_PREFERRED"] == ""  # type: ignore[arg-type]
    assert len(members.asked) == 2

    class Broken(Members):
        async def queue_status(self, queue: str | None = None) -> QueueSnapshot:
            raise ConnectionError("AMI down")

    failing = IvrRoutingAdvisor(
        CallRouter(OneSite(), SlaPolicy(), clock=in_flood_season),  # type: ignore[arg-type]
        Broken(free=True),  # type: ignore[arg-type]
    )
    advice = await failing.advise(**ask)  # type: ignore[arg-type]
    assert advice["HOTLINE_PREFERRED"] == "" and failing.queue_status_asked == 1
    await failing.advise(**ask)  # type: ignore[arg-type]
    assert failing.queue_status_asked == 2  # a failure is not cached


async def test_no_queue_status_for_sites_without_engineer_phones() -> None:
    members = Members(free=True)
    advisor = IvrRoutingAdvisor(
        CallRouter(NoEngineerPhones(), SlaPolicy(), clock=in_flood_season),  # type: ignore[arg-type]
        members,  # type: ignore[arg-type]
    )
    advice = await advisor.advise(call_ref="c", site_code="234567", level=2, queue="hotline-main")
    assert advice["HOTLINE_PREFERRED"] == "" and members.asked == []
    # Unknown caller: no site, no member view either.
    await advisor.advise(call_ref="d", site_code=None, level=None, queue="hotline-main")
    assert members.asked == []
