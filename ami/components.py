"""The PBX link as components: `build(settings)` makes the call tracker and the AMI client
that feeds it, and `AmiLink`, the leader-only component that runs the link (only the
leader talks to the PBX).

Others hear the PBX through the `Ami` record: `at_login` hooks run, in order, after each
log-in's resynchronisation; `hear` passes named raw events to a listener; the tracker's
subscribers get the `calls/` domain events. Its `/healthz` entry is `ami`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ami.client import AmiClient, ConnectedHook, LinkState
from ami.protocol import AmiMessage
from ami.tracker import CallTracker
from lifecycle import HealthEntry


class Secret(Protocol):
    def get_secret_value(self) -> str: ...


class AmiSettings(Protocol):
    """The settings the AMI link reads (`hotline.settings.Settings` has them)."""

    @property
    def ami_host(self) -> str: ...
    @property
    def ami_port(self) -> int: ...
    @property
    def ami_user(self) -> str | None: ...
    @property
    def ami_secret(self) -> Secret | None: ...
    @property
    def ami_ping_interval(self) -> float: ...


class AmiSettingsMissing(ValueError):
    """`serve` needs the AMI account."""


class AmiLink:
    """Connects at election (the log-in resyncs calls and queues) and disconnects at
    demotion."""

    name = "ami"
    leader_only = True

    def __init__(self, client: AmiClient, *, connect_wait: float = 5.0) -> None:
        self.client = client
        self.connect_wait = connect_wait

    async def start(self) -> None:
        self.client.start()
        # Give Asterisk a moment so the first health round and the wallboard see real
        # state; if it is down we serve anyway (AMI keeps retrying in the background).
        with contextlib.suppress(TimeoutError):
            await self.client.wait_connected(self.connect_wait)

    async def stop(self) -> None:
        await self.client.stop()


@dataclass(frozen=True)
class Ami:
    """`standby` says whether this process leaves the PBX to another controller."""

    client: AmiClient
    tracker: CallTracker
    link: AmiLink
    standby: Callable[[], bool]

    def at_login(self, *hooks: ConnectedHook) -> None:
        """Run `hooks`, in this order, after each log-in's resynchronisation."""
        self.client.on_connected.extend(hooks)

    def hear(self, listener: Callable[[AmiMessage], None], events: Iterable[str]) -> None:
        """Pass every raw message of the `events` named to `listener`."""
        self.client.add_listener(lambda event: listener(event.message), events=events)

    def synced(self) -> bool:
        """True while the tracker's picture of the PBX is current (logged in, resynced)."""
        return self.client.state is LinkState.CONNECTED

    def live_calls(self) -> int:
        """How many calls the tracker follows now."""
        return len(self.tracker.calls)

    def tracked_calls(self) -> Collection[str]:
        """The calls (Linkedid) the tracker follows now."""
        return self.tracker.calls.keys()

    def health_entries(self) -> Mapping[str, HealthEntry]:
        return {"ami": self.health}

    def health(self) -> Mapping[str, Any]:
        """`/healthz`'s ami entry. A standby leaves AMI to the leader by design: that is
        not a fault."""
        client = self.client
        status = "disabled" if self.standby() else ("ok" if self.synced() else "down")
        state: dict[str, Any] = {
            "status": status,
            "state": client.state.value,
            "connections": client.connections,
        }
        if client.last_error:
            state["error"] = client.last_error
        return state


def build(settings: AmiSettings, *, standby: Callable[[], bool]) -> Ami:
    """Raises AmiSettingsMissing without `HOTLINE_AMI_USER` and `HOTLINE_AMI_SECRET`."""
    if not settings.ami_user or settings.ami_secret is None:
        raise AmiSettingsMissing("HOTLINE_AMI_USER and HOTLINE_AMI_SECRET are required")
    tracker = CallTracker()
    client = AmiClient(
        host=settings.ami_host,
        port=settings.ami_port,
        username=settings.ami_user,
        secret=settings.ami_secret.get_secret_value(),
        tracker=tracker,
        ping_interval=settings.ami_ping_interval,
    )
    return Ami(client, tracker, AmiLink(client), standby)
