"""`hotline oncall import FILE.csv`: the on-call rota (`supervision.oncall.rota_file`).

Exit status as for `hotline sites import`: 0 every row imported, 2 some rows rejected
(the valid ones kept), 1 with a one-line reason when the file or database fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from calls.clock import utc_now
from hotline.admin_commands import _fail, _os_user, _run, _settings
from storage.database import Database
from storage.oncall import OnCallRepository
from supervision.oncall.rota_file import RotaFile, RotaFileError, read_rota

oncall_app = typer.Typer(help="On-call rota.", no_args_is_help=True)
MAX_ERRORS_SHOWN = 50


@oncall_app.command("import")
def import_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Rota CSV (UTF-8, header row).")],
) -> None:
    """Import duty periods; bad rows are reported by line and skipped."""
    settings = _settings(ctx)
    if not file.is_file():
        _fail(f"no such file: {file}")
    try:
        rota = read_rota(file.read_bytes())
    except (OSError, RotaFileError) as exc:
        _fail(f"{file}: {exc}")

    async def work(db: Database) -> tuple[int, int]:
        store = OnCallRepository(db)
        by, now = f"import:{_os_user()}", utc_now()
        added = updated = 0
        for _line, draft in rota.shifts:
            if await store.import_shift(draft, by=by, at=now):
                added += 1
            else:
                updated += 1
        return added, updated

    added, updated = _run(settings, work)
    _report(file, rota, added, updated)
    if rota.errors:
        raise typer.Exit(code=2)


def _report(file: Path, rota: RotaFile, added: int, updated: int) -> None:
    for error in rota.errors[:MAX_ERRORS_SHOWN]:
        typer.echo(f"{file}:{error}", err=True)
    if len(rota.errors) > MAX_ERRORS_SHOWN:
        typer.echo(f"... and {len(rota.errors) - MAX_ERRORS_SHOWN} more bad rows", err=True)
    typer.echo(
        f"{len(rota.shifts)} of {rota.rows_read} rows imported: {added} shifts added, "
        f"{updated} updated, {len(rota.errors)} rows rejected"
    )
