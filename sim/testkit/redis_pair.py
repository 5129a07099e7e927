"""A Redis primary and its replica as real `redis-server` processes, for the tests of the
replicated emergency journal: `appendonly yes`, `appendfsync always` on both, each in
its own directory under `workdir`, on free loopback ports.

    pair = RedisPair(tmp_path)
    pair.start()            # primary, then the replica; waits until it confirms writes
    pair.stop_replica()     # SIGKILL: WAIT now reports 0 replicas
    pair.start_replica()
    pair.stop()
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def redis_available() -> bool:
    return Path(REDIS_SERVER).exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _encode(*args: str) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(f"${len(data)}\r\n".encode() + data + b"\r\n")
    return b"".join(parts)


def _command(port: int, *args: str) -> str:
    """One command over RESP, the answer as text (no client library: this runs before
    the test's event loop)."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(_encode(*args))
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        if data.startswith(b"$"):  # a bulk string: its length is in the header
            header, _, rest = data.partition(b"\r\n")
            size = int(header[1:])
            while len(rest) < size + 2:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
            return rest[:size].decode(errors="replace")
    return data.decode(errors="replace")


def _replicas_confirming_a_write(port: int, wait_ms: int) -> int:
    """Write a scratch key and WAIT for one replica, on one connection (WAIT counts the
    replicas that have this connection's own last write)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_ms / 1000 + 2) as sock:
        sock.sendall(_encode("INCR", "testkit:in-sync") + _encode("WAIT", "1", str(wait_ms)))
        data = b""
        while data.count(b"\r\n") < 2:
            chunk = sock.recv(65536)
            if not chunk:
                raise OSError("redis-server closed the connection")
            data += chunk
    return int(data.split(b"\r\n")[1].removeprefix(b":"))


class RedisServer:
    """One `redis-server` process with its own directory and port."""

    def __init__(self, directory: Path, port: int, replica_of: int | None = None) -> None:
        self.directory = directory
        self.port = port
        self.replica_of = replica_of
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            # A replica that (re)connects is synced at once, not after the default 5 s.
            "--repl-diskless-sync-delay",
            "0",
            "--daemonize",
            "no",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        if self.replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if "PONG" in _command(self.port, "PING"):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on {self.port} did not start")

    def info(self, section: str) -> str:
        return _command(self.port, "INFO", section)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


class RedisPair:
    """A primary and one replica of it."""

    def __init__(self, workdir: Path) -> None:
        self.primary = RedisServer(workdir / "redis-primary", _free_port())
        self.replica = RedisServer(
            workdir / "redis-replica", _free_port(), replica_of=self.primary.port
        )

    @property
    def url(self) -> str:
        return self.primary.url

    def start(self) -> None:
        self.primary.start()
        self.start_replica()

    def start_replica(self) -> None:
        self.replica.start()
        self.wait_in_sync()

    def wait_in_sync(self, timeout: float = 15.0) -> None:
        """Return once the replica confirms a write by WAIT. "Online" is not enough: the
        primary streams writes to a replica that has just synced only from its next
        periodic ACK, up to a second later (`fallback.replica.REPLICA_ACK_PERIOD_MS`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            primary = self.primary.info("replication")
            if (
                "connected_slaves:1" in primary
                and "state=online" in primary
                and "master_link_status:up" in self.replica.info("replication")
            ):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("the Redis replica did not reach its primary")
        left_ms = max(1, int((deadline - time.monotonic()) * 1000))
        if _replicas_confirming_a_write(self.primary.port, left_ms) < 1:
            raise RuntimeError("the Redis replica did not confirm a write")

    def stop_replica(self) -> None:
        self.replica.kill()

    def stop(self) -> None:
        self.replica.kill()
        self.primary.kill()
