from __future__ import annotations

import pytest

from routing.errors import StoreUnavailable
from storage.database import async_url, sync_url
from storage.ticket_rows import like_pattern, network_text
from storage.users import check_interface, hash_password, verify_password


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///./hotline.db", "sqlite+aiosqlite:///./hotline.db"),
        ("sqlite:////var/lib/hotline/h.db", "sqlite+aiosqlite:////var/lib/hotline/h.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://u:p%40ss@db:5432/hotline", "postgresql+asyncpg://u:p%40ss@db:5432/hotline"),
        ("postgresql+psycopg://u@db/h", "postgresql+asyncpg://u@db/h"),
        ("postgres://u@db/h", "postgresql+asyncpg://u@db/h"),
    ],
)
def test_async_urls(url: str, expected: str) -> None:
    assert async_url(url) == expected


def test_sync_urls_for_alembic() -> None:
    assert sync_url("sqlite:///./h.db") == "sqlite:///./h.db"
    assert sync_url("postgresql://u@db/h") == "postgresql+psycopg://u@db/h"


@pytest.mark.parametrize("url", ["mysql://u@h/d", "not a url at all ::"])
def test_unsupported_urls(url: str) -> None:
    with pytest.raises(StoreUnavailable):
        async_url(url)


def test_like_pattern_escapes_metacharacters() -> None:
    assert like_pattern("100%_\\") == "%100\\%\\_\\\\%"


def test_network_text() -> None:
    assert network_text("a\r\nb\x00c\x07", 10) == "a b c"
    assert network_text("x" * 300, 200) == "x" * 200


def test_password_hash_format_and_tamper() -> None:
    encoded = hash_password("s3cret-pass")
    scheme, n, r, p, salt, digest = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert not verify_password("s3cret-pass", encoded.replace(digest, digest[::-1]))
    assert not verify_password("s3cret-pass", "bcrypt$" + encoded[7:])


@pytest.mark.parametrize("interface", ["PJSIP/1001", "Local/1001@agents-local", "SIP/peer-1"])
def test_interfaces_accepted(interface: str) -> None:
    assert check_interface(interface) == interface
