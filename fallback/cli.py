"""`paper_app`, mounted on `hotline` as `hotline paper` (`hotline paper pads --count N
[--out FILE]`).

The journal directory comes from HOTLINE_JOURNAL_DIR like the rest of `hotline`, so the
sub-app stays usable on its own. `hotline drill` needs the AMI client and is wired in
`hotline.drill_command`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from calls.clock import utc_now
from fallback.errors import FallbackError
from fallback.paper import PaperNumberAllocator, render_pads
from translations import DEFAULT_LANGUAGE, check_language

paper_app = typer.Typer(help="Emergency paper tickets.", no_args_is_help=True)


@paper_app.callback()
def paper() -> None:
    """Emergency paper tickets (pre-numbered pads for emergency mode)."""


JournalDir = Annotated[
    Path,
    typer.Option(
        "--journal-dir", envvar="HOTLINE_JOURNAL_DIR", help="Emergency journal directory."
    ),
]


async def _pads(
    count: int, start: int | None, out: Path | None, journal_dir: Path, language: str
) -> Path:
    allocator = PaperNumberAllocator(journal_dir)
    await allocator.open()
    try:
        first = start if start is not None else allocator.next_unprinted
        fmt = allocator.format
        path = out or Path(f"paper-pads-{fmt.format(first)}-{fmt.format(first + count - 1)}.html")
        await asyncio.to_thread(
            render_pads, count, first, path, number_format=fmt, language=language
        )
        # Recorded so a later run continues after these and backfill accepts the numbers.
        await allocator.record_printed(first, count, utc_now())
        return path
    finally:
        await allocator.close()


@paper_app.command("pads")
def pads(
    count: Annotated[int, typer.Option("--count", min=1, max=10000, help="How many sheets.")],
    out: Annotated[Path | None, typer.Option("--out", help="HTML file to write.")] = None,
    start: Annotated[
        int | None, typer.Option("--start", min=1, help="First number (default: next unused).")
    ] = None,
    journal_dir: JournalDir = Path("./journal"),
    language: Annotated[
        str,
        typer.Option("--lang", envvar="HOTLINE_LOCALE", help="Language of the pads (zh-CN or en)."),
    ] = DEFAULT_LANGUAGE,
) -> None:
    """Render pre-numbered paper-ticket pads as a printable HTML sheet (two per A4 page)."""
    try:
        path = asyncio.run(_pads(count, start, out, journal_dir, check_language(language)))
    except (FallbackError, OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{count} paper-ticket sheet(s) written to {path}")
