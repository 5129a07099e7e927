"""ConsoleServer: the in-loop HTTP server `hotline serve` runs."""

from __future__ import annotations

import console_test_harness as h
import httpx
import pytest

from console.server import ConsoleServer, ConsoleServerError


async def test_start_serve_stop(world: h.World) -> None:
    server = ConsoleServer(world.app(), host="127.0.0.1", port=0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.get("/healthz")
            assert response.status_code == 200 and response.json()["status"] == "ok"
            assert "server" not in response.headers  # no version banner
    finally:
        await server.stop()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=server.url) as client:
            await client.get("/healthz")


async def test_port_in_use_is_one_clear_error(world: h.World) -> None:
    first = ConsoleServer(world.app(), host="127.0.0.1", port=0)
    await first.start()
    try:
        second = ConsoleServer(world.app(), host="127.0.0.1", port=first.port)
        with pytest.raises(ConsoleServerError, match=f"cannot listen on 127.0.0.1:{first.port}"):
            await second.start()
    finally:
        await first.stop()
