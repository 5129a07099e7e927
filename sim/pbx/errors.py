"""Errors of the PBX stand-in. One root: `PbxError`."""

from __future__ import annotations


class PbxError(Exception):
    """Root of every error raised by the `pbx` package."""


class PbxNotRunning(PbxError):
    """The stand-in was used before `start()` or after `stop()`."""


class UnknownChannel(PbxError):
    """No live channel has that name."""


class BadCallSpec(PbxError, ValueError):
    """A simulated call or agent was described with impossible values."""
