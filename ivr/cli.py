"""`prompts_app`, mounted by `hotline.cli` as `hotline prompts`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ivr.errors import IvrError
from ivr.menu_file import load_menu
from ivr.prompts import BuildReport, build_prompts

prompts_app = typer.Typer(help="IVR prompts (text-to-speech, 8 kHz WAV for Asterisk).")


def _from_context(ctx: typer.Context, name: str) -> Path | None:
    """A path setting from the parent command's Settings object (ctx.obj), if any."""
    obj = ctx.find_root().obj if ctx.find_root() is not None else None
    value = getattr(obj, name, None) if obj is not None else None
    return Path(value) if value is not None else None


@prompts_app.command("build")
def build(
    ctx: typer.Context,
    sounds_dir: Annotated[
        Path | None,
        typer.Option("--sounds-dir", envvar="HOTLINE_SOUNDS_DIR", help="Where the WAVs go."),
    ] = None,
    menu_file: Annotated[
        Path | None,
        typer.Option("--menu", envvar="HOTLINE_MENU_FILE", help="Menu TOML (default: built-in)."),
    ] = None,
) -> None:
    """Render every prompt of the menu to <sounds-dir>/<name>.wav (8 kHz mono 16-bit)."""
    console = Console(stderr=True)
    target = sounds_dir or _from_context(ctx, "sounds_dir") or Path("./sounds")
    menu_path = menu_file or _from_context(ctx, "menu_file")
    try:
        menu = load_menu(menu_path)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task("prompts", total=len(menu.prompts))

            def step(name: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, description=f"prompts: {name}")

            report: BuildReport = asyncio.run(build_prompts(menu, target, progress=step))
    except IvrError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    typer.echo(
        f"{report.total} prompts in {report.sounds_dir}: {len(report.rendered)} rendered, "
        f"{len(report.unchanged)} unchanged ({report.segments_rendered} TTS runs, "
        f"{report.segments_cached} cached segments)"
    )
