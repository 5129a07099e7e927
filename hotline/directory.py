"""Site-directory import with a progress bar and a per-row error report (CLI and demo)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from storage.database import Database
from storage.site_import import ImportReport, import_sites


async def import_directory(db_url: str, path: Path, *, console: Console) -> ImportReport:
    db = Database(db_url)
    try:
        with Progress(
            TextColumn("[bold]sites"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("import", total=None)

            def step(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = await import_sites(db, path, progress=step)
    finally:
        await db.dispose()
    for error in report.errors:
        console.print(f"[yellow]{path}:[/yellow] {error}", highlight=False)
    console.print(
        f"{report.rows_imported} of {report.rows_read} rows imported: "
        f"{report.sites_created} sites created, {report.sites_updated} updated, "
        f"{report.contacts_added} contacts added, {len(report.errors)} rows rejected",
        highlight=False,
    )
    return report
