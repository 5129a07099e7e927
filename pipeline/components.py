"""The pipeline as components: `build(settings, deps)` makes the one path of call events
with the stages the packages that own the rules declare, and its spool on disk. It runs
everywhere (stages that are not leader-only deliver on every node), and the leader
replays what a crash left in the spool. Its `/healthz` entries are `calls` (the calls
followed and the events not handled yet) and `spool`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lifecycle import HealthEntry
from pipeline.lanes import CallPipeline, Fence
from pipeline.spool import EventSpool, Spooled
from pipeline.stage import Stage

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


class PipelineSettings(Protocol):
    """The settings the pipeline reads (`hotline.settings.Settings` has them)."""

    @property
    def journal_dir(self) -> Path: ...
    @property
    def spool_max_mb(self) -> int: ...


@dataclass(frozen=True)
class PipelineDeps:
    """`stages`: every stage of every package; `fence` wraps the leader-only ones (the
    cluster's fencing); `live_calls` counts the calls the tracker follows."""

    stages: Sequence[Stage]
    live_calls: Callable[[], int]
    fence: Fence | None = None


@dataclass(frozen=True)
class Pipeline:
    pipeline: CallPipeline
    spool: EventSpool
    run: PipelineRun
    replay: SpoolReplay
    live_calls: Callable[[], int]

    def health_entries(self) -> Mapping[str, HealthEntry]:
        return {"calls": self.calls_health, "spool": self.spool_health}

    def calls_health(self) -> Mapping[str, Any]:
        """`/healthz`'s calls entry: the calls followed, the events not handled yet."""
        live = self.live_calls()
        return {"status": "ok", "live": live, "pipeline_backlog": self.pipeline.backlog}

    def spool_health(self) -> Mapping[str, Any]:
        """`/healthz`'s spool entry: call events waiting for the database, on disk; it
        warns before the bound."""
        spool = self.spool
        return {
            "status": "warning" if spool.near_full else "ok",
            "events": spool.pending,
            "bytes": spool.size,
            "limit_bytes": spool.max_bytes,
            "refused": spool.refused,
        }


def build(settings: PipelineSettings, deps: PipelineDeps) -> Pipeline:
    spool = EventSpool(
        settings.journal_dir / "pipeline-spool.jsonl",
        max_bytes=settings.spool_max_mb * 1024 * 1024,
    )
    pipeline = CallPipeline(deps.stages, fence=deps.fence, spool=spool)
    run = PipelineRun(pipeline)
    return Pipeline(pipeline, spool, run, SpoolReplay(run), deps.live_calls)
