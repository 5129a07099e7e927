"""ASGI middleware of the console: the real client address behind trusted proxies,
request header limits, one access-log line per request, security headers on every
HTTP response.

Pure ASGI (not BaseHTTPMiddleware) so websockets and streaming pass through untouched.
The request body limit is FastAPI's own `max_body_size` (413); the size of the request
head is capped by the server (`console.server`).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

access_log = logging.getLogger("console.access")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii")),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeaders:
    """CSP and friends on every HTTP response (pages, API, static files, errors)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses and CIDRs (`10.0.0.5`, `10.0.0.0/24`, `::1`); ValueError names a bad one."""
    networks: list[Network] = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise ValueError(f"not an address or CIDR: {text!r}") from exc
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: tuple[Network, ...]
) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def forwarded_client(peer: str, forwarded_for: list[str], trusted: tuple[Network, ...]) -> str:
    """The client address: `peer` itself unless it is a trusted proxy; then the nearest
    address of `X-Forwarded-For` (read from the right) that is not a trusted proxy.

    Entries left of an untrusted one are whatever the client wrote and are never
    believed; a malformed entry stops the walk at the last address known good.
    """
    current = _address(peer)
    if current is None or not _trusted(current, trusted):
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        current = address
        if not _trusted(address, trusted):
            break
    return str(current)


class ClientAddress:
    """Sets the ASGI client to the real client when the peer is a trusted proxy
    (`HOTLINE_TRUSTED_PROXIES`); an untrusted peer's `X-Forwarded-For` is ignored."""

    def __init__(self, app: ASGIApp, trusted: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.trusted and scope["type"] in ("http", "websocket") and scope.get("client"):
            peer, port = scope["client"]
            forwarded = [
                value.decode("latin-1")
                for name, value in scope.get("headers", ())
                if name.lower() == b"x-forwarded-for"
            ]
            client = forwarded_client(str(peer), forwarded, self.trusted)
            if client != peer:
                scope = dict(scope, client=(client, port))
        await self.app(scope, receive, send)


MAX_HEADER_COUNT = 100


class HeaderLimits:
    """Refuses a request with more than `max_count` header lines (431)."""

    def __init__(self, app: ASGIApp, max_count: int = MAX_HEADER_COUNT) -> None:
        self.app = app
        self.max_count = max_count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] in ("http", "websocket")
            and len(scope.get("headers", ())) > self.max_count
        ):
            body = json.dumps({"detail": f"more than {self.max_count} request headers"}).encode()
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 431,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


class AccessLog:
    """One line per request on the `console.access` logger: client, method, path (never
    the query string, which may carry a token), status, duration and user agent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status: list[int] = []

        async def observed(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                status.append(int(message["status"]))
            elif kind == "websocket.accept":
                status.append(101)
            elif kind == "websocket.close" and not status:
                status.append(403)
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            client = scope.get("client") or ("-", 0)
            agent = next(
                (v.decode("latin-1") for n, v in scope.get("headers", ()) if n == b"user-agent"),
                "-",
            )
            method = scope.get("method", "WS") if scope["type"] == "http" else "WS"
            access_log.info(
                "%s %s %s %s %.1fms %r",
                client[0],
                method,
                scope.get("path", "")[:200],
                status[0] if status else "-",
                (time.monotonic() - started) * 1000,
                agent[:200],
            )
