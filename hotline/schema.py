"""Refuse to serve on a database whose schema is not at the newest migration."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from hotline.settings import ConfigError
from storage.migrate import alembic_config, current


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def check_current(url: str) -> None:
    """Raise ConfigError with the fix in one line if `url` is unreachable or behind."""
    try:
        at = current(url)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"database {url} unreachable: {first}") from exc
    head = head_revision(url)
    if at != head:
        raise ConfigError(
            f"database {url} is at revision {at or 'none'}, expected {head}: "
            "run `hotline db upgrade`"
        )
