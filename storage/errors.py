"""Translate driver failures into the routing package's errors (one root: RoutingError)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from routing.errors import StoreUnavailable


@contextmanager
def store_errors() -> Iterator[None]:
    """An unreachable or failing database becomes StoreUnavailable (emergency mode watches it)."""
    try:
        yield
    except (OperationalError, InterfaceError, PoolTimeout, OSError, TimeoutError) as exc:
        raise StoreUnavailable(f"database unavailable: {exc}") from exc
