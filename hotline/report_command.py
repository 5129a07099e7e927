"""`report_app`, mounted by `hotline.cli` as `hotline report`:
``hotline report monthly --month 2026-11 [--out DIR]``."""

from __future__ import annotations

import asyncio
from datetime import timedelta, tzinfo
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from hotline.settings import ConfigError, load_settings
from routing.domain.levels import SlaPolicy
from supervision.config import SupervisionConfig
from supervision.domain.calendar import WorkingCalendar
from supervision.domain.monthly import Month
from translations import check_language

report_app = typer.Typer(help="Operations reports.", no_args_is_help=True)
_err = Console(stderr=True)


@report_app.callback()
def reports() -> None:
    """Operations reports (a group, so `monthly` stays a sub-command)."""


@report_app.command("monthly")
def monthly(
    month: Annotated[str, typer.Option("--month", help="Month to report, e.g. 2026-11")],
    out: Annotated[Path, typer.Option("--out", help="Output directory")] = Path("reports"),
    config: Annotated[Path | None, typer.Option("--config", help="TOML configuration file")] = None,
    language: Annotated[
        str | None,
        typer.Option("--lang", help="zh-CN or en (default: HOTLINE_LOCALE)"),
    ] = None,
) -> None:
    """Write the monthly operations report (HTML, PNG plots, CSV) for MONTH."""
    try:
        parsed = Month.parse(month)
        settings = load_settings(config)
        # `[supervision]` once Settings carries it (see SupervisionConfig).
        sup = SupervisionConfig.from_mapping(getattr(settings, "supervision", None) or {})
        report_language = check_language(language) if language else settings.locale
    except (ValueError, ConfigError) as exc:
        _err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    try:
        index = asyncio.run(
            _render(
                settings.db_url,
                parsed,
                out,
                settings.service_level_target_seconds,
                sup.calendar.zone,
                report_language,
                field=(settings.sla_policy(), sup.calendar),
            )
        )
    except Exception as exc:
        _err.print(f"error: cannot write the report: {str(exc).splitlines()[0]}")
        raise typer.Exit(1) from exc
    typer.echo(str(index))


async def _render(
    db_url: str,
    month: Month,
    out: Path,
    sl_target: int,
    zone: tzinfo,
    language: str,
    *,
    field: tuple[SlaPolicy, WorkingCalendar] | None = None,
) -> Path:
    """`field`: the commitments and working calendar the field-work section judges by."""
    from storage.database import Database
    from storage.reports import ReportRepository
    from supervision.report import render_monthly

    db = Database(db_url)
    try:
        await db.ping()
        with Progress(
            TextColumn("{task.description}"), BarColumn(), console=_err, transient=True
        ) as bar:
            task = bar.add_task("report", total=1.0)

            def progress(stage: str, fraction: float) -> None:
                bar.update(task, description=stage, completed=fraction)

            return await render_monthly(
                ReportRepository(db),
                month,
                out,
                progress=progress,
                service_level_target=timedelta(seconds=sl_target),
                zone=zone,
                language=language,
                sla=field[0] if field else None,
                calendar=field[1] if field else None,
            )
    finally:
        await db.dispose()
