"""Console users for tests: the rows `UserRepository.create` writes, with the scrypt hash
of each password computed once per process (a hash costs tens of milliseconds, hundreds
on a loaded machine). Log-ins still verify the hash for real."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime

from storage.database import Database
from storage.models import ConsoleUserRow
from storage.users import hash_password

_HASHES: dict[str, str] = {}


async def password_hash(password: str) -> str:
    """The hash of `password`, computed off the event loop the first time."""
    if password not in _HASHES:
        _HASHES[password] = await asyncio.to_thread(hash_password, password)
    return _HASHES[password]


async def add_console_users(
    db: Database, users: Iterable[tuple[str, str, str | None]], password: str
) -> None:
    """Active users (`username`, `role`, phone interface or None), all with `password`."""
    encoded = await password_hash(password)
    now = datetime.now(UTC)
    async with db.sessions.begin() as session:
        for username, role, interface in users:
            session.add(
                ConsoleUserRow(
                    username=username,
                    role=role,
                    password_hash=encoded,
                    interface=interface,
                    active=True,
                    created_at=now,
                    session_epoch=0,
                )
            )
