"""FastAGI on top of `panoramisk.fast_agi`, with the faults of panoramisk 1.4 fixed.

What panoramisk 1.4 gets wrong, and what replaces it here (each has a reproduction test
in `tests/integration/ivr/test_panoramisk_faults.py`):

* `Application.handler` reads the `agi_*` block with ``while b'\\n\\n' not in buffer:
  buffer += await reader.read(100)``: once the client disconnects early, `read()` returns
  ``b''`` at once, without yielding, so the loop spins forever and freezes the event
  loop. `AgiApplication.handler` uses ``readuntil`` with a size limit and a timeout.
* `Application.add_route` wraps plain functions with `asyncio.coroutine`, which Python
  3.11 removed: registering a plain function raises AttributeError.
* `Request.send_command` writes the command unchecked (CR/LF injects extra commands),
  returns error dicts instead of raising, reads exactly one extra line after a `520`
  (so both the single-line and the multi-line usage replies desynchronise the
  conversation), and takes an unsolicited ``HANGUP`` line as the reply to the next
  command (the real reply then answers the command after it).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from panoramisk.fast_agi import Application, Request

from ivr.errors import (
    AgiConnectionLost,
    AgiDeadChannel,
    AgiHangup,
    AgiInjection,
    AgiInvalidCommand,
    AgiProtocolError,
    AgiUsageError,
)

log = logging.getLogger(__name__)

_REPLY = re.compile(
    r"^200 result=(?P<result>\S*)(?: \((?P<data>.*)\))?(?: endpos=(?P<endpos>-?\d+))?\s*$"
)
_VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_]+(?:\([^\s()]*\))?$")
# Commands whose `result=-1` means the channel hung up while they ran.
_MEDIA = (
    "ANSWER",
    "STREAM FILE",
    "GET DATA",
    "WAIT FOR DIGIT",
    "GET OPTION",
    "SAY ",
    "RECORD FILE",
    "CONTROL STREAM FILE",
)
Route = Callable[["AgiChannel"], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class AgiReply:
    code: int
    result: str
    data: str | None = None
    endpos: int | None = None
    line: str = ""


def parse_reply_line(line: str) -> AgiReply:
    """Parse one `200 result=...` line (other codes are handled by the reader)."""
    m = _REPLY.match(line)
    if m is None:
        raise AgiProtocolError(f"unexpected AGI reply {line!r}")
    endpos = m.group("endpos")
    return AgiReply(
        200, m.group("result"), m.group("data"), int(endpos) if endpos is not None else None, line
    )


def quote_arg(value: str) -> str:
    """An AGI argument in double quotes; CR/LF (command injection) is refused."""
    if "\r" in value or "\n" in value or "\x00" in value:
        raise AgiInjection(f"CR/LF/NUL in AGI argument {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _path_arg(value: str) -> str:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise AgiInjection(f"CR/LF/NUL in AGI argument {value!r}")
    return value if value and not re.search(r'[\s"\\]', value) else quote_arg(value)


def parse_agi_environment(raw: bytes, encoding: str = "utf-8") -> dict[str, str]:
    """The `agi_*` block (lines ``key: value``, ended by an empty line) as a dict."""
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise AgiProtocolError(f"agi_* block is not {encoding}") from exc
    headers: dict[str, str] = {}
    for line in text.split("\n"):
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise AgiProtocolError(f"malformed agi_* line {line!r}")
        headers[key.strip()] = value[1:] if value.startswith(" ") else value
    return headers


class AgiChannel(Request):  # type: ignore[misc]
    """One FastAGI session: the caller channel as our IVR sees it."""

    def __init__(
        self,
        app: Application,
        headers: dict[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        encoding: str = "utf-8",
    ) -> None:
        super().__init__(app, headers, reader, writer, encoding)
        self.headers: dict[str, str] = headers
        self.reader: asyncio.StreamReader = reader
        self.writer: asyncio.StreamWriter = writer
        self.encoding: str = encoding
        self.hung_up = False
        self.connection_lost = False
        # Read once: send_command is the hot path of every call.
        self._reply_timeout: float | None = getattr(app, "reply_timeout", None)
        self._observer: Callable[[str, float], None] | None = getattr(app, "command_observer", None)

    @property
    def call_id(self) -> str:
        return self.headers.get("agi_uniqueid", "?")

    @property
    def caller_number(self) -> str:
        number = self.headers.get("agi_callerid", "")
        return "" if number == "unknown" else number

    def _lost(self, what: str) -> AgiConnectionLost:
        self.connection_lost = True
        return AgiConnectionLost(what)

    async def _readline(self) -> str:
        try:
            raw = await self.reader.readline()
        except (ConnectionError, OSError) as exc:
            raise self._lost(f"AGI connection lost: {exc}") from exc
        if not raw:
            raise self._lost("Asterisk closed the AGI connection")
        if not raw.endswith(b"\n"):
            raise self._lost("AGI connection closed in the middle of a reply")
        try:
            return raw.decode(self.encoding).rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise AgiProtocolError("AGI reply is not valid text") from exc

    async def _read_reply(self, command: str) -> AgiReply:
        while True:
            line = await self._readline()
            if line == "HANGUP":
                # Unsolicited: the caller is gone; the real reply still follows.
                self.hung_up = True
                log.info("call %s: caller hung up (AGI HANGUP)", self.call_id)
                continue
            if line.startswith("100"):
                continue  # "100 result=0 Trying..." precedes the real reply
            if line.startswith("520-"):
                usage = [line[4:]]
                while True:
                    more = await self._readline()
                    if more.startswith("520 "):
                        usage.append(more[4:])
                        break
                    usage.append(more)
                raise AgiUsageError(f"{command!r}: invalid command syntax", usage)
            if line.startswith("520"):
                raise AgiUsageError(f"{command!r}: {line[4:]}", [line[4:]])
            if line.startswith("510"):
                raise AgiInvalidCommand(f"{command!r}: {line[4:]}")
            if line.startswith("511"):
                self.hung_up = True
                raise AgiDeadChannel(f"{command!r}: {line[4:]}")
            return parse_reply_line(line)

    async def send_command(self, command: str) -> AgiReply:
        """Send one command line and return its parsed `200` reply; raise otherwise."""
        if "\r" in command or "\n" in command:
            raise AgiInjection(f"CR/LF in AGI command {command!r}")
        is_media = command[:20].upper().startswith(_MEDIA)
        if is_media and self.hung_up:
            raise AgiHangup(f"call {self.call_id}: not sending {command!r}, caller hung up")
        if self.connection_lost:
            raise self._lost(f"AGI connection gone; not sending {command!r}")
        try:
            self.writer.write((command + "\n").encode(self.encoding))
            await self.writer.drain()
        except (ConnectionError, OSError) as exc:
            raise self._lost(f"AGI connection lost sending {command!r}") from exc
        started = time.perf_counter()
        if self._reply_timeout is None:
            reply = await self._read_reply(command)
        else:
            try:
                async with asyncio.timeout(self._reply_timeout):
                    reply = await self._read_reply(command)
            except TimeoutError as exc:
                raise AgiProtocolError(f"call {self.call_id}: no reply to {command!r}") from exc
        if self._observer is not None:
            self._observer(command, time.perf_counter() - started)
        if is_media and reply.result == "-1":
            self.hung_up = True
            raise AgiHangup(f"call {self.call_id}: caller hung up during {command!r}")
        return reply

    # -- typed commands -------------------------------------------------------------

    async def answer(self) -> None:
        await self.send_command("ANSWER")

    async def stream_file(self, path: str, escape_digits: str = "") -> str | None:
        """Play `path` (no extension); the escape digit pressed, if any."""
        if not re.fullmatch(r"[0-9*#]*", escape_digits):
            raise ValueError(f"bad escape digits {escape_digits!r}")
        reply = await self.send_command(f'STREAM FILE {_path_arg(path)} "{escape_digits}"')
        code = int(reply.result or "0")
        return chr(code) if code > 0 else None

    async def get_data(self, path: str, timeout_ms: int, max_digits: int) -> tuple[str, bool]:
        """Play `path` and collect digits (`#` ends): (digits, timed_out)."""
        reply = await self.send_command(f"GET DATA {_path_arg(path)} {timeout_ms} {max_digits}")
        return reply.result, reply.data == "timeout"

    async def set_variable(self, name: str, value: str) -> None:
        if not _VARIABLE_NAME.match(name):
            raise AgiInjection(f"bad channel variable name {name!r}")
        await self.send_command(f"SET VARIABLE {name} {quote_arg(value)}")

    async def get_variable(self, name: str) -> str | None:
        if not _VARIABLE_NAME.match(name):
            raise AgiInjection(f"bad channel variable name {name!r}")
        reply = await self.send_command(f"GET VARIABLE {name}")
        return reply.data if reply.result == "1" else None

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.send_command(f"VERBOSE {quote_arg(message)} {level}")


class AgiApplication(Application):  # type: ignore[misc]
    """panoramisk's FastAGI application with a handler that cannot spin or hang."""

    def __init__(
        self,
        *,
        header_timeout: float = 10.0,
        reply_timeout: float | None = 300.0,
        encoding: str = "utf-8",
    ) -> None:
        # panoramisk would call asyncio.get_event_loop(); be explicit (needs a running loop).
        super().__init__(default_encoding=encoding, loop=asyncio.get_running_loop())
        self.header_timeout = header_timeout
        # A silent PBX must not hold a session forever; GET DATA legitimately takes
        # prompt length + digit timeout, so this is generous.
        self.reply_timeout = reply_timeout
        self.failures = 0
        self.on_error: Callable[[str, BaseException], None] | None = None
        # Called with (command, seconds from write to parsed reply): latency metrics.
        self.command_observer: Callable[[str, float], None] | None = None

    def add_route(self, path: str, endpoint: Route) -> None:
        """Register `endpoint` for `agi_network_script == path`; plain functions work too."""
        if not callable(endpoint):
            raise TypeError(f"route {path!r}: endpoint is not callable")
        if inspect.iscoroutinefunction(endpoint):
            super().add_route(path, endpoint)
            return

        async def plain(request: AgiChannel) -> None:
            outcome = endpoint(request)
            if inspect.isawaitable(outcome):
                await outcome

        super().add_route(path, plain)

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer: Any = writer.get_extra_info("peername")
        script: str | None = None
        call_id = "?"
        try:
            try:
                async with asyncio.timeout(self.header_timeout):
                    raw = await reader.readuntil(b"\n\n")
            except asyncio.IncompleteReadError:
                log.warning("FastAGI client %s left before ending its agi_* block", peer)
                return
            except asyncio.LimitOverrunError:
                log.warning("FastAGI client %s sent an oversized agi_* block", peer)
                return
            except TimeoutError:
                log.warning("FastAGI client %s sent no complete agi_* block in time", peer)
                return
            headers = parse_agi_environment(raw, self.default_encoding)
            script = headers.get("agi_network_script")
            call_id = headers.get("agi_uniqueid", "?")
            route = self._route.get(script) if script is not None else None
            if route is None:
                log.error("call %s: no FastAGI route for script %r", call_id, script)
                return
            log.debug("call %s: FastAGI %s from %s", call_id, script, peer)
            request = AgiChannel(self, headers, reader, writer, self.default_encoding)
            await route(request)
        except Exception as exc:
            # Top of a connection task: nobody above to raise to, so report loudly.
            self.failures += 1
            log.exception("call %s: FastAGI script %r failed", call_id, script)
            if self.on_error is not None:
                self.on_error(call_id, exc)
        finally:
            writer.close()
            with suppress(ConnectionError, OSError):
                await writer.wait_closed()
