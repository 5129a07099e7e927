"""What leadership needs of the database: the fence that outlives every leader.

`storage.fence.FenceStore` implements `Fence`; the controller only speaks this port, so
no SQL lives in this package. Every failure to reach the fence is a `FenceUnavailable`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class TokenHolder(Protocol):
    """Whoever writes under the fence; its token is read at commit time, because a
    leader may legitimately re-acquire the lease (new token) in the middle of a write."""

    @property
    def token(self) -> int | None: ...

    @property
    def claiming(self) -> int | None:
        """A newer token this holder is claiming right now: from the moment the fence
        holds it until `token` becomes it, the holder's own commits pass under either."""


class Fence(Protocol):
    """The highest fencing token any leader has claimed, kept in the database."""

    async def ensure(self) -> None:
        """Make sure the fence exists (idempotent, safe from many processes)."""

    async def claim(self, token: int, holder: str, *, wait: float | None = None) -> bool:
        """Record `token` if newer than the stored one; False if a newer leader holds it.
        `wait`: seconds the claim may wait for a lock on the fence (None: no bound)."""

    async def current(self) -> int | None:
        """The stored token (None when the fence was never made)."""

    def writes(self, holder: TokenHolder) -> AbstractContextManager[None]:
        """Inside this block every database commit is refused (`StaleLeader`) unless the
        fence still holds `holder.token`, checked in the same transaction."""
