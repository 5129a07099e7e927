"""Logged-out sessions in one process's memory (`InMemoryRevocations`): unit tests and
throw-away consoles. `hotline serve` keeps them in the shared database instead
(`storage.revocations.RevocationRepository`), so every console process refuses a
logged-out token, after a restart too."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime


class InMemoryRevocations:
    """`console.ports.SessionRevocations` in a dict (nonce -> when the token expires)."""

    def __init__(self) -> None:
        self.expiries: dict[str, datetime] = {}

    async def revoke(
        self, nonce: str, username: str, expires_at: datetime, *, now: datetime
    ) -> None:
        for known, expires in list(self.expiries.items()):
            if expires <= now:
                del self.expiries[known]
        self.expiries[nonce] = expires_at

    async def is_revoked(self, nonce: str) -> bool:
        return nonce in self.expiries

    async def revoked_among(self, nonces: Sequence[str]) -> set[str]:
        return {n for n in nonces if n in self.expiries}
