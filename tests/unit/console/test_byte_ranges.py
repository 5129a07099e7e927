"""`Range: bytes=...` for the recording route: one range served, 416 when none of it
is in the file, the whole file for no header or several ranges."""

from __future__ import annotations

import pytest

from console.domain.byte_ranges import ByteRange, Unsatisfiable, requested_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("", 100, None),
        ("bytes=0-0", 100, ByteRange(0, 0)),
        ("bytes=0-43", 100, ByteRange(0, 43)),
        ("bytes=10-", 100, ByteRange(10, 99)),
        ("bytes=90-1000", 100, ByteRange(90, 99)),  # clipped to the end
        ("bytes=-10", 100, ByteRange(90, 99)),
        ("bytes=-1000", 100, ByteRange(0, 99)),
        ("BYTES = 5 - 6", 100, ByteRange(5, 6)),
        ("bytes=0-1,5-6", 100, None),  # several ranges: the whole file
        ("bytes=99-99", 100, ByteRange(99, 99)),
    ],
)
def test_served_ranges(header: str | None, size: int, expected: ByteRange | None) -> None:
    assert requested_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=100-", 100),
        ("bytes=100-200", 100),
        ("bytes=9-3", 100),
        ("bytes=-0", 100),
        ("bytes=-", 100),
        ("bytes=a-b", 100),
        ("items=0-1", 100),
        ("bytes=", 100),
        ("bytes=0-", 0),
        ("bytes=-5", 0),
    ],
)
def test_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(Unsatisfiable):
        requested_range(header, size)


def test_content_range_and_length() -> None:
    part = ByteRange(10, 19)
    assert part.length == 10
    assert part.content_range(100) == "bytes 10-19/100"
