"""The write probe's table (`fallback.ports.ProbeTable`): `health_probe`, one row per
node, made by Alembic migration 0002."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


class HealthProbeTable:
    """Each node replaces its own row and reads it back in one transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def write_and_read(self, node: str, token: str, at: datetime) -> str | None:
        params = {"node": node, "token": token, "at": at.isoformat()}
        async with self.engine.begin() as conn:
            await conn.execute(text("DELETE FROM health_probe WHERE node = :node"), params)
            await conn.execute(
                text(
                    "INSERT INTO health_probe (node, token, written_at) VALUES (:node, :token, :at)"
                ),
                params,
            )
            result = await conn.execute(
                text("SELECT token FROM health_probe WHERE node = :node"), params
            )
            value = result.scalar_one_or_none()
        return str(value) if value is not None else None
