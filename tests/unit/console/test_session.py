"""Session tokens: genuine ones verify, forged/expired/malformed ones are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console.domain.session import TokenRejected, new_claims, sign, verify

SECRET = b"k" * 32
T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def token(username: str = "alice", ttl: timedelta = timedelta(hours=1)) -> str:
    return sign(new_claims(username, now=T0, ttl=ttl, nonce="n1"), SECRET)


def test_round_trip() -> None:
    claims = verify(token(), SECRET, now=T0 + timedelta(minutes=59))
    assert claims.username == "alice"
    assert claims.nonce == "n1"
    assert claims.expires_at == T0 + timedelta(hours=1)


def test_expired() -> None:
    with pytest.raises(TokenRejected, match="expired"):
        verify(token(), SECRET, now=T0 + timedelta(hours=1))


def test_other_secret() -> None:
    with pytest.raises(TokenRejected, match="signature"):
        verify(token(), b"z" * 32, now=T0)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t + "x",
        lambda t: "x" + t,
        lambda t: t.replace(".", ""),
        lambda t: t + ".extra",
        lambda t: "",
        lambda t: "a" * 5000,
        lambda t: "é." + t.split(".")[1],
        lambda t: t.split(".")[0] + ".!!!",
    ],
)
def test_tampered(mangle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TokenRejected):
        verify(mangle(token()), SECRET, now=T0)


def test_claims_cannot_be_swapped_between_users() -> None:
    alice_body = token("alice").split(".")[0]
    bob_mac = token("bob").split(".")[1]
    with pytest.raises(TokenRejected):
        verify(f"{alice_body}.{bob_mac}", SECRET, now=T0)
