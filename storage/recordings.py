"""Call recordings on disk: the directory the PBX's MixMonitor files are read from, and
the daily purge that applies the retention (`HOTLINE_RECORDING_DAYS`) to the files and to
the calls' links to them.

The PBX writes the files (asterisk-conf/extensions.conf, `${HOTLINE_RECORDINGS}`); the
controller sees the same directory (a shared mount, see docs/asterisk.md) and only reads
and deletes in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from calls.clock import Clock, utc_now
from routing.domain.recordings import is_recording_name, retention_cutoff
from routing.errors import StoreUnavailable

log = logging.getLogger(__name__)

PURGE_INTERVAL = timedelta(days=1)


class RecordingArchive:
    """Implements `routing.ports.RecordingFiles` over a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_of(self, name: str) -> Path | None:
        if not is_recording_name(name):
            return None
        path = self.directory / name
        return path if path.is_file() else None

    def delete(self, names: Iterable[str]) -> int:
        """Delete these recordings; how many files went."""
        deleted = 0
        for name in names:
            path = self.path_of(name)
            if path is None:
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                deleted += 1
        return deleted

    def delete_older_than(self, cutoff: datetime) -> int:
        """Delete recordings last written before `cutoff`, linked or not (the empty files
        of unanswered calls, files of calls the database never heard of)."""
        if not self.directory.is_dir():
            return 0
        limit = cutoff.timestamp()
        deleted = 0
        for path in self.directory.iterdir():
            if not is_recording_name(path.name) or not path.is_file():
                continue
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < limit:
                    path.unlink()
                    deleted += 1
        return deleted


class RecordingLinks(Protocol):
    async def forget_recordings(self, started_before: datetime) -> Sequence[str]: ...


class RecordingPurge:
    """Once a day (on the leader): calls started more than `days` ago lose their link to
    their recording, and the files go. `days` 0 keeps everything."""

    def __init__(
        self,
        links: RecordingLinks,
        archive: RecordingArchive,
        *,
        days: int,
        clock: Clock = utc_now,
        interval: timedelta = PURGE_INTERVAL,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.links = links
        self.archive = archive
        self.days = days
        self.clock = clock
        self.interval = interval
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None

    async def purge_once(self) -> tuple[int, int]:
        """(links removed, files deleted)."""
        cutoff = retention_cutoff(self.clock(), self.days)
        if cutoff is None:
            return 0, 0
        names = await self.links.forget_recordings(cutoff)
        files = await asyncio.to_thread(self._delete, names, cutoff)
        if names or files:
            log.info(
                "recordings before %s purged: %d links, %d files",
                cutoff.astimezone(UTC).isoformat(),
                len(names),
                files,
            )
        return len(names), files

    def _delete(self, names: Sequence[str], cutoff: datetime) -> int:
        return self.archive.delete(names) + self.archive.delete_older_than(cutoff)

    async def run_forever(self) -> None:
        while True:
            try:
                await self.purge_once()
            except StoreUnavailable as exc:  # the next round tries again
                log.warning("recording purge postponed: %s", exc)
            except OSError as exc:
                log.error("recording purge failed on %s: %s", self.archive.directory, exc)
            await self._sleep(self.interval.total_seconds())

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None and self.days > 0:
            self._task = asyncio.get_running_loop().create_task(
                self.run_forever(), name="recording-purge"
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
