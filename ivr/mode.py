"""`ivr.ports.IvrModePort` for `hotline serve`: what the IVR must know of the hotline's mode.

Two things: whether emergency mode is on, which the emergency service knows, and the
outage announcement, which the IVR owns (`ivr.outage.OutageAnnouncements` sets it). The
emergency half is a plain callable the composition root binds to the emergency service,
so the IVR and the emergency package do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable

from ivr.menu import Outage


class IvrMode:
    """The emergency state as `emergency_active()` reports it; the outage announcement set
    at run time (None when there is none)."""

    def __init__(self, emergency_active: Callable[[], bool]) -> None:
        self._emergency_active = emergency_active
        self.outage: Outage | None = None

    def emergency_active(self) -> bool:
        return self._emergency_active()

    def current_outage(self) -> Outage | None:
        return self.outage
