"""The pipeline as components: it runs everywhere (stages that are not leader-only
deliver on every node), and the leader replays what a crash left in the spool."""

from __future__ import annotations

import logging

from pipeline.lanes import CallPipeline
from pipeline.spool import Spooled

log = logging.getLogger(__name__)


class PipelineRun:
    """Opens the spool at start (the events a crash left are kept for the leader) and
    drains the lanes at stop."""

    name = "pipeline"
    leader_only = False

    def __init__(self, pipeline: CallPipeline) -> None:
        self.pipeline = pipeline
        self._spooled: list[Spooled] = []

    async def start(self) -> None:
        if self.pipeline.spool is not None:
            self._spooled = self.pipeline.spool.open()

    async def stop(self) -> None:
        await self.pipeline.stop()

    def take_spooled(self) -> list[Spooled]:
        spooled, self._spooled = self._spooled, []
        return spooled


class SpoolReplay:
    """Leader only: the spooled events were written by fenced stages, so only the
    leader may hand them back to those stages."""

    name = "spool-replay"
    leader_only = True

    def __init__(self, run: PipelineRun) -> None:
        self.run = run

    async def start(self) -> None:
        spooled = self.run.take_spooled()
        if spooled:
            replayed = self.run.pipeline.replay(spooled)
            log.warning("replaying %d call events spooled before a restart", replayed)

    async def stop(self) -> None:
        return None
