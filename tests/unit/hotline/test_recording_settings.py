"""HOTLINE_RECORDINGS_DIR, HOTLINE_RECORDING_DAYS and HOTLINE_RECORDING_NOTICE as the
environment gives them."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.settings import ConfigError, load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOTLINE_RECORDINGS_DIR", "HOTLINE_RECORDING_DAYS", "HOTLINE_RECORDING_NOTICE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.recordings_dir == Path("./recordings")
    assert settings.recording_days == 180
    assert settings.recording_notice is True


def test_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOTLINE_RECORDINGS_DIR", str(tmp_path))
    monkeypatch.setenv("HOTLINE_RECORDING_DAYS", "30")
    monkeypatch.setenv("HOTLINE_RECORDING_NOTICE", "0")
    settings = load_settings()
    assert settings.recordings_dir == tmp_path
    assert settings.recording_days == 30
    assert settings.recording_notice is False


@pytest.mark.parametrize(
    ("name", "value"), [("HOTLINE_RECORDING_DAYS", "-1"), ("HOTLINE_RECORDING_NOTICE", "maybe")]
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert name.removeprefix("HOTLINE_").lower() in str(err.value)
