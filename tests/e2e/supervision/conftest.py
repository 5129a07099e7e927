"""The supervision router on the product's in-loop HTTP server, and headless Chromium."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from console.server import ConsoleServer

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"


class LiveServer:
    """`ConsoleServer` (what `hotline serve` runs) on a free port, as a context manager."""

    def __init__(self, app: FastAPI) -> None:
        self.server = ConsoleServer(app, host="127.0.0.1", port=0)

    @property
    def url(self) -> str:
        return self.server.url

    async def __aenter__(self) -> LiveServer:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop()
