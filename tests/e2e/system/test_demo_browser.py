"""What a newcomer sees: `hotline demo` as a separate process, `alice` logs in with headless
Chromium and a screen-pop with a ticket appears without anything else to do. The
screenshot is `artifacts/demo-screenpop.png`; Ctrl-C (SIGINT) ends the demo cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from .conftest import free_port, logged_in_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOTLINE = Path(sys.executable).with_name("hotline")
SCREENSHOT = Path(__file__).parents[3] / "artifacts" / "demo-screenpop.png"


async def wait_healthy(url: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(timeout=2) as http, asyncio.timeout(90):
        while True:
            if process.returncode is not None:
                raise AssertionError(f"hotline demo exited with {process.returncode}")
            try:
                if (await http.get(f"{url}/healthz")).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)


async def test_demo_shows_alice_a_screen_pop(tmp_path: Path, browser: Any) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "HOTLINE_DB_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "HOTLINE_JOURNAL_DIR": str(tmp_path / "journal"),
        "HOTLINE_SOUNDS_DIR": str(tmp_path / "sounds"),
    }
    log_path = tmp_path / "demo.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            str(HOTLINE),
            "demo",
            "--sites",
            "300",
            "--speed",
            "6",
            "--interval",
            "6",
            "--http-port",
            str(port),
            "--agi-port",
            "0",
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            await wait_healthy(url, process)
            context, page, errors = await logged_in_page(
                browser, url, "alice", password="hotline-demo"
            )
            # The demo made alice ready on the PBX; the page reads it back.
            await expect(page.locator("#agent-state")).to_have_text("Ready", timeout=30_000)
            await expect(page.locator("#link-state")).to_have_text("live")
            await expect(page.locator("#ticket-number")).to_have_text(
                re.compile(r"^HL-\d{8}-\d{4}"), timeout=60000
            )
            await expect(page.locator("#pop-site-name")).not_to_be_empty()
            # Demo callers ring from directory numbers (or type their site code): the pop
            # always names a site.
            await expect(page.locator("#pop-site-name")).not_to_have_text("Unidentified site")
            await expect(page.locator("#site-contacts")).not_to_be_empty()
            number = (await page.locator("#ticket-number").text_content()) or ""
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT), full_page=False)

            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                login = await http.post(
                    "/api/login", json={"username": "alice", "password": "hotline-demo"}
                )
                token = login.json()["token"]
                shown = await http.get(
                    f"/api/tickets/{number}", headers={"Authorization": f"Bearer {token}"}
                )
            assert shown.status_code == 200, shown.text
            ticket = shown.json()
            assert ticket["source"] == "call" and ticket["call_id"]
            assert ticket["duty_agent"] == "alice" and ticket["site_code"]
            assert errors == [], errors
            await context.close()
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
                try:
                    await asyncio.wait_for(process.wait(), 60)
                except TimeoutError:
                    process.kill()
                    await process.wait()
    output = log_path.read_text(encoding="utf-8", errors="replace")
    assert process.returncode == 0, output[-3000:]
    assert "console:" in output and "alice" in output
