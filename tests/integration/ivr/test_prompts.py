"""Real prompt rendering: pyttsx3 + espeak-ng, converted by sox, checked with sox."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from ivr.errors import PromptBuildError
from ivr.menu import PromptText
from ivr.menu_file import load_menu
from ivr.prompts import Pyttsx3Engine, build_prompts

pytestmark = pytest.mark.skipif(
    shutil.which("sox") is None, reason="sox is not installed (Debian packages sox, libsox-fmt-all)"
)


def small_menu(texts: dict[str, tuple[str, str]]):
    menu = load_menu()
    prompts = {name: PromptText(name, (("zh", zh), ("en", en))) for name, (zh, en) in texts.items()}
    return replace(menu, prompts=prompts)


def sox_info(path: Path) -> dict[str, str]:
    out = subprocess.run(["sox", "--i", str(path)], capture_output=True, text=True, check=True)
    return {
        k.strip(): v.strip()
        for k, _, v in (line.partition(":") for line in out.stdout.splitlines())
        if v
    }


def sox_rms(path: Path) -> float:
    out = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True)
    m = re.search(r"RMS\s+amplitude:\s+([0-9.]+)", out.stderr)
    assert m, out.stderr
    return float(m.group(1))


async def test_renders_real_prompt_in_asterisk_format(tmp_path: Path):
    menu = small_menu(
        {"greeting": ("您好，欢迎致电技术支持热线。", "Welcome to the support hotline.")}
    )
    progress: list[tuple[str, int, int]] = []
    report = await build_prompts(menu, tmp_path, progress=lambda *a: progress.append(a))
    wav = tmp_path / "greeting.wav"
    assert report.rendered == ("greeting",) and report.segments_rendered == 2
    assert progress == [("greeting", 1, 1)]
    info = await asyncio.to_thread(sox_info, wav)
    assert info["Sample Rate"] == "8000"
    assert info["Channels"] == "1"
    assert info["Precision"] == "16-bit"
    seconds = float(info["Duration"].split("=")[0].split(":")[-1]) + 60 * int(
        info["Duration"].split(":")[1]
    )
    # Two short sentences: a couple of seconds each, not a blip and not a runaway.
    assert 2.0 < seconds < 15.0
    assert await asyncio.to_thread(sox_rms, wav) > 0.01


async def test_unchanged_prompts_are_not_rendered_again(tmp_path: Path):
    texts = {"a": ("一", "one"), "b": ("二", "two")}
    first = await build_prompts(small_menu(texts), tmp_path)
    assert sorted(first.rendered) == ["a", "b"]
    second = await build_prompts(small_menu(texts), tmp_path)
    assert second.rendered == () and sorted(second.unchanged) == ["a", "b"]
    assert second.segments_rendered == 0 and second.segments_cached == 4
    texts["b"] = ("三", "three")
    third = await build_prompts(small_menu(texts), tmp_path)
    assert third.rendered == ("b",) and third.unchanged == ("a",)
    assert third.segments_rendered == 2  # only b's two segments


async def test_missing_tts_engine_is_a_clear_error(tmp_path: Path):
    engine = Pyttsx3Engine(driver="no-such-driver")
    with pytest.raises(PromptBuildError, match="TTS engine 'no-such-driver' is not available"):
        await build_prompts(small_menu({"a": ("一", "one")}), tmp_path, engine=engine)


async def test_unknown_voice_is_a_clear_error(tmp_path: Path):
    menu = replace(small_menu({"a": ("一", "one")}), voices={"zh": "nope/xx", "en": "gmw/en"})
    with pytest.raises(PromptBuildError, match="no voice 'nope/xx'"):
        await build_prompts(menu, tmp_path)


def _cli():
    import typer

    from ivr.cli import prompts_app

    app = typer.Typer()
    app.add_typer(prompts_app, name="prompts")
    return app


def test_cli_build_renders_the_default_menu(tmp_path: Path):
    from typer.testing import CliRunner

    result = CliRunner().invoke(_cli(), ["prompts", "build", "--sounds-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    menu = load_menu()
    assert sorted(p.stem for p in tmp_path.glob("*.wav")) == sorted(menu.prompts)
    assert f"{len(menu.prompts)} prompts" in result.output


def test_cli_bad_menu_exits_non_zero(tmp_path: Path):
    from typer.testing import CliRunner

    bad = tmp_path / "menu.toml"
    bad.write_text("languages = []\n", encoding="utf-8")
    result = CliRunner().invoke(
        _cli(), ["prompts", "build", "--sounds-dir", str(tmp_path), "--menu", str(bad)]
    )
    assert result.exit_code == 1
    assert "invalid menu" in result.output


async def test_outage_announcement_is_rendered_for_the_ivr(tmp_path: Path):
    from ivr.prompts import render_announcement

    outage = await render_announcement(
        load_menu(),
        tmp_path,
        "INC/2026 7",
        {"zh": "中心平台故障。", "en": "The central platform is down."},
    )
    assert outage.incident_id == "INC/2026 7"
    assert outage.prompt == "outage-INC-2026-7"
    assert outage.text == "中心平台故障。"
    info = await asyncio.to_thread(sox_info, tmp_path / "outage-INC-2026-7.wav")
    assert info["Sample Rate"] == "8000"
    assert not (tmp_path / "greeting.wav").exists()  # only the announcement was rendered
    with pytest.raises(PromptBuildError, match="no announcement text"):
        await render_announcement(load_menu(), tmp_path, "INC-8", {"zh": "故障"})


async def test_the_recording_notice_renders_in_asterisk_format(tmp_path: Path):
    """The shipped menu's recorded-call notice, both languages, as Asterisk plays it."""
    menu = load_menu()
    assert menu.recording_notice is not None
    notice = menu.prompts[menu.recording_notice]
    report = await build_prompts(replace(menu, prompts={notice.name: notice}), tmp_path)
    assert report.rendered == (notice.name,) and report.segments_rendered == 2
    wav = tmp_path / f"{notice.name}.wav"
    info = await asyncio.to_thread(sox_info, wav)
    assert (info["Sample Rate"], info["Channels"], info["Precision"]) == ("8000", "1", "16-bit")
    seconds = float(info["Duration"].split("=")[0].split(":")[-1]) + 60 * int(
        info["Duration"].split(":")[1]
    )
    assert 2.0 < seconds < 15.0  # two short sentences, zh then en
    assert await asyncio.to_thread(sox_rms, wav) > 0.01
