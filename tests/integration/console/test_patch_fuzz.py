"""Property: whatever JSON arrives at PATCH /api/tickets/{n}, the answer is 200 or a clear
422, never a 500, and a refused body changes nothing."""

from __future__ import annotations

import console_test_harness as h
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.domain.ticket_form import AGENT_FIELDS

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=300),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
names = st.sampled_from(
    sorted(AGENT_FIELDS) + ["note", "service_entry", "progress_note"]
) | st.text(max_size=12)
bodies = st.dictionaries(names, json_values, max_size=4)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=bodies)
async def test_any_json_body_is_200_or_422(
    world: h.World, client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    ticket = await world.tickets.get_by_call("1700000900.1")
    if ticket is None:
        ticket = await h.open_call_ticket(world, "1700000900.1")
    token = h.TOKENS.get("fuzz") or await h.token_for(client, "alice")
    h.TOKENS["fuzz"] = token
    before = await world.tickets.get(ticket.number)
    response = await client.patch(
        f"/api/tickets/{ticket.number}", json=body, headers=h.bearer(token)
    )
    assert response.status_code in (200, 422), (body, response.text)
    if response.status_code == 422:
        assert response.json()["detail"]
        assert await world.tickets.get(ticket.number) == before
