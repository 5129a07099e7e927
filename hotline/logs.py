"""Log records as operators read them: one line per event, control characters escaped.

Text lines read `2026-12-05T09:10:00+08:00 INFO ami.tracker call=1733.5 queued in …`;
`HOTLINE_LOG_FORMAT=json` gives one JSON object per line (`time`, `level`, `component`,
`message`, `call_id`, `exc`) for log shippers. The call id comes from the record's
`call_id` attribute (`extra={"call_id": …}`) or from a message that starts
`call <id>:`, the convention of every line about a call.

By default a command shows warnings and errors only (its own result goes to stdout);
a service (`serve`, `demo`) also shows the hotline's own INFO events. `-v` shows DEBUG
for the hotline and INFO for the libraries, with full tracebacks.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]

# Top-level packages of the product: their INFO lines are a service's events.
OWN_PACKAGES = (
    "ami",
    "bus",
    "calls",
    "cluster",
    "console",
    "fallback",
    "hotline",
    "ivr",
    "routing",
    "storage",
    "supervision",
)
_CALL_PREFIX = re.compile(r"^call (\S+?):")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def escape(text: str) -> str:
    """`text` with every control character (CR, LF, ESC …) written as an escape."""

    def one(match: re.Match[str]) -> str:
        char = match.group()
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\x{ord(char):02x}")

    return _CONTROL.sub(one, text)


def call_id_of(record: logging.LogRecord, message: str) -> str | None:
    explicit = getattr(record, "call_id", None)
    if explicit is not None:
        return str(explicit)
    match = _CALL_PREFIX.match(message)
    return match.group(1) if match else None


def _exception_text(record: logging.LogRecord, *, full: bool) -> str | None:
    if record.exc_info and record.exc_info[1] is not None:
        if full:
            return logging.Formatter().formatException(record.exc_info)
        exc = record.exc_info[1]
        return f"{type(exc).__name__}: {exc}"
    return None


def _timestamp(record: logging.LogRecord) -> str:
    return (
        datetime.fromtimestamp(record.created, UTC).astimezone().isoformat(timespec="milliseconds")
    )


class TextFormatter(logging.Formatter):
    """`time level component [call=ID] message [| exception]` on one line."""

    def __init__(self, *, tracebacks: bool) -> None:
        super().__init__()
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        message = escape(record.getMessage())
        call_id = call_id_of(record, message)
        call = f" call={escape(call_id)}" if call_id and not _CALL_PREFIX.match(message) else ""
        line = f"{_timestamp(record)} {record.levelname} {record.name}{call} {message}"
        exc = _exception_text(record, full=self.tracebacks)
        if exc is None:
            return line
        if self.tracebacks:
            return f"{line}\n{exc}"
        return f"{line} | {escape(exc)}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the traceback, when there is one, is a field."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, str] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "component": record.name,
            "message": message,
        }
        call_id = call_id_of(record, message)
        if call_id is not None:
            entry["call_id"] = call_id
        exc = _exception_text(record, full=True)
        if exc is not None:
            entry["exc"] = exc
        # ensure_ascii keeps every control character escaped, so a record is one line.
        return json.dumps(entry, ensure_ascii=True)


def configure_logging(*, verbose: bool, fmt: LogFormat = "text", service: bool = False) -> None:
    """Route every logger to stderr in `fmt`, at the levels the module docstring gives."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter(tracebacks=verbose))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    own = logging.DEBUG if verbose else logging.INFO if service else logging.WARNING
    for name in OWN_PACKAGES:
        logging.getLogger(name).setLevel(own)
