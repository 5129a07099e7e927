"""The tests' database copies (`testkit.scratch_db`): a copy holds the template's schema
and rows, and what a test writes in its copy stays there."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.database import Database
from storage.migrate import upgrade
from storage.models import ConsoleUserRow
from storage.users import UserRepository
from testkit.console_users import add_console_users
from testkit.scratch_db import (
    copy_sqlite,
    create_postgres_from_template,
    drop_scratch_postgres,
    scratch_sqlite_url,
    sqlite_path,
)

PASSWORD = "template-test-pw"


async def usernames(url: str) -> list[str]:
    db = Database(url)
    try:
        async with db.reads() as session:
            return sorted((await session.scalars(select(ConsoleUserRow.username))).all())
    finally:
        await db.dispose()


async def add(url: str, *users: tuple[str, str, str | None]) -> None:
    db = Database(url)
    try:
        await add_console_users(db, users, PASSWORD)
    finally:
        await db.dispose()


async def test_a_sqlite_copy_holds_the_template_and_keeps_its_own_writes(tmp_path: Path) -> None:
    template = scratch_sqlite_url(tmp_path)
    await asyncio.to_thread(upgrade, template)
    await add(template, ("alice", "agent", "PJSIP/1001"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = copy_sqlite(template, tmp_path / "a"), copy_sqlite(template, tmp_path / "b")
    assert sqlite_path(first).parent == tmp_path / "a"
    await add(first, ("bob", "agent", "PJSIP/1002"))
    assert await usernames(first) == ["alice", "bob"]
    assert await usernames(second) == ["alice"]
    assert await usernames(template) == ["alice"]
    # The users log in for real: the one hash per password is a real scrypt hash.
    db = Database(second)
    try:
        assert await UserRepository(db).authenticate("alice", PASSWORD) is not None
        assert await UserRepository(db).authenticate("alice", "wrong") is None
    finally:
        await db.dispose()


def test_only_sqlite_file_urls_have_a_path() -> None:
    with pytest.raises(ValueError):
        sqlite_path("postgresql://postgres@127.0.0.1/x")


@pytest.mark.postgres
async def test_a_postgres_copy_holds_the_template_and_keeps_its_own_writes(pg_url: str) -> None:
    copy = create_postgres_from_template(pg_url, prefix="hl_template_copy")
    try:
        before = await usernames(pg_url)
        await add(copy, ("template-copy-only", "agent", None))
        assert await usernames(copy) == sorted([*before, "template-copy-only"])
        assert await usernames(pg_url) == before
    finally:
        drop_scratch_postgres(copy)
