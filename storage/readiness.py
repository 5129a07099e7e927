"""Refuse to serve on a database that does not answer or whose schema is not at the
newest migration (`DatabaseNotReady`, one line with the fix; the CLI prints it)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from alembic.script import ScriptDirectory

from storage.database import Database
from storage.migrate import alembic_config, current

log = logging.getLogger(__name__)


class DatabaseNotReady(Exception):
    """The database does not answer, or its schema is behind the newest migration."""


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def check_current(url: str) -> None:
    """Raise DatabaseNotReady with the fix in one line if `url` is unreachable or behind."""
    try:
        at = current(url)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatabaseNotReady(f"database {url} unreachable: {first}") from exc
    head = head_revision(url)
    if at != head:
        raise DatabaseNotReady(
            f"database {url} is at revision {at or 'none'}, expected {head}: "
            "run `hotline db upgrade`"
        )


class DatabaseAtStart:
    """Everywhere, at start: the database must answer (under a time limit: a black-holed
    database must not hang the start for minutes) and, for `hotline serve`, be at the
    newest migration. A restart in the middle of an outage is the exception: when the
    emergency journal says emergency mode, the process serves without the database and
    `up_at_start` stays False (supervision then waits for it)."""

    name = "database-check"
    leader_only = False

    def __init__(
        self,
        db: Database,
        url: str,
        *,
        timeout: float,
        emergency_active: Callable[[], bool],
        check_schema: bool,
    ) -> None:
        self.db = db
        self.url = url
        self.timeout = timeout
        self.emergency_active = emergency_active
        self.check_schema = check_schema
        self.up_at_start = True

    async def start(self) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await self.db.ping()
        except Exception as exc:
            if not self.emergency_active():
                raise DatabaseNotReady(f"database {self.url} unreachable: {exc!r}") from exc
            self.up_at_start = False
            log.error("database unreachable at start (%r): serving in emergency mode", exc)
            return
        if self.check_schema:
            await asyncio.to_thread(check_current, self.url)

    async def stop(self) -> None:
        return None
