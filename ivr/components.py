"""The IVR as components: `build(settings, deps)` makes the FastAGI server with its menu
and mode, and the outage announcements callers hear. Both run everywhere (every
controller answers FastAGI); a console-only process has no FastAGI listener. Its
`/healthz` entry is `ivr`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bus import MessageBus
from ivr.menu_file import load_menu
from ivr.mode import IvrMode
from ivr.outage import OutageAnnouncements
from ivr.ports import RoutingAdvisorPort, SurveySinkPort
from ivr.server import IvrServer
from ivr.sites import IvrSiteDirectory
from lifecycle import HealthEntry, Resource
from routing.domain.levels import SlaPolicy
from routing.ports import SiteDirectory, TicketStore


class IvrSettings(Protocol):
    """The settings the IVR reads (`hotline.settings.Settings` has them)."""

    @property
    def menu_file(self) -> Path | None: ...
    @property
    def main_queue(self) -> str: ...
    @property
    def emergency_queue(self) -> str: ...
    @property
    def sounds_dir(self) -> Path: ...
    @property
    def journal_dir(self) -> Path: ...
    @property
    def agi_host(self) -> str: ...
    @property
    def agi_port(self) -> int: ...
    @property
    def agi_max_connections(self) -> int: ...
    @property
    def recording_notice(self) -> bool: ...
    @property
    def role(self) -> str: ...


class IvrStores(Protocol):
    """What the IVR reads of the database (`storage.components.Storage` has it): the site
    directory, the tickets (an outage's incident) and the SLA policy."""

    @property
    def sites(self) -> SiteDirectory: ...
    @property
    def tickets(self) -> TicketStore: ...
    @property
    def policy(self) -> SlaPolicy: ...


@dataclass(frozen=True)
class IvrDeps:
    """`emergency_active` says whether calls go to the emergency queue."""

    stores: IvrStores
    surveys: SurveySinkPort
    advisor: RoutingAdvisorPort
    bus: MessageBus
    emergency_active: Callable[[], bool]


@dataclass(frozen=True)
class Ivr:
    server: IvrServer
    mode: IvrMode
    outage: OutageAnnouncements
    # Everywhere: the FastAGI listener on `HOTLINE_AGI_HOST:PORT`; None in a console-only
    # process (`HOTLINE_ROLE=console`).
    listener: Resource | None

    def health_entries(self) -> Mapping[str, HealthEntry]:
        return {"ivr": self.health}

    def health(self) -> Mapping[str, Any]:
        """`/healthz`'s ivr entry: the FastAGI port, once it listens."""
        if self.listener is None:
            return {"status": "disabled", "port": None}
        port = self.server.port
        return {"status": "ok" if port else "down", "port": port}

    def components(self) -> list[Resource]:
        """Everywhere: the outage announcement in force (read from disk, followed on the
        bus), then the FastAGI listener."""
        outage = Resource("outage", open=self.outage.start, close=self.outage.stop)
        return [outage] if self.listener is None else [outage, self.listener]


def build(settings: IvrSettings, deps: IvrDeps) -> Ivr:
    mode = IvrMode(deps.emergency_active)
    server = IvrServer(
        load_menu(settings.menu_file),
        IvrSiteDirectory(deps.stores.sites),
        mode,
        deps.surveys,
        policy=deps.stores.policy,
        main_queue=settings.main_queue,
        emergency_queue=settings.emergency_queue,
        sounds_dir=settings.sounds_dir,
        max_connections=settings.agi_max_connections,
        recording_notice=settings.recording_notice,
        router=deps.advisor,
    )
    outage = OutageAnnouncements(
        menu=server.menu,
        sounds_dir=settings.sounds_dir,
        journal_dir=settings.journal_dir,
        ivr_mode=mode,
        tickets=deps.stores.tickets,
        bus=deps.bus,
    )
    listener = (
        Resource(
            "ivr",
            open=functools.partial(server.start, settings.agi_host, settings.agi_port),
            close=server.stop,
        )
        if settings.role != "console"
        else None
    )
    return Ivr(server, mode, outage, listener)
