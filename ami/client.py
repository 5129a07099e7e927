"""The controller's AMI connection, on panoramisk, with the faults of 1.4 fixed.

`AmiClient` subclasses `panoramisk.Manager` (event registration by pattern is kept)
and replaces what a hotline cannot live with:

* framing: our byte-level parser (`ami.protocol`), so UTF-8 split across reads and
  ``\\r\\n\\n`` endings are handled;
* dispatch: every callback runs isolated; an exception is logged with the event and
  never closes the connection or loses the rest of the read;
* keep-alive: an idle link is pinged every half ping interval *and* the peer's silence
  is measured; a peer silent for one ping interval is declared dead, the socket aborted
  and a reconnect started. A closed socket marks the link down at once and fails every
  pending action, so a reconnect never waits for an action's timeout;
* bounds: an action's event list longer than `max_list_events` (a PBX that never sends
  `Complete`) is one error line and a reconnect, not unbounded memory;
* reconnect: exponential back-off with jitter, then a resynchronisation
  (`CoreShowChannels` into the call tracker, `QueueStatus` snapshot) and the
  `on_connected` hooks (restore queue membership, emergency pool, ...);
* actions: encoded by `ami.actions.encode_action`, which refuses CR/LF in any value;
  the `CallControl` commands built on them are in `ami.commands`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol

from ami.actions import HeaderValue, check_value, encode_action
from ami.commands import AmiResponse, PbxCommands
from ami.errors import (
    AmiActionError,
    AmiAuthenticationFailed,
    AmiNotConnected,
    AmiTimeout,
)
from ami.events import AmiEvent, typed_event
from ami.protocol import AmiFrameParser, AmiMessage
from ami.tracker import MONITOR_FILE_VARIABLE, CallTracker, ResyncChannel
from calls.control import QueueSnapshot

log = logging.getLogger(__name__)

EventListener = Callable[[AmiEvent], Awaitable[None] | None]
ConnectedHook = Callable[["AmiClient"], Awaitable[None]]


class LinkVerdict(StrEnum):
    ALIVE = "alive"
    PING = "ping"  # idle for half an interval: ask the peer
    DEAD = "dead"  # silent for a whole interval


def link_verdict(silence: float, ping_interval: float) -> LinkVerdict:
    """What the watchdog makes of `silence` seconds without a byte from the peer."""
    if silence >= ping_interval:
        return LinkVerdict.DEAD
    if silence >= ping_interval / 2:
        return LinkVerdict.PING
    return LinkVerdict.ALIVE


class LinkState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    AUTH_FAILED = "auth_failed"


@dataclass
class _Pending:
    name: str
    future: asyncio.Future[AmiResponse]
    response: AmiMessage | None = None
    events: list[AmiMessage] = field(default_factory=list)


READ_SIZE = 16 * 1024


class _AmiWire(AMIProtocol, asyncio.BufferedProtocol):  # type: ignore[misc]
    """Transport adapter: bytes in → our parser → the client; bytes out as given.

    Reads at most READ_SIZE bytes per callback (asyncio's default is 256 KiB): a flood
    of events is then processed in slices of ~1 ms, so websocket pushes and timers
    never wait long behind parsing.
    """

    def __init__(self, client: AmiClient) -> None:
        self._read_buffer = bytearray(READ_SIZE)
        self.client = client
        self.parser = AmiFrameParser()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.logged_in = False
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.banner_seen: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; uvloop's implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self._read_buffer)

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self._read_buffer[:nbytes]))

    def data_received(self, data: bytes) -> None:
        self.client._last_rx = time.monotonic()
        try:
            messages = self.parser.feed(data)
        except Exception:  # the parser is total; this is a last line of defence
            log.exception("AMI parser failed; dropping %d bytes", len(data))
            return
        if self.parser.banner is not None and not self.banner_seen.done():
            self.banner_seen.set_result(self.parser.banner)
        for message in messages:
            self.client._on_message(message)

    def write(self, data: bytes) -> None:
        if self.transport is None or self.closed:
            raise AmiNotConnected("AMI connection is closed")
        self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.client._link_lost(self)
        if not self.lost.done():
            self.lost.set_result(None)
        if not self.banner_seen.done():
            self.banner_seen.set_exception(AmiNotConnected("closed before the banner"))
            self.banner_seen.exception()  # mark retrieved

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class AmiClient(Manager, PbxCommands):  # type: ignore[misc]
    """AMI client implementing `calls.control.CallControl`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 5038,
        username: str,
        secret: str,
        tracker: CallTracker | None = None,
        ping_interval: float = 10.0,
        action_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        max_list_events: int = 20_000,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            host=host,
            port=port,
            username=username,
            secret=secret,
            ping_delay=ping_interval,
            ping_interval=ping_interval,
        )
        # panoramisk registers its own FullyBooted re-send hook; we don't re-send
        # actions after a reconnect (a stale Redirect is worse than none).
        self.callbacks.clear()
        self.patterns.clear()
        self.host = host
        self.port = port
        self._username = check_value("Username", username)
        self._secret = check_value("Secret", secret)
        self.tracker = tracker
        self.ping_interval = ping_interval
        self.action_timeout = action_timeout
        self.connect_timeout = connect_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        # A hotline PBX has hundreds of channels; far more in one list is a broken peer.
        self.max_list_events = max_list_events
        self._rng = rng or random.Random()
        self._wire: _AmiWire | None = None
        self._pending: dict[str, _Pending] = {}
        self._next_id = 0
        self._listeners: list[tuple[EventListener, frozenset[str] | None]] = []
        self.on_connected: list[ConnectedHook] = []
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_rx = 0.0
        self.state = LinkState.DISCONNECTED
        self.connected_event = asyncio.Event()
        self.last_error: str | None = None
        self.banner: str | None = None
        self.queue_snapshot: QueueSnapshot = QueueSnapshot((), ())
        self.connections = 0  # successful logins, for tests and /healthz
        self.callback_errors = 0
        self.silence_at_detection: float | None = None

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._run(), name="ami")

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self.connected_event.wait(), timeout)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if self._wire is not None and not self._wire.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.send_action("Logoff"), 1.0)
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        if self._wire is not None:
            self._wire.abort()
        for task in list(self._tasks):
            task.cancel()
        self._fail_pending("client stopped")
        self.state = LinkState.DISCONNECTED
        self.connected_event.clear()

    def close(self) -> None:
        if self._wire is not None:
            self._wire.abort()

    async def _run(self) -> None:
        delay = self.backoff_initial
        while True:
            self.state = LinkState.CONNECTING
            try:
                await self._session()
                delay = self.backoff_initial  # the session had logged in: start over
            except asyncio.CancelledError:
                raise
            except AmiAuthenticationFailed as exc:
                self.state = LinkState.AUTH_FAILED
                self.last_error = str(exc)
                log.error("AMI %s:%s: %s", self.host, self.port, exc)
            except (OSError, AmiNotConnected, AmiTimeout, TimeoutError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("AMI %s:%s unavailable: %s", self.host, self.port, self.last_error)
            finally:
                self.connected_event.clear()
                if self.state is not LinkState.AUTH_FAILED:
                    self.state = LinkState.DISCONNECTED
                self._fail_pending("AMI connection lost")
            # Full jitter: many controllers restarting together must not stampede.
            wait = delay * (0.5 + self._rng.random() / 2)
            log.info("AMI reconnect in %.2f s", wait)
            await asyncio.sleep(wait)
            delay = min(delay * 2, self.backoff_max)

    async def _session(self) -> None:
        loop = asyncio.get_running_loop()
        _, wire = await asyncio.wait_for(
            loop.create_connection(lambda: _AmiWire(self), self.host, self.port),
            self.connect_timeout,
        )
        self._wire = wire
        self._last_rx = time.monotonic()
        pinger: asyncio.Task[None] | None = None
        try:
            self.banner = await asyncio.wait_for(
                asyncio.shield(wire.banner_seen), self.connect_timeout
            )
            login = await self.send_action(
                "Login",
                {"Username": self._username, "Secret": self._secret, "Events": "on"},
                check=False,
            )
            if not login.success:
                raise AmiAuthenticationFailed(login.get("Message") or "login refused")
            wire.logged_in = True
            self.connections += 1
            self.last_error = None
            log.info("AMI logged in to %s:%s (%s)", self.host, self.port, self.banner)
            pinger = loop.create_task(self._watchdog(wire), name="ami-ping")
            await self.resync()
            self.state = LinkState.CONNECTED
            self.connected_event.set()
            for hook in list(self.on_connected):
                try:
                    await hook(self)
                except Exception:  # a failing hook must not tear down the link
                    log.exception("AMI on_connected hook %r failed", hook)
            await wire.lost
        finally:
            if pinger is not None:
                pinger.cancel()
            wire.abort()
            self._wire = None

    async def _watchdog(self, wire: _AmiWire) -> None:
        """Ping an idle link every half interval; abort once the peer has been silent for
        a whole interval (a live Asterisk answers a Ping in milliseconds)."""
        tick = self.ping_interval / 8
        next_ping = 0.0
        while not wire.closed:
            await asyncio.sleep(tick)
            now = time.monotonic()
            verdict = link_verdict(now - self._last_rx, self.ping_interval)
            if verdict is LinkVerdict.DEAD:
                self.silence_at_detection = now - self._last_rx
                log.error(
                    "AMI peer silent for %.1f s: declaring it dead", self.silence_at_detection
                )
                wire.abort()
                return
            if verdict is LinkVerdict.PING and now >= next_ping:
                next_ping = now + self.ping_interval / 2
                self._spawn(self._ping())

    def _link_lost(self, wire: _AmiWire) -> None:
        """The socket closed: the link is down now, and no pending action will be answered."""
        if wire is not self._wire:
            return
        self.connected_event.clear()
        if self.state is not LinkState.AUTH_FAILED:
            self.state = LinkState.DISCONNECTED
        self._fail_pending("AMI connection lost")

    async def _ping(self) -> None:
        with contextlib.suppress(AmiNotConnected, AmiTimeout, AmiActionError):
            await self.send_action("Ping", timeout=self.ping_interval)

    async def resync(self) -> None:
        """Rebuild the picture of live calls and queues from the PBX."""
        known = set(self.tracker.calls) if self.tracker is not None else set()
        channels = await self.send_action("CoreShowChannels")
        if self.tracker is not None:
            adopted = self.tracker.resync(
                (
                    ResyncChannel.from_message(m)
                    for m in channels.events
                    if m.event == "CoreShowChannel"
                ),
                known_when_asked=known,
            )
            for call in adopted:
                for name in (
                    "HOTLINE_SITE",
                    "HOTLINE_LEVEL",
                    "HOTLINE_QUEUE",
                    "HOTLINE_CALLREF",
                    "HOTLINE_PRIORITY",
                ):
                    with contextlib.suppress(AmiActionError):
                        value = await self.getvar(name, channel=call.channel)
                        if value:
                            call.variables[name] = value
                # The recording started while we were away: app_mixmonitor left its file
                # name on the caller channel.
                with contextlib.suppress(AmiActionError):
                    file = await self.getvar(MONITOR_FILE_VARIABLE, channel=call.channel)
                    if file:
                        call.adopt_recording(file)
        self.queue_snapshot = await self.queue_status()

    # --- message intake --------------------------------------------------------------------

    def _on_message(self, message: AmiMessage) -> None:
        action_id = message.action_id
        pending = self._pending.get(action_id) if action_id else None
        if pending is not None:
            if message.is_response and pending.response is None:
                pending.response = message
                if message.get("EventList") != "start":
                    self._resolve(action_id, pending)
                return
            if message.is_event and pending.response is not None:
                if message.get("EventList") == "Complete":
                    pending.events.append(message)
                    self._resolve(action_id, pending)
                    return
                if pending.name != "Originate":
                    if len(pending.events) >= self.max_list_events:
                        self._list_overflow(action_id, pending)
                        return
                    pending.events.append(message)
                    return
        name = message.event
        if name:
            self._dispatch_event(message, name)

    def _list_overflow(self, action_id: str, pending: _Pending) -> None:
        del self._pending[action_id]
        reason = (
            f"{pending.name}: more than {self.max_list_events} list events without "
            "EventList: Complete; reconnecting"
        )
        log.error("AMI %s:%s %s", self.host, self.port, reason)
        pending.events.clear()
        if not pending.future.done():
            pending.future.set_exception(AmiNotConnected(reason))
            pending.future.exception()  # mark retrieved: the session ends with the abort
        if self._wire is not None:
            self._wire.abort()

    def _resolve(self, action_id: str, pending: _Pending) -> None:
        del self._pending[action_id]
        if not pending.future.done():
            assert pending.response is not None
            pending.future.set_result(AmiResponse(pending.response, pending.events))

    def _dispatch_event(self, message: AmiMessage, name: str) -> None:
        typed: AmiEvent | None = None
        tracker = self.tracker
        if tracker is not None and tracker.follows(name, message):
            try:
                typed = typed_event(message)
                tracker.handle(typed)
            except Exception:
                self.callback_errors += 1
                log.exception(
                    "call tracker failed on %s (linkedid %s)", name, message.get("Linkedid")
                )
        for listener, names in tuple(self._listeners):
            if names is None or name in names:
                if typed is None:
                    typed = typed_event(message)
                self._call(listener, typed)
        if self.patterns:
            self.dispatch(message)

    def _call(self, listener: EventListener, event: AmiEvent) -> None:
        try:
            result = listener(event)
        except Exception:
            self.callback_errors += 1
            log.exception("AMI event listener %r failed on %s", listener, event.message.event)
            return
        if asyncio.iscoroutine(result):
            self._spawn(result)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.callback_errors += 1
            log.error("AMI async callback failed", exc_info=task.exception())

    def add_listener(
        self, listener: EventListener, events: Iterable[str] | None = None
    ) -> Callable[[], None]:
        """Receive typed events (after the tracker): all of them, or only `events`.

        Async listeners run as tasks. Naming the events keeps the ingest path cheap:
        messages no one follows are never fully parsed.
        """
        entry = (listener, frozenset(events) if events is not None else None)
        self._listeners.append(entry)
        return lambda: self._listeners.remove(entry)

    def dispatch(self, event: AmiMessage) -> list[str]:
        """panoramisk-style pattern callbacks `callback(client, message)`, isolated."""
        matches = []
        for pattern, regexp in self.patterns:
            if regexp.match(event.event) is None:
                continue
            matches.append(pattern)
            for callback in self.callbacks[pattern]:
                try:
                    result = callback(self, event)
                except Exception:
                    self.callback_errors += 1
                    log.exception("AMI callback for %s failed", pattern)
                    continue
                if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                    self._spawn(result)
        return matches

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        for p in pending.values():
            if not p.future.done():
                p.future.set_exception(AmiNotConnected(f"{p.name}: {reason}"))
                p.future.exception()

    # --- actions ---------------------------------------------------------------------------

    async def send_action(
        self,
        name: str,
        headers: Mapping[str, HeaderValue] | None = None,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> AmiResponse:
        """Send one action and wait for its response (and list events, if any).

        Raises `HeaderInjection` before writing anything if a value carries CR/LF,
        `AmiActionError` on ``Response: Error`` (unless `check` is false),
        `AmiNotConnected` / `AmiTimeout` otherwise.
        """
        self._next_id += 1
        action_id = f"hotline-{self._next_id}"
        data = encode_action(name, action_id, headers or {})  # validates first
        wire = self._wire
        if wire is None or wire.closed or not (wire.logged_in or name == "Login"):
            # Before Login succeeds Asterisk answers everything with "Permission denied".
            raise AmiNotConnected(f"{name}: not connected to Asterisk")
        future: asyncio.Future[AmiResponse] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = _Pending(name, future)
        wire.write(data)
        try:
            response = await asyncio.wait_for(future, timeout or self.action_timeout)
        except TimeoutError:
            self._pending.pop(action_id, None)
            raise AmiTimeout(
                f"{name}: no response within {timeout or self.action_timeout:.1f} s"
            ) from None
        if check and response.message.response in ("Error", "Failure"):
            raise AmiActionError(name, response.get("Message") or "error")
        return response

    @property
    def connected(self) -> bool:
        return self.state is LinkState.CONNECTED
