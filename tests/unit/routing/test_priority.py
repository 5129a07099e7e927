from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from calls.control import QueueMemberState, QueueSnapshot
from routing.domain.levels import FaultLevel, SlaPolicy
from routing.domain.priority import (
    dialable,
    flood_season,
    preferred_dial,
    queue_priority,
    route_call,
    special_periods_at,
)
from routing.errors import StoreUnavailable
from routing.records import (
    Engineer,
    MatchKind,
    SiteMatch,
    SiteRecord,
    SiteSummary,
    SiteTier,
    SpecialPeriod,
)
from routing.router import CallRouter, available_members

JULY = datetime(2026, 7, 15, 10, 0, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def site(sector: str = "", periods: tuple[SpecialPeriod, ...] = (), **kw: object) -> SiteRecord:
    values: dict[str, object] = dict(
        customer_id="C-HB-01",
        organisation="湖北省水利厅",
        site_code="234567",
        site_name="视频会议中心",
        tier=SiteTier.PROVINCE,
        address="",
        distance_km=8.5,
        sector=sector,
        special_periods=periods,
        engineers=(Engineer("王工", "", "PJSIP/1001"), Engineer("李工", "", None)),
    )
    values.update(kw)
    return SiteRecord(**values)  # type: ignore[arg-type]


def test_flood_season_is_may_to_october() -> None:
    season = flood_season(2026)
    assert season.covers(datetime(2026, 5, 1, tzinfo=UTC))
    assert season.covers(datetime(2026, 10, 31, 23, 59, tzinfo=UTC))
    assert not season.covers(datetime(2026, 11, 1, tzinfo=UTC))
    assert not season.covers(datetime(2026, 4, 30, 23, 59, tzinfo=UTC))
    assert special_periods_at("water_resources", (), JULY)[0].kind == "flood_season"
    assert special_periods_at("water_resources", (), NOVEMBER) == ()
    assert special_periods_at("government", (), JULY) == ()


@pytest.mark.parametrize(
    ("level", "active", "expected"),
    [
        (FaultLevel.P1, False, 10),
        (FaultLevel.P2, False, 7),
        (FaultLevel.P3, False, 4),
        (FaultLevel.P4, False, 1),
        (None, False, 7),
        (FaultLevel.P1, True, 12),
        (FaultLevel.P2, True, 9),
        (FaultLevel.P3, True, 6),
        (FaultLevel.P4, True, 3),
    ],
)
def test_priority_table(level: FaultLevel | None, active: bool, expected: int) -> None:
    periods = [flood_season(2026)] if active else []
    assert queue_priority(SlaPolicy(), level, periods) == expected


def test_special_period_never_overtakes_the_next_level() -> None:
    policy = SlaPolicy()
    raised = queue_priority(policy, FaultLevel.P2, [flood_season(2026)])
    assert raised < queue_priority(policy, FaultLevel.P1, [])


def test_guard_window_and_flood_season_raise_priority() -> None:
    guard = SpecialPeriod(
        "guard", "重要会议", NOVEMBER - timedelta(hours=1), NOVEMBER + timedelta(hours=3)
    )
    policy = SlaPolicy()
    d = route_call(policy, level=FaultLevel.P3, at=NOVEMBER, site=site(periods=(guard,)), queue="q")
    assert d.priority == 6 and "guard" in d.reasons[0]
    after = route_call(
        policy,
        level=FaultLevel.P3,
        at=NOVEMBER + timedelta(hours=4),
        site=site(periods=(guard,)),
        queue="q",
    )
    assert after.priority == 4
    flood = route_call(
        policy, level=FaultLevel.P3, at=JULY, site=site("water_resources"), queue="q"
    )
    assert flood.priority == 6
    assert route_call(policy, level=FaultLevel.P3, at=JULY, site=None, queue="q").priority == 4


def test_preferred_engineer_only_when_free() -> None:
    policy = SlaPolicy()
    free = route_call(
        policy,
        level=FaultLevel.P2,
        at=NOVEMBER,
        site=site(),
        queue="hotline-main",
        available_members={"PJSIP/1001": True, "PJSIP/1002": True},
    )
    assert free.preferred_members == ("PJSIP/1001",) and free.preferred_ring_seconds == 15
    assert free.channel_variables() == {
        "HOTLINE_QUEUE": "hotline-main",
        "HOTLINE_PRIORITY": "7",
        "HOTLINE_PREFERRED": "PJSIP/1001",
        "HOTLINE_PREFERRED_TIMEOUT": "15",
    }
    busy = route_call(
        policy,
        level=FaultLevel.P2,
        at=NOVEMBER,
        site=site(),
        queue="hotline-main",
        available_members={"PJSIP/1001": False},
    )
    assert busy.preferred_members == () and busy.preferred_ring_seconds == 0
    assert busy.channel_variables()["HOTLINE_PREFERRED"] == ""


def test_preferred_ring_seconds_zero_turns_the_preference_off() -> None:
    decision = route_call(
        SlaPolicy(),
        level=FaultLevel.P2,
        at=NOVEMBER,
        site=site(),
        queue="hotline-main",
        available_members={"PJSIP/1001": True},
        preferred_ring_seconds=0,
    )
    assert decision.preferred_members == ()
    assert decision.channel_variables()["HOTLINE_PREFERRED"] == ""


@pytest.mark.parametrize(
    "interface",
    ["PJSIP/1001", "Local/1001@agents-local", "SIP/agent_7", "IAX2/desk.1", "PJSIP/+8613800138000"],
)
def test_dialable_interfaces(interface: str) -> None:
    assert dialable(interface)


@pytest.mark.parametrize(
    "interface",
    [
        "PJSIP/1001,,U(evil)",  # Dial options smuggled in through the variable
        "PJSIP/1001&PJSIP/1002",  # a second destination inside one entry
        "PJSIP/1001)",
        "PJSIP/${EXTEN}",
        "PJSIP/1001 ",
        "Console/dsp",
        "PJSIP/",
        "pjsip/1001",
        "PJSIP/1001|x",
        "PJSIP/" + "1" * 65,
    ],
)
def test_undialable_interfaces(interface: str) -> None:
    assert not dialable(interface)


def test_engineers_with_undialable_interfaces_are_not_preferred() -> None:
    record = site(
        engineers=(
            Engineer(name="bad", phone="", interface="PJSIP/1001,,G(x)"),
            Engineer(name="good", phone="", interface="PJSIP/1002"),
            Engineer(name="good again", phone="", interface="PJSIP/1002"),
        )
    )
    decision = route_call(
        SlaPolicy(),
        level=FaultLevel.P1,
        at=NOVEMBER,
        site=record,
        queue="hotline-main",
        available_members={"PJSIP/1001,,G(x)": True, "PJSIP/1002": True},
    )
    assert decision.preferred_members == ("PJSIP/1002",)


@pytest.mark.parametrize(
    ("preferred", "seconds", "expected"),
    [
        ("PJSIP/1001", "15", ("PJSIP/1001", "15")),
        ("PJSIP/1001&Local/1002@agents-local", "60", ("PJSIP/1001&Local/1002@agents-local", "60")),
        ("", "15", ("", "")),
        ("PJSIP/1001", "0", ("", "")),
        ("PJSIP/1001", "61", ("", "")),
        ("PJSIP/1001", "15,g", ("", "")),
        ("PJSIP/1001", "１５", ("", "")),  # full-width digits: isdigit() but not for Asterisk
        ("PJSIP/1001,,U(x)", "15", ("", "")),
        ("PJSIP/1001&&PJSIP/1002", "15", ("", "")),
        ("&".join(f"PJSIP/10{n:02d}" for n in range(9)), "15", ("", "")),
    ],
)
def test_preferred_dial_refuses_what_dial_must_not_see(
    preferred: str, seconds: str, expected: tuple[str, str]
) -> None:
    assert preferred_dial(preferred, seconds) == expected


def test_available_members_from_queue_status() -> None:
    snapshot = QueueSnapshot(
        members=(
            QueueMemberState("hotline-main", "a", "PJSIP/1001", False, False, 1),
            QueueMemberState("hotline-main", "b", "PJSIP/1002", True, False, 1),
            QueueMemberState("hotline-main", "c", "PJSIP/1003", False, True, 2),
            QueueMemberState("hotline-emergency", "d", "PJSIP/1004", False, False, 1),
        ),
        entries=(),
    )
    assert available_members(snapshot, "hotline-main") == {
        "PJSIP/1001": True,
        "PJSIP/1002": False,
        "PJSIP/1003": False,
    }


class FakeSites:
    def __init__(self, record: SiteRecord | None, fail: bool = False) -> None:
        self.record, self.fail = record, fail

    async def site_record(self, site_code: str, *, at: datetime | None = None) -> SiteRecord | None:
        if self.fail:
            raise StoreUnavailable("down")
        return self.record if self.record and site_code == self.record.site_code else None

    async def site_profile(self, site_code: str) -> SiteRecord | None:
        return await self.site_record(site_code)

    async def search(self, text: str, *, limit: int = 20) -> Sequence[SiteSummary]:
        return []

    async def match_caller(self, number: str) -> SiteMatch:
        return SiteMatch(MatchKind.NONE, "")

    async def site_exists(self, site_code: str) -> bool:
        return False


async def test_router_uses_the_site_record() -> None:
    router = CallRouter(FakeSites(site("water_resources")), SlaPolicy(), clock=lambda: JULY)
    decision = await router.decide(site_code="234567", level=1, members={"PJSIP/1001": True})
    assert decision.priority == 12 and decision.preferred_members == ("PJSIP/1001",)
    unknown = await router.decide(site_code="unidentified", level=None)
    assert (unknown.priority, unknown.queue) == (7, "hotline-main")


async def test_router_never_holds_a_call_on_a_directory_failure() -> None:
    router = CallRouter(FakeSites(site(), fail=True), SlaPolicy(), clock=lambda: JULY)
    decision = await router.decide(site_code="234567", level=1, members={"PJSIP/1001": True})
    assert decision.priority == 10 and decision.preferred_members == ()


@pytest.mark.parametrize(
    ("queue", "preferred", "asked"),
    [
        (None, ("PJSIP/1001",), 1),  # the router's main queue
        ("hotline-main", ("PJSIP/1001",), 1),
        ("hotline-emergency", (), 0),
        ("hotline-overflow", (), 0),
    ],
)
async def test_engineers_are_preferred_only_for_the_main_queue(
    queue: str | None, preferred: tuple[str, ...], asked: int
) -> None:
    """The emergency pool (or any other queue) takes calls in turn; its priority is the
    same as the main queue's, special periods included."""
    router = CallRouter(FakeSites(site("water_resources")), SlaPolicy(), clock=lambda: JULY)
    calls: list[None] = []

    async def members_of() -> dict[str, bool]:
        calls.append(None)
        return {"PJSIP/1001": True}

    by_view = await router.decide(site_code="234567", level=1, queue=queue, members_of=members_of)
    given = await router.decide(
        site_code="234567", level=1, queue=queue, members={"PJSIP/1001": True}
    )
    for decision in (by_view, given):
        assert decision.preferred_members == preferred
        assert decision.preferred_ring_seconds == (15 if preferred else 0)
        assert decision.priority == 12
        assert decision.queue == (queue or "hotline-main")
    assert len(calls) == asked  # no QueueStatus for a call nobody is rung ahead for
