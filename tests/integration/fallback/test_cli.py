"""`hotline paper pads` and `hotline drill` (the Typer sub-apps), on disk and over AMI."""

from __future__ import annotations

import asyncio
import json
import re
import socket

from typer.testing import CliRunner

from fallback import cli
from fallback.paper import PAPER_FILE
from hotline import drill_command
from pbx.standin import PbxStandIn

runner = CliRunner()


def test_pads_render_a_self_contained_printable_sheet_and_reserve_numbers(tmp_path) -> None:
    out = tmp_path / "pads.html"
    env = {"HOTLINE_JOURNAL_DIR": str(tmp_path / "journal")}
    result = runner.invoke(cli.paper_app, ["pads", "--count", "5", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "5 paper-ticket sheet(s)" in result.output
    page = out.read_text(encoding="utf-8")
    assert re.findall(r'<section class="sheet" id="(E\d+)"', page) == [
        f"E{n:06d}" for n in range(1, 6)
    ]
    assert "@media print" in page or "@page" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "<link" not in page  # everything inline: prints with no network

    # The next run continues after the printed numbers.
    again = runner.invoke(cli.paper_app, ["pads", "--count", "2"], env=env, catch_exceptions=False)
    assert again.exit_code == 0
    records = [
        json.loads(line) for line in (tmp_path / "journal" / PAPER_FILE).read_text().splitlines()
    ]
    assert [(r["first"], r["last"]) for r in records] == [(1, 5), (6, 7)]


def test_pads_speak_hotline_locale_or_lang(tmp_path) -> None:
    runner = CliRunner()
    env = {"HOTLINE_JOURNAL_DIR": str(tmp_path)}
    chinese, english = tmp_path / "zh.html", tmp_path / "en.html"
    result = runner.invoke(cli.paper_app, ["pads", "--count", "1", "--out", str(chinese)], env=env)
    assert result.exit_code == 0, result.output
    assert '<html lang="zh-CN">' in chinese.read_text(encoding="utf-8")
    result = runner.invoke(
        cli.paper_app,
        ["pads", "--count", "1", "--out", str(english)],
        env={**env, "HOTLINE_LOCALE": "en"},
    )
    assert result.exit_code == 0, result.output
    assert "Caller number" in english.read_text(encoding="utf-8")
    bad = runner.invoke(cli.paper_app, ["pads", "--count", "1", "--lang", "fr"], env=env)
    assert bad.exit_code == 1 and "unsupported language" in bad.output


def test_pads_refuses_a_bad_count(tmp_path) -> None:
    result = runner.invoke(
        cli.paper_app, ["pads", "--count", "0"], env={"HOTLINE_JOURNAL_DIR": str(tmp_path)}
    )
    assert result.exit_code != 0


def test_drill_needs_ami_credentials(tmp_path) -> None:
    result = runner.invoke(
        drill_command.drill_app,
        [],
        env={
            "HOTLINE_JOURNAL_DIR": str(tmp_path),
            "HOTLINE_AMI_USER": "",
            "HOTLINE_AMI_SECRET": "",
        },
    )
    assert result.exit_code == 2
    assert "HOTLINE_AMI_USER" in result.output


async def test_drill_over_real_ami_reports_a_pool_that_cannot_be_reached(tmp_path) -> None:
    # The stand-in has no drill context yet, so Asterisk-style it answers the Originate
    # with OriginateResponse/Failure: the drill must say so, and log it.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        agi_port = s.getsockname()[1]
    pbx = PbxStandIn(speed=20, agi_port=agi_port, prompt_seconds=0, auth_failure_delay=0)
    await pbx.start()
    try:
        answered, line = await asyncio.wait_for(
            drill_command._drill(
                "127.0.0.1", pbx.ami_port, "hotline", "hotline-secret", 5.0, tmp_path
            ),
            20,
        )
    finally:
        await pbx.stop()
    assert not answered
    assert "originate failed" in line
    [record] = [json.loads(x) for x in (tmp_path / "drills.jsonl").read_text().splitlines()]
    assert record["kind"] == "drill" and record["answered"] is False and record["by"] == "cli"


async def test_drill_with_a_wrong_secret_says_so(tmp_path) -> None:
    pbx = PbxStandIn(speed=20, prompt_seconds=0, auth_failure_delay=0)
    await pbx.start()
    try:
        answered, line = await asyncio.wait_for(
            drill_command._drill("127.0.0.1", pbx.ami_port, "hotline", "wrong", 5.0, tmp_path), 30
        )
    finally:
        await pbx.stop()
    assert not answered and "cannot log in" in line
