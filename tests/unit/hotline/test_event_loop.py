"""`serve` and `demo` run on the event loop the settings name (asyncio's unless told)."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from hotline import cli
from hotline.settings import Settings


async def loop_kind() -> str:
    return cli.running_loop_kind()


@pytest.mark.parametrize("kind", ["uvloop", "asyncio"])
def test_run_uses_the_loop_named(kind: str) -> None:
    assert cli.run(loop_kind(), event_loop=kind) == kind


def test_asyncio_is_the_default() -> None:
    assert Settings.model_fields["event_loop"].default == "asyncio"


@pytest.mark.parametrize("kind", ["uvloop", "asyncio"])
def test_serve_hands_the_setting_to_the_runner(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def run(coro: Any, *, event_loop: str = "asyncio") -> None:
        coro.close()  # not started: only the loop it would run on matters here
        asked.append(event_loop)

    monkeypatch.setattr(cli, "run", run)
    monkeypatch.setenv("HOTLINE_EVENT_LOOP", kind)
    result = CliRunner().invoke(cli.app, ["serve"])
    assert result.exit_code == 0, result.output
    assert asked == [kind]
