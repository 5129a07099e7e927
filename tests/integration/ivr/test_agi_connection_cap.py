"""FastAGI connections are capped: past the limit a connection is closed at once (the
dialplan then sees AGISTATUS=FAILURE), with one log line per episode."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from ivr.directory import InMemorySurveySink, StaticIvrMode
from ivr.menu_file import load_menu
from ivr.server import IvrServer
from routing.domain.levels import SlaPolicy
from routing.records import SiteMatch


class NoSites:
    async def match_caller(self, caller_number: str) -> SiteMatch:
        return SiteMatch.none()

    async def site_exists(self, site_code: str) -> bool:
        return False


async def _closed_at_once(port: int) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(0.5):
            return await reader.read(1) == b""
    except TimeoutError:
        return False  # still open: being served
    finally:
        writer.close()


async def test_connections_past_the_cap_are_refused_with_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = IvrServer(
        load_menu(),
        NoSites(),
        StaticIvrMode(),
        InMemorySurveySink(),
        policy=SlaPolicy(),
        sounds_dir=tmp_path,
        max_connections=2,
    )
    await server.start("127.0.0.1", 0)
    assert server.port is not None
    held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
    try:
        await asyncio.sleep(0.1)
        assert server.active_connections == 2
        with caplog.at_level(logging.WARNING, logger="ivr.server"):
            assert await _closed_at_once(server.port)
            assert await _closed_at_once(server.port)
        assert server.refused_connections == 2
        limit_lines = [r for r in caplog.records if "the limit" in r.getMessage()]
        assert len(limit_lines) == 1
        held[0][1].close()
        await asyncio.sleep(0.2)
        assert not await _closed_at_once(server.port)  # a slot is free again
    finally:
        for _, writer in held:
            writer.close()
        await server.stop()
