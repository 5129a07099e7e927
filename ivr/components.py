"""The IVR as components: `build(settings, deps)` makes the FastAGI server with its menu
and mode, and the outage announcements callers hear. Both run everywhere (every
controller answers FastAGI); a console-only process has no FastAGI listener.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bus import MessageBus
from ivr.menu_file import load_menu
from ivr.mode import IvrMode
from ivr.outage import OutageAnnouncements
from ivr.ports import RoutingAdvisorPort, SurveySinkPort
from ivr.server import IvrServer
from ivr.sites import IvrSiteDirectory
from lifecycle import Resource
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


@dataclass(frozen=True)
class IvrDeps:
    """`emergency_active` says whether calls go to the emergency queue."""

    sites: SiteDirectory
    tickets: TicketStore
    surveys: SurveySinkPort
    advisor: RoutingAdvisorPort
    bus: MessageBus
    policy: SlaPolicy
    emergency_active: Callable[[], bool]


class AgiListener:
    """Everywhere: the FastAGI listener on `HOTLINE_AGI_HOST:PORT`."""

    name = "ivr"
    leader_only = False

    def __init__(self, server: IvrServer, host: str, port: int) -> None:
        self.server = server
        self.host = host
        self.port = port

    async def start(self) -> None:
        await self.server.start(self.host, self.port)

    async def stop(self) -> None:
        await self.server.stop()


@dataclass(frozen=True)
class Ivr:
    server: IvrServer
    mode: IvrMode
    outage: OutageAnnouncements
    listener: AgiListener

    def outage_component(self) -> Resource:
        """Everywhere: the announcement in force is read from disk and followed on the bus."""
        return Resource("outage", open=self.outage.start, close=self.outage.stop)


def build(settings: IvrSettings, deps: IvrDeps) -> Ivr:
    mode = IvrMode(deps.emergency_active)
    server = IvrServer(
        load_menu(settings.menu_file),
        IvrSiteDirectory(deps.sites),
        mode,
        deps.surveys,
        policy=deps.policy,
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
        tickets=deps.tickets,
        bus=deps.bus,
    )
    return Ivr(server, mode, outage, AgiListener(server, settings.agi_host, settings.agi_port))
