"""The exception root of the supervision package (no HTTP notions here)."""

from __future__ import annotations


class SupervisionError(Exception):
    """Root of every error raised by the `supervision` package."""


class SupervisionConfigError(SupervisionError, ValueError):
    """Bad supervision configuration (calendar, recipients, channels)."""


class UnknownAckCode(SupervisionError):
    """An acknowledgement code that no notice carries."""


class DeliveryError(SupervisionError):
    """A notification channel refused or failed to take a notice."""

    def __init__(self, channel: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(f"{channel}: {message}")
        self.channel = channel
        self.message = message
        self.retryable = retryable


class HeaderInjection(SupervisionError, ValueError):
    """A value bound for a mail header or URL carries CR or LF."""


class SupervisionStoreError(SupervisionError):
    """The database behind a supervision port refused or could not be reached."""
