"""Browser tests: the real app on uvicorn, real storage, Debian's headless Chromium.
The tests and their async fixtures run in the session's event loop
(tests/e2e/conftest.py), which the shared Chromium lives in."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

HARNESS = Path(__file__).parents[2] / "integration" / "console" / "harness.py"
ARTIFACTS = Path(__file__).parents[3] / "artifacts" / "console"


def _load_harness() -> None:
    name = "console_test_harness"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HARNESS)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


_load_harness()
import console_test_harness as h  # noqa: E402
from playwright.async_api import expect  # noqa: E402

from testkit.scratch_db import scratch_sqlite_url  # noqa: E402

# The whole suite shares 2 cores: give the page time, never assert on speed.
expect.set_options(timeout=20_000)


@pytest_asyncio.fixture(loop_scope="session")
async def world(tmp_path: Path) -> AsyncIterator[h.World]:
    w = await h.build_world(scratch_sqlite_url(tmp_path), fresh=True)
    try:
        yield w
    finally:
        await w.bus.close()
        await w.db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def live(world: h.World) -> AsyncIterator[h.LiveServer]:
    server, task, live = await h.start_server(world.app())
    try:
        yield live
    finally:
        await h.stop_server(server, task)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def watch_errors() -> Callable[[Any], list[str]]:
    return console_errors


def console_errors(page: Any) -> list[str]:
    """Collect the page's JS errors and CSP violations (a test fails on any)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

    def on_console(msg: Any) -> None:
        # HTTP 4xx the test provokes on purpose are logged as "Failed to load resource";
        # script errors and CSP refusals ("Refused to ...") are what must not happen.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(f"console: {msg.text}")

    page.on("console", on_console)
    return errors
