"""The stand-in's MixMonitor argument handling, as app_mixmonitor's: file names, options,
where the stand-in may write, and the audio it writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbx.mixmonitor import (
    MONITOR_SPOOL,
    SAMPLE_RATE,
    MixMonitors,
    absolute_file_name,
    conversation_samples,
    option_value,
    split_arguments,
)


def test_arguments_split_as_ast_standard_app_args() -> None:
    assert split_arguments("/r/x.wav,b") == ("/r/x.wav", "b", "")
    assert split_arguments("x.wav") == ("x.wav", "", "")
    assert split_arguments("x.wav,b,/bin/post ^{A},more") == ("x.wav", "b", "/bin/post ^{A},more")


def test_file_names_as_filename_parse() -> None:
    assert absolute_file_name("/r/x.wav") == "/r/x.wav"
    assert absolute_file_name("x.wav") == f"{MONITOR_SPOOL}/x.wav"
    assert absolute_file_name("/r/x.wav49") == "/r/x.WAV"


@pytest.mark.parametrize(
    ("options", "letter", "value"),
    [
        ("b", "b", ""),
        ("bi(ID)", "i", "ID"),
        ("B(10)b", "b", ""),
        ("B(10)", "b", None),
        ("", "b", None),
    ],
)
def test_option_values(options: str, letter: str, value: str | None) -> None:
    assert option_value(options, letter) == value


def test_conversation_audio_is_8khz_16bit_for_the_duration() -> None:
    audio = conversation_samples(1.5)
    assert len(audio) == int(1.5 * SAMPLE_RATE) * 2
    assert any(audio)  # not silence


def test_only_the_recordings_directory_is_writable(tmp_path: Path) -> None:
    monitors: MixMonitors[object] = MixMonitors(  # type: ignore[type-var]
        varset=lambda *a: None,
        channel_event=lambda *a: None,
        now=lambda: 0.0,
        pbx_dir="/var/spool/asterisk/monitor/hotline",
        local_dir=tmp_path,
    )
    assert (
        monitors.local_path("/var/spool/asterisk/monitor/hotline/1.2.wav") == tmp_path / "1.2.wav"
    )
    assert monitors.local_path("/var/spool/asterisk/monitor/other.wav") is None
    assert monitors.local_path("/var/spool/asterisk/monitor/hotline/../x.wav") is None


def test_the_conversation_continues_where_it_stopped() -> None:
    whole = conversation_samples(7.0)
    assert conversation_samples(3.0) + conversation_samples(4.0, offset=3.0) == whole
    assert conversation_samples(600.0)[-2:] != b""  # ten minutes, at once
