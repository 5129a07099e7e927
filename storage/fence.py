"""The database fence (`cluster.ports.Fence`): the highest fencing token any leader has
claimed.

* A new leader writes its token into the ``controller_fence`` row (only upwards:
  ``UPDATE ... WHERE token < :new``) before it connects AMI. The table comes from
  Alembic migration 0002; `FenceStore.ensure` only adds this fence's row.
* Leader-side writers run inside `FenceStore.writes`; every commit they make first reads
  the fence row in the same transaction (``FOR SHARE`` on PostgreSQL, so the new
  leader's claim waits for it; SQLite's BEGIN IMMEDIATE already holds the write lock)
  and refuses to commit if the token is no longer ours. The check is a SQLAlchemy
  ``before_commit`` listener on the `Session` class, added once per process when the
  first `FenceStore` is made.
* A leader frozen between that check and its commit keeps the row locked: the claim
  waits no longer than it is told (`lock_timeout`), and PostgreSQL ends the frozen
  session after `storage.database.IDLE_IN_TRANSACTION_SECONDS`, which frees the row.
* Any failure to reach the database is raised as `cluster.errors.FenceUnavailable`.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from calls.clock import utc_now
from cluster.errors import FenceUnavailable, StaleLeader
from cluster.ports import TokenHolder
from storage.database import pg_milliseconds

_DB_FAILURES: tuple[type[BaseException], ...] = (SQLAlchemyError, OSError, TimeoutError)

FENCE_NAME = "controller"


@contextlib.asynccontextmanager
async def _reaching_the_fence() -> AsyncIterator[None]:
    try:
        yield
    except _DB_FAILURES as exc:
        raise FenceUnavailable(f"{type(exc).__name__}: {exc}") from exc


class FenceStore:
    """The `controller_fence` row named `name` (the table comes from migration 0002)."""

    def __init__(self, engine: AsyncEngine, *, name: str = FENCE_NAME) -> None:
        # Fenced writes are refused from the moment a fence exists.
        _install_commit_check()
        self.engine = engine
        self.name = name
        self.postgres = engine.dialect.name == "postgresql"
        self._select = text(
            "SELECT token FROM controller_fence WHERE name = :name"
            + (" FOR SHARE" if self.postgres else "")
        )

    async def ensure(self) -> None:
        """Add the fence row if absent (idempotent, safe from many processes)."""
        async with _reaching_the_fence(), self.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO controller_fence (name, token, holder, claimed_at)"
                    " VALUES (:name, 0, '', :at) ON CONFLICT (name) DO NOTHING"
                ),
                {"name": self.name, "at": utc_now().isoformat()},
            )

    async def claim(self, token: int, holder: str, *, wait: float | None = None) -> bool:
        """Record `token` if it is newer than the stored one; False means a newer leader
        already claimed the fence (our token is stale from birth). `wait`: on PostgreSQL,
        give up (`FenceUnavailable`) after waiting this many seconds for the row, which a
        fenced commit of the old leader may hold."""
        async with _reaching_the_fence(), self.engine.begin() as conn:
            if wait is not None and self.postgres:
                await conn.execute(
                    text("SELECT set_config('lock_timeout', :ms, true)"),
                    {"ms": f"{pg_milliseconds(wait)}ms"},
                )
            result = await conn.execute(
                text(
                    "UPDATE controller_fence SET token = :token, holder = :holder,"
                    " claimed_at = :at WHERE name = :name AND token < :token"
                ),
                {
                    "token": token,
                    "holder": holder,
                    "at": utc_now().isoformat(),
                    "name": self.name,
                },
            )
            return bool(result.rowcount == 1)

    async def current(self) -> int | None:
        async with _reaching_the_fence(), self.engine.connect() as conn:
            value = await conn.scalar(
                text("SELECT token FROM controller_fence WHERE name = :name"),
                {"name": self.name},
            )
        return int(value) if value is not None else None

    def check_in(self, session: Session, token: int, claiming: int | None = None) -> None:
        """Inside the writer's own transaction: refuse to commit under a stale token.
        `claiming`: a newer token of the same writer whose claim is under way."""
        value = session.execute(self._select, {"name": self.name}).scalar()
        current = int(value) if value is not None else None
        if current != token and (claiming is None or current != claiming):
            raise StaleLeader(token, current)

    def writes(self, holder: TokenHolder) -> contextlib.AbstractContextManager[None]:
        """Every commit on this engine inside the block is checked against the fence."""
        return _fenced_writes(self, holder)


@dataclass(frozen=True)
class _FenceContext:
    fence: FenceStore
    holder: TokenHolder


# Set only while a fenced (leader-side) handler runs; read by the commit check.
_FENCED: contextvars.ContextVar[_FenceContext | None] = contextvars.ContextVar(
    "cluster_fenced_write", default=None
)


@contextlib.contextmanager
def _fenced_writes(fence: FenceStore, holder: TokenHolder) -> Iterator[None]:
    marker = _FENCED.set(_FenceContext(fence, holder))
    try:
        yield
    finally:
        _FENCED.reset(marker)


def _check_fence_before_commit(session: Session) -> None:
    context = _FENCED.get()
    if context is None:
        return
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    if engine is not context.fence.engine.sync_engine:
        return
    token = context.holder.token
    if token is None:
        raise StaleLeader(0, None)
    context.fence.check_in(session, token, context.holder.claiming)


def _install_commit_check() -> None:
    """Check fenced commits from now on (idempotent). The listener is on the `Session`
    class so that every repository's session factory is covered; outside a fenced block
    it returns at once."""
    if not event.contains(Session, "before_commit", _check_fence_before_commit):
        event.listen(Session, "before_commit", _check_fence_before_commit)
