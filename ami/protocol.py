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
MAX_MESSAGE_BYTES = 1 << 20  # a message bigger than this is garbage, not a slow peer


class AmiMessage:
    """One AMI message (response or event) with ordered, case-preserving headers.

    Repeated keys (``Output``, ``Variable``, ``ChanVariable``) keep every value: `get`
    returns the first, `getall` all of them in order.

    Parsing is lazy: the framer hands over the message text and the headers are split
    on first access. The name (`event`/`response`) and whether an ``ActionID`` is present
    are read without a full parse, so the many events nobody follows (RTCP reports,
    unrelated VarSet events, ...) cost almost nothing.
    """

    __slots__ = ("_text", "_headers", "_first", "_lower")

    def __init__(self, headers: list[tuple[str, str]] | None = None, *, text: str = "") -> None:
        self._text = text
        self._headers = headers
        self._first: dict[str, str] | None = None
        self._lower: dict[str, str] | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, str]) -> AmiMessage:
        return cls(list(data.items()))

    @property
    def headers(self) -> list[tuple[str, str]]:
        if self._headers is None:
            self._headers = _headers_of(self._text)
        return self._headers

    @property
    def fields(self) -> dict[str, str]:
        """First value of every key (exact capitalisation)."""
        first = self._first
        if first is None:
            headers = self.headers
            first = dict(headers)
            if len(first) != len(headers):
                first = dict(reversed(headers))  # repeated keys: `get` returns the first
            self._first = first
        return first

    @property
    def text(self) -> str:
        """The message as received (for logs and raw passthrough)."""
        if not self._text:
            self._text = "\n".join(f"{k}: {v}" if k else v for k, v in self.headers)
        return self._text

    def contains_text(self, fragment: str) -> bool:
        """Cheap pre-filter on the raw text, before any parsing."""
        return fragment in self.text

    def get(self, key: str, default: str = "") -> str:
        value = self.fields.get(key)
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

    def _leading(self, prefix: str) -> str:
        text = self._text
        if self._headers is None and text.startswith(prefix):
            nl = text.find("\n")
            return text[len(prefix) : nl if nl >= 0 else len(text)]
        return self.fields.get(prefix[:-2], "")

    @property
    def event(self) -> str:
        return self._leading("Event: ")

    @property
    def response(self) -> str:
        return self._leading("Response: ")

    @property
    def action_id(self) -> str:
        if self._headers is None and "ActionID:" not in self._text:
            return ""
        return self.fields.get("ActionID", "")

    @property
    def is_event(self) -> bool:
        return bool(self.event)

    @property
    def is_response(self) -> bool:
        return bool(self.response)

    def as_dict(self) -> dict[str, str]:
        return dict(self.fields)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.headers)

    def __repr__(self) -> str:
        kind = self.event or self.response or "?"
        return f"<AmiMessage {kind} {len(self.headers)} headers>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AmiMessage) and self.headers == other.headers

    __hash__ = None  # type: ignore[assignment]


_HEADER = re.compile(r"^([^:\n]+): ?(.*)$", re.M)


def _headers_of(block: str) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = _HEADER.findall(block)
    if len(headers) != block.count("\n") + 1:
        # Rare: a line without a colon (old-style command output). Keep it, keyless,
        # in its place rather than lose it.
        headers = []
        for line in block.split("\n"):
            match = _HEADER.match(line)
            if match:
                headers.append((match.group(1), match.group(2)))
            elif line:
                headers.append(("", line))
    return headers


def _message_of(block: str) -> AmiMessage | None:
    if block.startswith(("Event: ", "Response: ")):
        return AmiMessage(text=block)  # the usual case: parse lazily
    headers = _headers_of(block)
    if not headers or all(not k for k, _ in headers):
        return None
    return AmiMessage(headers, text=block)


def parse_message(raw: bytes) -> AmiMessage | None:
    """Parse one framed message (without its terminating blank line).

    Returns None for a block that holds no ``Key: Value`` line at all (stray noise).
    Invalid UTF-8 becomes U+FFFD rather than an exception: a bad byte in one caller
    name must not cost the whole event.
    """
    text = raw.replace(b"\r\n", b"\n").decode("utf-8", "replace")
    return _message_of(text.strip("\n"))


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
        if self.banner is None and not self._take_banner():
            return []
        # Everything up to the last blank line is complete; decode it in one go (it
        # ends on a message boundary, so no UTF-8 sequence is cut) and split it.
        end = 0
        for sep in (b"\r\n\r\n", b"\n\n", b"\n\r\n"):
            at = buf.rfind(sep)
            if at >= 0:
                end = max(end, at + len(sep))
        if not end:
            self._bound()
            return []
        ready = bytes(buf[:end])
        del buf[:end]
        text = ready.replace(b"\r\n", b"\n").decode("utf-8", "replace")
        messages: list[AmiMessage] = []
        append = messages.append
        for block in text.split("\n\n"):
            if not block:
                continue
            if block[0] == "\n":
                block = block.lstrip("\n")  # stray blank lines between messages
                if not block:
                    continue
            message = _message_of(block)
            if message is None:
                self.discarded += 1
            else:
                append(message)
        self._bound()
        return messages

    def _bound(self) -> None:
        buf = self._buffer
        if len(buf) > MAX_MESSAGE_BYTES:
            # No blank line for a megabyte: drop it rather than grow without bound.
            self.discarded += 1
            keep = buf.rfind(b"\n")
            del buf[: keep + 1 if keep >= 0 else len(buf)]

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
