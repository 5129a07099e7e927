"""Errors of the IVR package. One root (`IvrError`); no HTTP notions here."""

from __future__ import annotations


class IvrError(Exception):
    """Root of every error raised by the `ivr` package."""


class MenuFileError(IvrError):
    """The menu data file is missing, malformed, or fails validation."""


class PromptBuildError(IvrError):
    """Prompts could not be rendered (TTS engine or sox missing, voice unknown, ...)."""


class UnknownIncident(IvrError, LookupError):
    """The incident an outage announcement names is not a ticket."""


class AgiError(IvrError):
    """Something went wrong on the FastAGI conversation."""


class AgiInjection(AgiError, ValueError):
    """A value bound for the AGI socket contains CR or LF (command injection)."""


class AgiProtocolError(AgiError):
    """The peer sent something that is not a FastAGI reply, or closed mid-reply."""


class AgiConnectionLost(AgiProtocolError):
    """The PBX closed or reset the FastAGI connection: nothing more can be sent."""


class AgiHangup(AgiError):
    """The caller hung up: `200 result=-1` on a media command, or an unsolicited HANGUP."""


class AgiDeadChannel(AgiHangup):
    """`511`: the command is not permitted on a dead channel."""


class AgiInvalidCommand(AgiError):
    """`510 Invalid or unknown command`."""


class AgiUsageError(AgiError):
    """`520`: bad command syntax (single-line or multi-line usage reply)."""

    def __init__(self, message: str, usage: list[str]) -> None:
        super().__init__(message)
        self.usage = usage
