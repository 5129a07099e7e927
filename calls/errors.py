"""Errors a `calls.control.CallControl` raises. One root (`CallControlError`); no HTTP
notions here.

The AMI client raises subclasses of these (`ami.errors`), so code holding a
`CallControl` catches these and never needs to know which adapter is behind it.
"""

from __future__ import annotations


class CallControlError(Exception):
    """Root of every error a `CallControl` raises: the PBX did not do what was asked."""


class UnsafeValue(CallControlError, ValueError):
    """A value bound for the PBX contains CR or LF; nothing was sent."""


class PbxNotConnected(CallControlError):
    """No usable connection to the PBX right now."""


class PbxActionFailed(CallControlError):
    """The PBX answered an action with an error; `message` is its reason."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"{action}: {message}")
        self.action = action
        self.message = message


class PbxTimeout(CallControlError):
    """The PBX did not answer an action within its timeout."""
