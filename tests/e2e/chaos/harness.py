"""Whole-system chaos harness (loaded as `chaos_test_harness` by the conftest):
`hotline serve` as a real process (so it can be SIGKILLed),
the PBX stand-in in the test process, PostgreSQL behind a TCP proxy that can black-hole it.

Nothing in between is faked: the controller reaches the stand-in over AMI and serves the
FastAGI IVR the stand-in dials into; the test drives the controller only through its HTTP
API and reads the truth from the PBX, the database (directly, not through the proxy) and
the journal files.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from storage.database import Database
from storage.site_import import import_sites

REPO = Path(__file__).resolve().parents[3]
HOTLINE = Path(sys.executable).with_name("hotline")
PASSWORD = "chaos-test-pw"
SESSION_SECRET = "chaos-session-secret-" + "x" * 24


def _load_black_hole_proxy() -> type:
    """Reuse the fallback tests' `BlackHoleProxy` (loaded by path: tests are no package)."""
    path = REPO / "tests" / "e2e" / "fallback" / "test_auto_failover.py"
    spec = importlib.util.spec_from_file_location("chaos_fallback_failover_helpers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BlackHoleProxy  # type: ignore[no-any-return]


BlackHoleProxy = _load_black_hole_proxy()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}") from None


@dataclass
class Controller:
    """One `hotline serve` process; `kill()` is a crash (SIGKILL), `stop()` a clean exit."""

    env: Mapping[str, str]
    cwd: Path
    http_port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    runs: int = 0
    exit_codes: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        assert self.process is None, "controller already running"
        self.runs += 1
        log = self.log_path.open("ab")
        log.write(f"\n===== controller run {self.runs} =====\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [str(HOTLINE), "serve"],
            cwd=self.cwd,
            env=dict(self.env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    async def wait_ready(self, timeout: float = 30.0) -> dict[str, Any]:
        """Until /healthz answers and the AMI link is up."""
        assert self.process is not None
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as http:
            async with asyncio.timeout(timeout):
                while True:
                    if self.process.poll() is not None:
                        raise AssertionError(
                            f"controller exited with {self.process.returncode}:\n{self.tail()}"
                        )
                    with contextlib.suppress(httpx.HTTPError):
                        response = await http.get("/healthz")
                        if response.status_code == 200:
                            body: dict[str, Any] = response.json()
                            if body.get("ami", {}).get("status") == "ok":
                                return body
                    await asyncio.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.exit_codes.append(self.process.wait(10))
        self.process = None

    async def stop(self) -> int:
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(self.process.wait, 30)
        self.exit_codes.append(code)
        self.process = None
        return code

    def tail(self, lines: int = 60) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def journal_records(journal_dir: Path) -> list[dict[str, Any]]:
    """Every whole record of the emergency journal, read straight from the file."""
    path = journal_dir / "emergency-journal.jsonl"
    records = []
    for line in path.read_bytes().splitlines():
        if line.strip():
            records.append(json.loads(line))
    return records


async def prepare_database(
    url: str, tmp: Path, users: list[tuple[str, str, str | None]], sites: int
) -> list[dict[str, str]]:
    """A generated directory of `sites` sites and the console users, in the migrated
    database at `url`."""
    from testkit.console_users import add_console_users
    from testkit.demo_directory import generate, write_csv

    rows = generate(5, sites, around=date.today())
    csv_path = tmp / "sites.csv"
    write_csv(rows, csv_path)
    db = Database(url)
    try:
        report = await import_sites(db, csv_path)
        assert report.ok, report.errors
        await add_console_users(db, users, PASSWORD)
    finally:
        await db.dispose()
    return rows


def controller_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({f"HOTLINE_{k.upper()}": v for k, v in values.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env
