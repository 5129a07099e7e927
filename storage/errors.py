"""Translate driver failures into the routing package's errors (one root: RoutingError)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from routing.errors import StoreUnavailable


@contextmanager
def store_errors() -> Iterator[None]:
    """An unreachable or failing database becomes StoreUnavailable (emergency mode watches
    it). So does a connection lost in the middle of a statement, which asyncpg reports as
    a plain DBAPIError that SQLAlchemy marks as invalidating the connection."""
    try:
        yield
    except (OperationalError, InterfaceError, PoolTimeout, OSError, TimeoutError) as exc:
        raise StoreUnavailable(f"database unavailable: {exc}") from exc
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise  # the statement's own fault (a constraint, a bad value), not an outage
        raise StoreUnavailable(f"database connection lost: {exc}") from exc
