"""Errors of the AMI layer. One root (`AmiError`); no HTTP notions here.

Each is also the matching `calls.errors` error of the `CallControl` port the client
implements, so callers holding a `CallControl` catch those instead.
"""

from __future__ import annotations

from calls.errors import (
    CallControlError,
    PbxActionFailed,
    PbxNotConnected,
    PbxTimeout,
    UnsafeValue,
)


class AmiError(CallControlError):
    """Root of every error raised by the `ami` package."""


class HeaderInjection(AmiError, UnsafeValue):
    """A value bound for the AMI socket contains CR or LF (header injection)."""


class AmiNotConnected(AmiError, PbxNotConnected):
    """No authenticated AMI connection right now."""


class AmiAuthenticationFailed(AmiError):
    """Asterisk refused the Login."""


class AmiActionError(AmiError, PbxActionFailed):
    """Asterisk answered an action with `Response: Error` (or Failure)."""


class AmiTimeout(AmiError, PbxTimeout):
    """No response to an action within its timeout."""
