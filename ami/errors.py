"""Errors of the AMI layer. One root (`AmiError`); no HTTP notions here."""

from __future__ import annotations


class AmiError(Exception):
    """Root of every error raised by the `ami` package."""


class HeaderInjection(AmiError, ValueError):
    """A value bound for the AMI socket contains CR or LF (header injection)."""


class AmiNotConnected(AmiError):
    """No authenticated AMI connection right now."""


class AmiAuthenticationFailed(AmiError):
    """Asterisk refused the Login."""


class AmiActionError(AmiError):
    """Asterisk answered an action with `Response: Error` (or Failure)."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"{action}: {message}")
        self.action = action
        self.message = message


class AmiTimeout(AmiError):
    """No response to an action within its timeout."""
