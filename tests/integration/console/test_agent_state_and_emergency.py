"""Agent ready/paused drives the PBX; emergency flip and backfill; health."""

from __future__ import annotations

import console_test_harness as h
import httpx
import pytest

from ami.errors import AmiActionError, AmiNotConnected


async def test_ready_pause_ready_logout_drive_the_queue(
    world: h.World, client: httpx.AsyncClient
) -> None:
    token = await h.token_for(client, "alice")
    auth = h.bearer(token)

    async def state(value: str) -> httpx.Response:
        return await client.post("/api/agent/state", json={"state": value}, headers=auth)

    assert (await state("ready")).json()["state"] == "ready"
    assert (await state("paused")).json()["state"] == "paused"
    assert (await state("ready")).json()["state"] == "ready"
    assert (await client.get("/api/me", headers=auth)).json()["agent_state"] == "ready"
    assert (await client.post("/api/logout", headers=auth)).status_code == 200
    assert world.pbx.actions == [
        ("add", "hotline-main", "PJSIP/1001", "alice"),
        ("pause", "PJSIP/1001", True),
        ("pause", "PJSIP/1001", False),
        ("remove", "hotline-main", "PJSIP/1001"),
    ]


async def test_member_left_over_from_before_is_reused(
    world: h.World, client: httpx.AsyncClient
) -> None:
    # The PBX still has alice (e.g. the controller restarted): "Already there" is not an error.
    await world.pbx.queue_add("hotline-main", "PJSIP/1001", member_name="alice")
    await world.pbx.queue_pause("PJSIP/1001", True)
    world.pbx.actions.clear()
    token = await h.token_for(client, "alice")
    response = await client.post(
        "/api/agent/state", json={"state": "ready"}, headers=h.bearer(token)
    )
    assert response.status_code == 200
    assert world.pbx.members["PJSIP/1001"].paused is False


@pytest.mark.parametrize(
    "failure",
    [AmiNotConnected("AMI link down"), AmiActionError("QueueAdd", "Unable to add interface")],
)
async def test_pbx_failure_is_a_502_not_a_silent_success(
    world: h.World, client: httpx.AsyncClient, failure: Exception
) -> None:
    token = await h.token_for(client, "alice")
    world.pbx.fail = failure  # type: ignore[assignment]
    response = await client.post(
        "/api/agent/state", json={"state": "ready"}, headers=h.bearer(token)
    )
    assert response.status_code == 502
    assert "PJSIP/1001" in response.json()["detail"]
    world.pbx.fail = None
    me = (await client.get("/api/me", headers=h.bearer(token))).json()
    assert me["agent_state"] == "logged_out"  # the console does not pretend


async def test_user_without_phone_gets_a_clear_409(
    world: h.World, client: httpx.AsyncClient
) -> None:
    token = await h.token_for(client, "root")
    response = await client.post(
        "/api/agent/state", json={"state": "ready"}, headers=h.bearer(token)
    )
    assert response.status_code == 409
    assert "no phone interface" in response.json()["detail"]
    assert world.pbx.actions == []


async def test_bad_state_is_422(world: h.World, client: httpx.AsyncClient) -> None:
    token = await h.token_for(client, "alice")
    for body in ({"state": "away"}, {"state": "ready\r\nAction: Logoff"}, {}):
        response = await client.post("/api/agent/state", json=body, headers=h.bearer(token))
        assert response.status_code == 422
    assert world.pbx.actions == []


async def test_emergency_flip_needs_a_reason(world: h.World, client: httpx.AsyncClient) -> None:
    token = await h.token_for(client, "sue")
    auth = h.bearer(token)
    for body in (
        {"active": True},
        {"active": True, "reason": "  "},
        {"active": True, "reason": "db down\r\nAction: Originate"},
        {"active": "yes", "reason": "db down"},
    ):
        response = await client.post("/api/emergency", json=body, headers=auth)
        assert response.status_code == 422, body
    assert world.desk.flips == []
    on = await client.post(
        "/api/emergency", json={"active": True, "reason": "database down"}, headers=auth
    )
    assert on.status_code == 200
    assert on.json()["active"] is True and on.json()["by"] == "sue"
    agent = await h.token_for(client, "alice")
    seen = (await client.get("/api/emergency", headers=h.bearer(agent))).json()
    assert seen["active"] is True and seen["reason"] == "database down"
    assert seen["since"].endswith("+00:00")


async def test_backfill_flow_creates_real_tickets(
    world: h.World, client: httpx.AsyncClient
) -> None:
    world.desk.add_call("P-0001", "1700000500.1", "13800138000")
    world.desk.add_call("P-0002", "1700000500.2", "13800138001")
    sup = h.bearer(await h.token_for(client, "sue"))
    agent = h.bearer(await h.token_for(client, "alice"))

    items = (await client.get("/api/backfill", headers=sup)).json()["items"]
    assert [i["paper_number"] for i in items] == ["P-0001", "P-0002"]
    assert items[0]["ticket_number"] is None and items[0]["waived"] is False

    blocked = await client.post("/api/emergency/close-backfill", headers=sup)
    assert blocked.status_code == 409

    made = await client.post(
        "/api/backfill/P-0001",
        json={
            "site_code": "4401001",
            "level": 1,
            "description": "MCU down <b>all</b> sites",
            "caller_number": "",
        },
        headers=agent,
    )
    assert made.status_code == 200, made.text
    number = made.json()["ticket_number"]
    ticket = await world.tickets.get(number)
    assert ticket is not None
    assert ticket.source.value == "backfill" and ticket.paper_number == "P-0001"
    assert ticket.call_id == "1700000500.1" and ticket.caller_number == "13800138000"

    again = await client.post(
        "/api/backfill/P-0001", json={"level": 1, "description": "twice"}, headers=agent
    )
    assert again.status_code == 409
    unknown = await client.post(
        "/api/backfill/P-9999", json={"level": 1, "description": "x"}, headers=agent
    )
    assert unknown.status_code == 404
    hostile = await client.post(
        "/api/backfill/P-0002",
        json={"level": 1, "description": "x", "site_code": "1 OR 1"},
        headers=agent,
    )
    assert hostile.status_code == 422
    bad_paper = await client.post(
        "/api/backfill/P%0d%0a1", json={"level": 1, "description": "x"}, headers=agent
    )
    assert bad_paper.status_code in (404, 422)

    waive = await client.post(
        "/api/backfill/P-0002/waive", json={"reason": "test call from the drill"}, headers=sup
    )
    assert waive.status_code == 200
    rec = (await client.get("/api/backfill/reconciliation", headers=sup)).json()
    assert rec["done"] is True and rec["calls_without_ticket"] == []
    closed = await client.post("/api/emergency/close-backfill", headers=sup)
    assert closed.status_code == 200 and closed.json()["state"] == "normal"


async def test_queue_snapshot_for_supervisors(world: h.World, client: httpx.AsyncClient) -> None:
    sup = h.bearer(await h.token_for(client, "sue"))
    snapshot = (await client.get("/api/queues", headers=sup)).json()
    assert snapshot["entries"][0]["caller_number"] == "13800138000"
    world.pbx.fail = AmiNotConnected("AMI link down")
    down = await client.get("/api/queues", headers=sup)
    assert down.status_code == 502


async def test_board_missing_is_503(world: h.World, client: httpx.AsyncClient) -> None:
    sup = h.bearer(await h.token_for(client, "sue"))
    assert (await client.get("/api/emergency/checks", headers=sup)).status_code == 503


async def test_healthz(world: h.World, client: httpx.AsyncClient) -> None:
    ok = (await client.get("/healthz")).json()
    assert ok["status"] == "ok"
    assert ok["ami"] == "ok" and ok["database"] == "ok" and ok["redis"] == "in_process"
    world.health_state["database"] = {"status": "down", "error": "connection refused"}
    degraded = (await client.get("/healthz")).json()
    assert degraded["status"] == "degraded"
    assert degraded["components"]["database"]["error"] == "connection refused"


async def test_openapi_lists_the_interface(world: h.World, client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/tickets",
        "/api/tickets/{number}",
        "/api/calls",
        "/api/agent/state",
        "/api/emergency",
        "/api/backfill",
        "/api/backfill/{paper_number}",
        "/api/login",
        "/healthz",
    ):
        assert path in paths
    assert "patch" in paths["/api/tickets/{number}"]


async def test_pause_after_a_restart_pauses_the_member_the_pbx_still_has(
    world: h.World, client: httpx.AsyncClient
) -> None:
    # The controller restarted while alice was ready: the PBX still has her, unpaused.
    await world.pbx.queue_add("hotline-main", "PJSIP/1001", member_name="alice")
    world.pbx.actions.clear()
    token = await h.token_for(client, "alice")
    response = await client.post(
        "/api/agent/state", json={"state": "paused"}, headers=h.bearer(token)
    )
    assert response.json()["state"] == "paused"
    assert world.pbx.actions == [("pause", "PJSIP/1001", True)]
    assert world.pbx.members["PJSIP/1001"].paused is True


async def test_logout_after_a_restart_removes_the_member(
    world: h.World, client: httpx.AsyncClient
) -> None:
    await world.pbx.queue_add("hotline-main", "PJSIP/1001", member_name="alice")
    world.pbx.actions.clear()
    token = await h.token_for(client, "alice")
    assert (await client.post("/api/logout", headers=h.bearer(token))).status_code == 200
    assert world.pbx.actions == [("remove", "hotline-main", "PJSIP/1001")]
    assert "PJSIP/1001" not in world.pbx.members


async def test_logout_reports_a_pbx_failure_but_still_ends_the_session(
    world: h.World, client: httpx.AsyncClient
) -> None:
    token = await h.token_for(client, "alice")
    world.pbx.fail = AmiNotConnected("AMI link down")
    response = await client.post("/api/logout", headers=h.bearer(token))
    assert response.status_code == 502
    assert response.json()["logged_out"] is True
    assert "AMI link down" in response.json()["detail"]
    world.pbx.fail = None
    assert (await client.get("/api/me", headers=h.bearer(token))).status_code == 401


async def test_me_reads_the_state_back_from_the_pbx(
    world: h.World, client: httpx.AsyncClient
) -> None:
    await world.pbx.queue_add("hotline-main", "PJSIP/1001", member_name="alice")
    await world.pbx.queue_pause("PJSIP/1001", True)
    token = await h.token_for(client, "alice")
    me = (await client.get("/api/me", headers=h.bearer(token))).json()
    assert me["agent_state"] == "paused"
    world.pbx.fail = AmiNotConnected("AMI link down")
    bob = await h.token_for(client, "bob")
    me_bob = await client.get("/api/me", headers=h.bearer(bob))
    assert me_bob.status_code == 200 and me_bob.json()["agent_state"] == "logged_out"
