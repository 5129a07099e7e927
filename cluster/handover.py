"""Mode hand-over: after a takeover the PBX's routing mode wins over the new leader's
own emergency journal."""

from __future__ import annotations

import logging
from typing import Protocol

from fallback.records import EmergencyStatus
from fallback.switching import ASTDB_FAMILY, ASTDB_KEY

log = logging.getLogger(__name__)


class ModeSource(Protocol):
    """What the hand-over needs of the emergency service."""

    def status(self) -> EmergencyStatus: ...

    async def set_active(self, active: bool, *, reason: str, by: str) -> EmergencyStatus: ...


class AstDbReader(Protocol):
    async def db_get(self, family: str, key: str) -> str | None: ...


class ModeHandover:
    """On a takeover the PBX's routing mode wins over the new leader's own journal.

    Each controller journals the emergency mode on its own disk. A standby that becomes
    leader would otherwise push *its* (possibly stale) mode to the PBX at AMI login and
    undo an emergency switched on by hand on the old leader - or revive one long closed.
    Run as the first `on_connected` hook, once per election: it reads `hotline/mode`
    from AstDB and, if it disagrees with ours, switches ours through the normal path
    (journaled, audited, published).

    A leader-only component: each election arms it (`start`)."""

    name = "mode-handover"
    leader_only = True

    def __init__(self, pbx: AstDbReader, emergency: ModeSource, node: str) -> None:
        self.pbx = pbx
        self.emergency = emergency
        self.node = node
        self.armed = False
        self.adopted: str | None = None

    def arm(self) -> None:
        self.armed = True

    async def start(self) -> None:
        self.arm()

    async def stop(self) -> None:
        self.armed = False

    async def __call__(self, _client: object) -> None:
        if not self.armed:
            return
        self.armed = False
        mode = await self.pbx.db_get(ASTDB_FAMILY, ASTDB_KEY)
        if mode not in ("emergency", "normal"):
            return  # never written (a fresh PBX): our journal decides
        active = self.emergency.status().active
        if (mode == "emergency") == active:
            return
        self.adopted = mode
        log.warning(
            "controller %s: the PBX routes in %s mode, our journal says otherwise: adopting it",
            self.node,
            mode,
        )
        await self.emergency.set_active(
            mode == "emergency",
            reason=f"controller takeover: the PBX was in {mode} mode",
            by=f"controller:{self.node}",
        )
