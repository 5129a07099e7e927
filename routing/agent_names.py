"""Console user names by queue-member interface, cached briefly.

The screen-pop and the tickets stage both name the agent whose phone rang or answered.
Interfaces change only when an admin edits a user, and a hotline has at most a few
hundred users, so one read of all of them names every phone for `seconds`: a phone seen
for the first time, or a name older than `seconds`, waits for that read (shared by
everyone asking while it runs); once the names are half that old, the read runs in the
background, so while calls keep coming no event waits for a read of its agent. A name is
never served older than `seconds`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from routing.errors import STORE_OUTAGE
from routing.ports import UserStore

log = logging.getLogger(__name__)


class AgentNames:
    def __init__(
        self,
        users: UserStore,
        *,
        seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users = users
        self.seconds = seconds
        self._monotonic = monotonic
        # interface -> (username, the user is active), as of `_read_at`; an interface
        # asked for that no user has is kept as (None, False).
        self._names: dict[str, tuple[str | None, bool]] = {}
        self._read_at: float | None = None
        self._reading: asyncio.Task[None] | None = None

    async def username(self, interface: str, *, active_only: bool = True) -> str | None:
        """The console user whose phone is `interface` (None: nobody, or with
        `active_only` a disabled account). Raises what the user store raises when the
        name has to be read and cannot be."""
        age = None if self._read_at is None else self._monotonic() - self._read_at
        if age is None or age >= self.seconds or interface not in self._names:
            await asyncio.shield(self._read())
            self._names.setdefault(interface, (None, False))
        elif age >= self.seconds / 2:
            self._read().add_done_callback(_log_failure)
        name, active = self._names[interface]
        return name if active or not active_only else None

    def _read(self) -> asyncio.Task[None]:
        """The read of all users under way, or a new one."""
        if self._reading is None or self._reading.done():
            self._reading = asyncio.get_running_loop().create_task(
                self._read_all(), name="agent-names"
            )
        return self._reading

    async def _read_all(self) -> None:
        started = self._monotonic()
        users = await self.users.all_users()
        names: dict[str, tuple[str | None, bool]] = {
            u.interface: (u.username, u.active) for u in users if u.interface
        }
        for interface in self._names.keys() - names.keys():
            names[interface] = (None, False)  # still nobody's phone, as of this read
        self._names = names
        self._read_at = started


def _log_failure(task: asyncio.Task[None]) -> None:
    """A background read that failed: the names age out and the next event reads."""
    if task.cancelled():
        return
    failure = task.exception()
    if isinstance(failure, STORE_OUTAGE):
        log.warning("agent names not renewed (%s)", failure)
    elif failure is not None:
        log.error("agent names not renewed", exc_info=failure)
