"""AMI wire format: an incremental framing parser and the message type.

Why not panoramisk's parser: it decodes every TCP read on its own (a UTF-8 character
split across two reads is silently dropped), splits only on ``\\r\\n\\r\\n`` (an event
ending in ``\\r\\n\\n`` swallows the next one) and lower-cases every key. This parser
buffers *bytes*, frames on any blank line (``\\r\\n\\r\\n``, ``\\r\\n\\n``, ``\\n\\n``),
decodes one complete message at a time and keeps header order and case.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

BANNER_PREFIX = b"Asterisk Call Manager/"
# A message ends at the first empty line, whatever line ending the peer used.
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
MAX_MESSAGE_BYTES = 1 << 20  # a message bigger than this is garbage, not a slow peer


class AmiMessage:
    """One AMI message (response or event) with ordered, case-preserving headers.

    Repeated keys (``Output``, ``Variable``, ``ChanVariable``) keep every value: `get`
    returns the first, `getall` all of them in order.
    """

    __slots__ = ("headers", "_first", "_lower")

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.headers = headers
        first: dict[str, str] = {}
        for key, value in headers:
            first.setdefault(key, value)
        self._first = first
        self._lower: dict[str, str] | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, str]) -> AmiMessage:
        return cls(list(data.items()))

    def get(self, key: str, default: str = "") -> str:
        value = self._first.get(key)
        if value is not None:
            return value
        # Fallback for callers that don't know Asterisk's exact capitalisation.
        if self._lower is None:
            self._lower = {k.lower(): v for k, v in reversed(self.headers)}
        return self._lower.get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        value = self.get(key, "\0missing")
        if value == "\0missing":
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, "\0missing") != "\0missing"

    def getall(self, key: str) -> list[str]:
        lowered = key.lower()
        return [v for k, v in self.headers if k == key or k.lower() == lowered]

    @property
    def event(self) -> str:
        return self._first.get("Event", "")

    @property
    def response(self) -> str:
        return self._first.get("Response", "")

    @property
    def action_id(self) -> str:
        return self._first.get("ActionID", "")

    @property
    def is_event(self) -> bool:
        return "Event" in self._first

    @property
    def is_response(self) -> bool:
        return "Response" in self._first

    def as_dict(self) -> dict[str, str]:
        return dict(self._first)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.headers)

    def __repr__(self) -> str:
        kind = self.event or self.response or "?"
        return f"<AmiMessage {kind} {len(self.headers)} headers>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AmiMessage) and self.headers == other.headers

    __hash__ = None  # type: ignore[assignment]


def parse_message(raw: bytes) -> AmiMessage | None:
    """Parse one framed message (without its terminating blank line).

    Returns None for a block that holds no ``Key: Value`` line at all (stray noise).
    Invalid UTF-8 becomes U+FFFD rather than an exception: a bad byte in one caller
    name must not cost the whole event.
    """
    text = raw.decode("utf-8", "replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    headers: list[tuple[str, str]] = []
    append = headers.append
    for line in text.split("\n"):
        key, sep, value = line.partition(": ")
        if sep:
            append((key, value))
        elif line.endswith(":") and " " not in line:
            append((line[:-1], ""))  # "Key:" with nothing after it
        elif line:
            # A body line without a key (old-style command output): keep it, don't lose it.
            append(("", line))
    if not headers or all(not k for k, _ in headers):
        return None
    return AmiMessage(headers)


class AmiFrameParser:
    """Incremental parser: feed bytes as they arrive, get whole messages back.

    Never raises on input: garbage that is not a message is counted in `discarded`
    and the parser re-synchronises on the next blank line.
    """

    def __init__(self, *, expect_banner: bool = True) -> None:
        self._buffer = bytearray()
        self.banner: str | None = None if expect_banner else ""
        self.discarded = 0

    def feed(self, data: bytes) -> list[AmiMessage]:
        buf = self._buffer
        buf += data
        if self.banner is None:
            if not self._take_banner():
                return []
        messages: list[AmiMessage] = []
        start = 0
        search = _BLANK_LINE.search
        # bytes(...) once per feed: regex on a bytearray works too, but slicing a bytes
        # object is cheaper than slicing a bytearray in the loop below.
        view = bytes(buf)
        while True:
            match = search(view, start)
            if match is None:
                break
            block = view[start : match.start()]
            start = match.end()
            if not block.strip(b"\r\n"):
                continue  # stray blank lines between messages
            message = parse_message(block)
            if message is None:
                self.discarded += 1
            else:
                messages.append(message)
        if start:
            del buf[:start]
        if len(buf) > MAX_MESSAGE_BYTES:
            # No blank line for a megabyte: drop it rather than grow without bound.
            self.discarded += 1
            keep = buf.rfind(b"\n")
            del buf[: keep + 1 if keep >= 0 else len(buf)]
        return messages

    def _take_banner(self) -> bool:
        buf = self._buffer
        end = buf.find(b"\n")
        if end < 0:
            if len(buf) >= len(BANNER_PREFIX) and not buf.startswith(BANNER_PREFIX):
                self.banner = ""  # no banner (mid-stream replay): parse messages directly
                return True
            return False
        if buf.startswith(BANNER_PREFIX):
            self.banner = buf[:end].decode("utf-8", "replace").rstrip("\r")
            del buf[: end + 1]
        else:
            self.banner = ""
        return True

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer)


def banner_version(banner: str) -> str:
    """'Asterisk Call Manager/11.0.0' → '11.0.0'."""
    return banner.partition("/")[2].strip()
