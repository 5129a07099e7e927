"""Console session tokens: HMAC-SHA256 signed claims with an expiry.

Pure: the secret, the clock and the nonce are passed in. A token is
``<base64url(json claims)>.<base64url(mac)>``; the server keeps only a revocation
list (log-out), so tokens survive a restart of one node and work across nodes that
share the secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MAX_TOKEN_LENGTH = 1024

# What a token may be used for: the whole console (by the user's role), or only to
# watch the wallboard (a read-only token a wall screen keeps in its URL).
SCOPE_CONSOLE = "console"
SCOPE_WALLBOARD = "wallboard"
SCOPES = frozenset({SCOPE_CONSOLE, SCOPE_WALLBOARD})


class TokenRejected(Exception):
    """The token is malformed, forged or expired (the reason says which, for logs only)."""


@dataclass(frozen=True, slots=True)
class SessionClaims:
    username: str
    issued_at: datetime
    expires_at: datetime
    nonce: str  # random per log-in; what log-out revokes
    # The user's session epoch when the token was issued; a password, role or enabled
    # change raises the user's epoch and so refuses the token.
    epoch: int = 0
    scope: str = SCOPE_CONSOLE

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, body: str) -> bytes:
    return hmac.new(secret, b"hotline-session-v1." + body.encode("ascii"), hashlib.sha256).digest()


def new_claims(
    username: str,
    *,
    now: datetime,
    ttl: timedelta,
    nonce: str,
    epoch: int = 0,
    scope: str = SCOPE_CONSOLE,
) -> SessionClaims:
    if scope not in SCOPES:
        raise ValueError(f"unknown token scope {scope!r}")
    issued = now.astimezone(UTC).replace(microsecond=0)
    return SessionClaims(
        username=username,
        issued_at=issued,
        expires_at=issued + ttl,
        nonce=nonce,
        epoch=epoch,
        scope=scope,
    )


def sign(claims: SessionClaims, secret: bytes) -> str:
    payload = {
        "u": claims.username,
        "iat": int(claims.issued_at.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
        "n": claims.nonce,
        "g": claims.epoch,
        "s": claims.scope,
    }
    body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    return f"{body}.{_b64(_mac(secret, body))}"


def verify(token: str, secret: bytes, *, now: datetime) -> SessionClaims:
    """The claims of a genuine, unexpired token; TokenRejected otherwise."""
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise TokenRejected("malformed token")
    body, mac_text = token.split(".")
    try:
        mac = _unb64(mac_text)
        body.encode("ascii")
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise TokenRejected("malformed token") from exc
    if not hmac.compare_digest(mac, _mac(secret, body)):
        raise TokenRejected("bad signature")
    try:
        payload = json.loads(_unb64(body))
        claims = SessionClaims(
            username=str(payload["u"]),
            issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
            nonce=str(payload["n"]),
            epoch=int(payload.get("g", 0)),
            scope=str(payload.get("s", SCOPE_CONSOLE)),
        )
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise TokenRejected("malformed claims") from exc
    if claims.scope not in SCOPES:
        raise TokenRejected("unknown scope")
    if claims.expired(now):
        raise TokenRejected("expired")
    return claims
