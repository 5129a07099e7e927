"""Access checks that let every request in, for tests of routes whose access is not what
they test (`supervision.web.SupervisionWebDeps` requires its checks to be named)."""

from __future__ import annotations

from fastapi import WebSocket


def anyone() -> None:
    """A FastAPI dependency that refuses nobody."""
    return None


async def any_websocket(websocket: WebSocket) -> bool:
    """A websocket check that lets every handshake through."""
    return True
