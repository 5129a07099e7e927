"""The one wall clock of the hotline.

Domain code takes the time as an argument; components that need "now" take a `Clock`
and default to `utc_now`, so tests pass a fake clock instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)
