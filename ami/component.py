"""The AMI link as a leader-only component: only the leader talks to the PBX."""

from __future__ import annotations

import contextlib

from ami.client import AmiClient


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
