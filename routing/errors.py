"""Errors of the routing package. One root (`RoutingError`); no HTTP notions here."""

from __future__ import annotations


class RoutingError(Exception):
    """Root of every error raised by the `routing` package and its storage adapters."""


class InvalidInput(RoutingError, ValueError):
    """A value from outside is unacceptable (too long, wrong type, CR/LF, unknown field...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TicketNotFound(RoutingError, LookupError):
    def __init__(self, number: str) -> None:
        super().__init__(f"no ticket {number!r}")
        self.number = number


class SiteNotFound(RoutingError, LookupError):
    def __init__(self, site_code: str) -> None:
        super().__init__(f"no site {site_code!r}")
        self.site_code = site_code


class UserExists(RoutingError):
    def __init__(self, username: str) -> None:
        super().__init__(f"user {username!r} already exists")
        self.username = username


class UserNotFound(RoutingError, LookupError):
    def __init__(self, username: str) -> None:
        super().__init__(f"no user {username!r}")
        self.username = username


class LastAdmin(RoutingError):
    """The change would leave no enabled admin (nobody could manage users any more)."""

    def __init__(self, username: str) -> None:
        super().__init__(f"{username!r} is the last enabled admin")
        self.username = username


class StoreUnavailable(RoutingError):
    """The database cannot be reached or refused the write (drives emergency mode)."""


# What a database outage looks like to the stores: worth waiting for.
STORE_OUTAGE = (StoreUnavailable, OSError, TimeoutError)
