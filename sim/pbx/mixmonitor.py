"""MixMonitor as Asterisk 22's app_mixmonitor does it, for the stand-in.

What the stand-in reproduces (apps/app_mixmonitor.c, main/manager_channels.c):

* `MixMonitor(file,options)` (application) and the AMI action `MixMonitor` sets
  `MIXMONITOR_FILENAME` (a `VarSet`) to the file name made absolute (a relative name goes
  under the monitor spool directory), creates the file's directory and the file at once
  (an empty WAV when nothing is ever written), then raises `MixMonitorStart` with the
  channel snapshot and nothing else: the event does not name the file.
* Option `b`: audio is written only while the channel is in a bridge; both directions are
  mixed into the one file. The stand-in writes 8 kHz 16-bit mono signed linear, a tone
  for each side of the conversation, as long as the channel was bridged (simulated time).
* `StopMixMonitor` (application) and the AMI action close the file and raise
  `MixMonitorStop`. A hang-up closes the file too, but raises no event: Asterisk publishes
  `MixMonitorStop` only from `stop_mixmonitor_full`.
* The action answers `Response: Success` (and `ActionID`, and `MixMonitorID` with option
  `i`) with no `Message`; errors are `No channel specified`, `No such channel`,
  `Could not start monitoring channel`, `Could not stop monitoring channel`.
"""

from __future__ import annotations

import logging
import math
import struct
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
MONITOR_SPOOL = "/var/spool/asterisk/monitor"  # ast_config_AST_MONITOR_DIR
_TURN_SECONDS = 1.5  # the simulated speakers take turns this often
_TONES = (440.0, 660.0)  # caller side, agent side


class MonitoredChannel(Protocol):
    """What MixMonitor needs of a simulated channel."""

    @property
    def name(self) -> str: ...

    @property
    def uniqueid(self) -> str: ...

    @property
    def bridge_id(self) -> str: ...


C = TypeVar("C", bound=MonitoredChannel)


def split_arguments(data: str) -> tuple[str, str, str]:
    """`file,options,command` as AST_STANDARD_APP_ARGS splits them (missing = empty)."""
    parts = data.split(",", 2)
    parts += [""] * (3 - len(parts))
    return parts[0].strip(), parts[1].strip(), parts[2].strip()


def absolute_file_name(file: str) -> str:
    """filename_parse(): a relative name goes under the monitor spool directory."""
    if not file.startswith("/"):
        file = f"{MONITOR_SPOOL}/{file}"
    if file.endswith(".wav49"):
        file = file[: -len(".wav49")] + ".WAV"
    return file


def option_value(options: str, letter: str) -> str | None:
    """The argument of option `letter(...)`, "" for a bare letter, None when absent."""
    i = 0
    while i < len(options):
        c = options[i]
        arg = ""
        if i + 1 < len(options) and options[i + 1] == "(":
            close = options.find(")", i + 2)
            close = len(options) if close < 0 else close
            arg = options[i + 2 : close]
            i = close + 1
        else:
            i += 1
        if c == letter:
            return arg
    return None


def _one_cycle() -> bytes:
    """Both turns once: 2 x 1.5 s. Each tone makes whole periods in it, so the cycle
    repeats seamlessly."""
    samples = int(2 * _TURN_SECONDS * SAMPLE_RATE)
    out = bytearray()
    for n in range(samples):
        t = n / SAMPLE_RATE
        tone = _TONES[int(t / _TURN_SECONDS) % 2]
        out += struct.pack("<h", int(6000 * math.sin(2 * math.pi * tone * t)))
    return bytes(out)


_CYCLE = _one_cycle()


def conversation_samples(seconds: float, offset: float = 0.0) -> bytes:
    """`seconds` of a two-sided conversation from `offset` on: each side's tone in turn,
    8 kHz s16le."""
    count = max(int(round(seconds * SAMPLE_RATE)), 0) * 2
    start = (int(round(offset * SAMPLE_RATE)) * 2) % len(_CYCLE)
    repeats = (start + count) // len(_CYCLE) + 1
    return (_CYCLE * repeats)[start : start + count]


@dataclass(eq=False)
class _Monitor:
    channel_name: str
    file: str
    bridged_only: bool
    writer: wave.Wave_write | None
    bridged_since: float | None = None
    written_seconds: float = 0.0

    @property
    def monitor_id(self) -> str:
        return f"0x{id(self):x}"  # Asterisk prints the datastore's address

    def write(self, seconds: float) -> None:
        if self.writer is not None and seconds > 0:
            self.writer.writeframes(conversation_samples(seconds, self.written_seconds))
            self.written_seconds += seconds

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()  # patches the RIFF and data sizes, as format_wav does
            self.writer = None


class MixMonitors(Generic[C]):
    """Every running MixMonitor of the simulation, by channel Uniqueid.

    The stand-in has one writable directory: files the PBX names in `pbx_dir` (the
    dialplan's recordings directory) are written in `local_dir`. Any other file, or every
    file when `local_dir` is None, cannot be opened: as on an Asterisk whose directory is
    not writable, the events still come and no file appears.
    """

    def __init__(
        self,
        *,
        varset: Callable[[C, str, str], None],
        channel_event: Callable[[str, C], None],
        now: Callable[[], float],
        pbx_dir: str,
        local_dir: Path | None,
    ) -> None:
        self._varset = varset
        self._channel_event = channel_event
        self._now = now
        self._pbx_dir = PurePosixPath(pbx_dir)
        self._local_dir = local_dir
        self._running: dict[str, _Monitor] = {}

    def local_path(self, file: str) -> Path | None:
        """Where the stand-in keeps the PBX's file `file` (an absolute name)."""
        pbx_path = PurePosixPath(file)
        if self._local_dir is None or pbx_path.parent != self._pbx_dir or ".." in pbx_path.parts:
            return None
        return self._local_dir / pbx_path.name

    def is_running(self, channel: C) -> bool:
        return channel.uniqueid in self._running

    def monitor_id(self, channel: C) -> str | None:
        monitor = self._running.get(channel.uniqueid)
        return None if monitor is None else monitor.monitor_id

    def start(self, channel: C, data: str) -> str | None:
        """MixMonitor(data) on `channel`: the file name it records to, or None when the
        arguments name no file (the application then fails, returning -1)."""
        file, options, _command = split_arguments(data)
        if not file:
            log.warning("MixMonitor requires an argument (filename)")
            return None
        file = absolute_file_name(file)
        self._varset(channel, "MIXMONITOR_FILENAME", file)
        writer = self._open(file)
        old = self._running.pop(channel.uniqueid, None)
        if old is not None:  # a second MixMonitor: Asterisk runs both; one file each here
            old.close()
        monitor = _Monitor(channel.name, file, option_value(options, "b") is not None, writer)
        if channel.bridge_id or not monitor.bridged_only:
            monitor.bridged_since = self._now()
        self._running[channel.uniqueid] = monitor
        uid_variable = option_value(options, "i")
        if uid_variable:  # launch_monitor_thread() stores the datastore's id there
            self._varset(channel, uid_variable, monitor.monitor_id)
        self._channel_event("MixMonitorStart", channel)
        return file

    def _open(self, file: str) -> wave.Wave_write | None:
        path = self.local_path(file)
        if path is None:
            log.debug("Cannot open %s (the stand-in records nowhere)", file)
            return None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = wave.open(str(path), "wb")  # noqa: SIM115 - closed by _Monitor.close
        except OSError as exc:
            log.error("Cannot open %s: %s", file, exc)
            return None
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(b"")  # the header goes out now: the file exists from the start
        return writer

    def bridged(self, channel: C) -> None:
        monitor = self._running.get(channel.uniqueid)
        if monitor is not None and monitor.bridged_since is None:
            monitor.bridged_since = self._now()

    def unbridged(self, channel: C) -> None:
        monitor = self._running.get(channel.uniqueid)
        if monitor is None or not monitor.bridged_only or monitor.bridged_since is None:
            return
        monitor.write(self._now() - monitor.bridged_since)
        monitor.bridged_since = None

    def stop(self, channel: C) -> bool:
        """StopMixMonitor: closes the file and raises MixMonitorStop; False when the
        channel has no MixMonitor (the action then answers an error)."""
        monitor = self._running.pop(channel.uniqueid, None)
        if monitor is None:
            return False
        self._flush(monitor)
        self._channel_event("MixMonitorStop", channel)
        return True

    def hung_up(self, channel: C) -> None:
        """The channel is gone: the monitor thread closes the file, no event."""
        monitor = self._running.pop(channel.uniqueid, None)
        if monitor is not None:
            self._flush(monitor)

    def close_all(self) -> None:
        for monitor in self._running.values():
            self._flush(monitor)
        self._running.clear()

    def _flush(self, monitor: _Monitor) -> None:
        if monitor.bridged_since is not None:
            monitor.write(self._now() - monitor.bridged_since)
            monitor.bridged_since = None
        monitor.close()
