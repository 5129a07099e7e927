"""AMI wire framing exactly as Asterisk's manager.c does it.

Asterisk ends a header line only at CR LF (a bare CR or LF stays inside the line), ignores
a line longer than its 1024-byte input buffer, and ends a message at an empty line. We do
the same, and on top of that refuse any action whose values carry a stray CR or LF so a
client can never smuggle a header into an event we echo to other clients.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

Header = tuple[str, str]

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
MAX_LINE_BYTES = 1024  # Asterisk's session input buffer
MAX_HEADERS = 128  # AST_MAX_MANHEADERS


def encode_message(headers: Iterable[Header]) -> bytes:
    """One AMI message: `Key: Value` lines and the terminating empty line.

    Values we emit never contain CR or LF (replaced by a space) so no header can be forged
    through a value, even one a client set earlier.
    """
    parts: list[str] = []
    for key, value in headers:
        if "\r" in value or "\n" in value:
            value = value.replace("\r", " ").replace("\n", " ")
        parts.append(f"{key}: {value}\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class Action:
    """One action as the client sent it (header order kept, names as sent)."""

    headers: tuple[Header, ...]
    tainted: bool = False  # a value contained a bare CR or LF

    def get(self, name: str, default: str = "") -> str:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return default

    def has(self, name: str) -> bool:
        lname = name.lower()
        return any(key.lower() == lname for key, _ in self.headers)

    def get_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [value for key, value in self.headers if key.lower() == lname]

    @property
    def name(self) -> str:
        return self.get("Action")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID") if self.has("ActionID") else None


@dataclass
class ActionDecoder:
    """Incremental decoder for the client → Asterisk direction."""

    _buffer: bytearray = field(default_factory=bytearray)
    _discarding: bool = False  # inside an over-long line: drop bytes up to the next CR LF
    _headers: list[Header] = field(default_factory=list)
    _tainted: bool = False
    dropped_lines: int = 0

    def feed(self, data: bytes) -> list[Action]:
        self._buffer.extend(data)
        actions: list[Action] = []
        while True:
            end = self._buffer.find(b"\r\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE_BYTES:
                    # Like Asterisk: "Dumping long line with no return"; keep only the last
                    # byte in case it is the CR of the coming CR LF.
                    self._discarding = True
                    self.dropped_lines += 1
                    del self._buffer[:-1]
                break
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + 2]
            if self._discarding:
                self._discarding = False
                continue
            if len(raw) > MAX_LINE_BYTES:
                self.dropped_lines += 1
                continue
            if not raw:
                if self._headers:
                    actions.append(Action(tuple(self._headers), self._tainted))
                self._headers = []
                self._tainted = False
                continue
            line = raw.decode("utf-8", errors="replace")
            if "\r" in line or "\n" in line:
                self._tainted = True
            key, sep, value = line.partition(":")
            if not sep:
                continue  # not a header: Asterisk ignores it as well
            if len(self._headers) < MAX_HEADERS:
                self._headers.append((key.strip(), value.lstrip(" \t")))
        return actions
