"""HTTP `Range: bytes=...` for one resource of a known size (RFC 9110 section 14).

Pure: `requested_range(header, size)` is the one range to send, None for the whole
resource, or `Unsatisfiable` (answer 416 with `Content-Range: bytes */size`). Only a
single range is served; a header naming several ranges gets the whole resource, which
RFC 9110 allows a server to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


class Unsatisfiable(Exception):
    """No byte of the resource is in the requested range (or the header is malformed
    in a way that names no range)."""


@dataclass(frozen=True, slots=True)
class ByteRange:
    first: int
    last: int  # inclusive

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.first}-{self.last}/{size}"


def requested_range(header: str | None, size: int) -> ByteRange | None:
    if header is None or not header.strip():
        return None
    unit, _, specs = header.partition("=")
    if unit.strip().lower() != "bytes" or not specs.strip():
        raise Unsatisfiable(header)
    parts = specs.split(",")
    if len(parts) > 1:
        return None
    match = _SPEC.match(parts[0])
    if match is None:
        raise Unsatisfiable(header)
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        raise Unsatisfiable(header)
    if not first_text:  # bytes=-N: the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise Unsatisfiable(header)
        return ByteRange(max(size - suffix, 0), size - 1)
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        raise Unsatisfiable(header)
    return ByteRange(first, min(last, size - 1))
