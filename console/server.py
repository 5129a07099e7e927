"""Running the console inside the controller's event loop (for `hotline serve`/`demo`).

server = ConsoleServer(create_app(deps), host=settings.http_host, port=settings.http_port)
await server.start()          # returns once listening; server.port is the real port
...
await server.stop()           # graceful: open requests finish, websockets close
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from console.errors import ConsoleError

log = logging.getLogger(__name__)

MAX_REQUEST_HEAD = 32 * 1024


class ConsoleServerError(ConsoleError):
    """The console could not listen (port taken, bad host...)."""


class _InLoopServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The controller owns SIGINT/SIGTERM and calls ConsoleServer.stop().
        yield


class ConsoleServer:
    """uvicorn in the caller's event loop, without its own signal handling or logging set-up.

    The client address behind reverse proxies is the app's business
    (`console.middleware.ClientAddress`, `HOTLINE_TRUSTED_PROXIES`): uvicorn's own proxy
    handling stays off. The request head (request line and headers) is capped at
    `MAX_REQUEST_HEAD` bytes; a longer one is refused with 400 before it is buffered."""

    # A component of the composition root: every process serves the console.
    name = "console"
    leader_only = False

    def __init__(
        self,
        app: FastAPI,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
    ) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,  # the CLI configures logging once
            lifespan="off",
            ws="websockets-sansio",
            # Console messages are a few kilobytes of JSON on the hotline's LAN: compression
            # would cost CPU on the loop and in every browser, and a compressor's memory
            # per open socket, to save bytes nobody is short of.
            ws_per_message_deflate=False,
            proxy_headers=False,
            server_header=False,
            # h11 enforces a size limit on the request head; httptools has none.
            http="h11",
            h11_max_incomplete_event_size=MAX_REQUEST_HEAD,
        )
        self._server = _InLoopServer(config)
        self._task: asyncio.Task[None] | None = None
        self.host = host
        self._wanted_port = port
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        if self._port is None:
            raise ConsoleServerError("the console is not listening")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, timeout: float = 10.0) -> None:
        # Bind here, not in uvicorn: a taken port becomes one clear error instead of
        # uvicorn's sys.exit() inside a task.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._wanted_port))
        except OSError as exc:
            sock.close()
            raise ConsoleServerError(
                f"cannot listen on {self.host}:{self._wanted_port}: {exc.strerror or exc}"
            ) from exc
        self._port = int(sock.getsockname()[1])
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="console-http")
        ready = asyncio.create_task(self._server.ready.wait())
        await asyncio.wait({ready, self._task}, timeout=timeout, return_when="FIRST_COMPLETED")
        if not ready.done():
            ready.cancel()
            await self.stop()
            raise ConsoleServerError(f"console on {self.host}:{self._wanted_port} did not start")
        log.info("console listening on %s", self.url)

    async def stop(self, timeout: float = 10.0) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._server.should_exit = True
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            self._server.force_exit = True  # drop what is still open
            await asyncio.wait({task}, timeout=timeout)
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("console server stopped with an error: %s", task.exception())
