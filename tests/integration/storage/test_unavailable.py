"""A database that stops answering must fail calls quickly with StoreUnavailable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from routing.errors import StoreUnavailable
from storage.database import Database
from storage.sites import SiteRepository
from storage.tickets import TicketRepository


@pytest.fixture
async def black_hole() -> AsyncIterator[int]:
    """Accepts TCP connections and never says a word (a hung PostgreSQL)."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_hung_postgres_gives_store_unavailable(black_hole: int) -> None:
    db = Database(f"postgresql://postgres@127.0.0.1:{black_hole}/x", connect_timeout=0.3)
    try:
        async with asyncio.timeout(10):  # bounded: never the TCP timeout
            with pytest.raises(StoreUnavailable):
                await TicketRepository(db).get("HL-20261121-0001")
            with pytest.raises(StoreUnavailable):
                await SiteRepository(db).match_caller("13800138000")
            with pytest.raises(StoreUnavailable):
                await db.ping()
            with pytest.raises(StoreUnavailable):
                await db.probe()
    finally:
        await db.dispose()


async def test_refused_connection_gives_store_unavailable() -> None:
    db = Database("postgresql://postgres@127.0.0.1:1/x")
    try:
        with pytest.raises(StoreUnavailable):
            await TicketRepository(db).get_by_call("1795304030.13")
    finally:
        await db.dispose()
