"""Pure access rules: the client address behind trusted proxies, the per-user back-off,
the password policy and the session_end message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console.domain.session import SCOPE_WALLBOARD, new_claims, sign, verify
from console.domain.throttle import USER_POLICY, LoginThrottle
from console.middleware import forwarded_client, parse_networks
from console.session_end import ends, session_end_message
from routing.passwords import password_problem

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
PROXIES = parse_networks(["10.0.0.1", "192.168.50.0/24", "::1"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("10.0.0.1", ["203.0.113.5"], "203.0.113.5"),  # the proxy says who connected
        ("198.51.100.7", ["203.0.113.5"], "198.51.100.7"),  # untrusted peer: ignored
        ("10.0.0.1", ["1.2.3.4, 203.0.113.5"], "203.0.113.5"),  # the client's own claim no
        ("10.0.0.1", ["203.0.113.5, 192.168.50.9"], "203.0.113.5"),  # two proxies deep
        ("10.0.0.1", ["203.0.113.5", "192.168.50.9"], "203.0.113.5"),  # two header lines
        ("10.0.0.1", ["not-an-ip"], "10.0.0.1"),  # garbage: the proxy itself
        ("10.0.0.1", [], "10.0.0.1"),
        ("::1", ["2001:db8::7"], "2001:db8::7"),
    ],
)
def test_client_address_behind_trusted_proxies(
    peer: str, forwarded: list[str], client: str
) -> None:
    assert forwarded_client(peer, forwarded, PROXIES) == client


def test_no_trusted_proxies_means_the_peer() -> None:
    assert forwarded_client("127.0.0.1", ["203.0.113.5"], ()) == "127.0.0.1"


def test_a_bad_proxy_entry_is_named() -> None:
    with pytest.raises(ValueError, match="10.0.0.300"):
        parse_networks(["10.0.0.300"])


def test_one_address_cannot_trigger_the_per_user_back_off() -> None:
    throttle = LoginThrottle()
    at = T0
    # One address guessing as fast as its pair lock allows, for 15 minutes.
    for _ in range(200):
        if throttle.wait_needed("203.0.113.5", "sue", at) is None:
            throttle.failed("203.0.113.5", "sue", at)
        at += timedelta(seconds=5)
        assert throttle.wait_needed("203.0.113.6", "sue", at) is None  # sue is never locked


def test_many_addresses_trigger_a_short_per_user_back_off() -> None:
    throttle = LoginThrottle()
    for i in range(USER_POLICY.max_failures):
        throttle.failed(f"203.0.113.{i}", "sue", T0)
    wait = throttle.wait_needed("198.51.100.1", "sue", T0)
    assert wait == USER_POLICY.lockout
    assert throttle.wait_needed("198.51.100.1", "sue", T0 + USER_POLICY.lockout) is None
    assert throttle.wait_needed("198.51.100.1", "bob", T0) is None


@pytest.mark.parametrize(
    ("password", "username", "problem"),
    [
        ("correct horse battery", "alice", None),
        ("short-1", "alice", "characters"),
        ("alice-2026-pass", "alice", "user name"),
        ("ALICEalice1234", "alice", "user name"),
        ("password123", "bob", "common"),
        ("Qwerty123456", "bob", "common"),
        ("hotline2026!", "bob", "common"),
        ("aaaaaaaaaaaa", "bob", "different"),
    ],
)
def test_password_policy(password: str, username: str, problem: str | None) -> None:
    found = password_problem(password, username)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_session_end_targets_one_token_or_older_epochs() -> None:
    claims = new_claims("alice", now=T0, ttl=timedelta(hours=1), nonce="n1", epoch=3)
    assert ends(session_end_message(nonce="n1", reason="logged out"), claims)
    assert not ends(session_end_message(nonce="n2", reason="logged out"), claims)
    assert ends(session_end_message(epoch=4, reason="password changed"), claims)
    assert not ends(session_end_message(epoch=3, reason="a newer log-in"), claims)
    assert not ends({"type": "screen_pop", "nonce": "n1"}, claims)


def test_token_scope_and_epoch_round_trip() -> None:
    secret = b"k" * 32
    claims = new_claims(
        "sue", now=T0, ttl=timedelta(days=1), nonce="w", epoch=7, scope=SCOPE_WALLBOARD
    )
    back = verify(sign(claims, secret), secret, now=T0)
    assert back.epoch == 7 and back.scope == SCOPE_WALLBOARD
