"""Typer sub-apps the lead mounts on `hotline`:

* `paper_app` as `hotline paper` (`hotline paper pads --count N [--out FILE]`);
* `drill_app` as `hotline drill` (one test call to the emergency pool; exit 1 if unanswered).

Settings come from the same environment variables as the rest of `hotline`
(HOTLINE_JOURNAL_DIR, HOTLINE_AMI_*), so the sub-apps stay usable on their own.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from ami.errors import AmiError
from fallback.drill import EmergencyDrill
from fallback.errors import FallbackError
from fallback.paper import PaperNumberAllocator, render_pads

paper_app = typer.Typer(help="Emergency paper tickets.", no_args_is_help=True)
drill_app = typer.Typer(help="Emergency-pool drill.", invoke_without_command=True)


@paper_app.callback()
def paper() -> None:
    """Emergency paper tickets (pre-numbered pads for emergency mode)."""


JournalDir = Annotated[
    Path,
    typer.Option(
        "--journal-dir", envvar="HOTLINE_JOURNAL_DIR", help="Emergency journal directory."
    ),
]


def _now() -> datetime:
    return datetime.now(UTC)


async def _pads(count: int, start: int | None, out: Path | None, journal_dir: Path) -> Path:
    allocator = PaperNumberAllocator(journal_dir)
    await allocator.open()
    try:
        first = start if start is not None else allocator.next_unprinted
        fmt = allocator.format
        path = out or Path(f"paper-pads-{fmt.format(first)}-{fmt.format(first + count - 1)}.html")
        await asyncio.to_thread(render_pads, count, first, path, number_format=fmt)
        # Recorded so a later run continues after these and backfill accepts the numbers.
        await allocator.record_printed(first, count, _now())
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
) -> None:
    """Render pre-numbered paper-ticket pads as a printable HTML sheet (two per A4 page)."""
    try:
        path = asyncio.run(_pads(count, start, out, journal_dir))
    except (FallbackError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{count} paper-ticket sheet(s) written to {path}")


async def _drill(
    host: str,
    port: int,
    user: str,
    secret: str,
    timeout: float,
    journal_dir: Path,
    *,
    login_timeout: float = 10.0,
) -> tuple[bool, str]:
    from ami.client import AmiClient, LinkState  # the AMI stack only when a drill runs

    client = AmiClient(host=host, port=port, username=user, secret=secret)
    results = EmergencyDrill.results_log(journal_dir)
    await results.open()
    drill = EmergencyDrill(client, _now, results=results, timeout=timeout)
    client.add_listener(lambda event: drill.on_ami_message(event.message))
    client.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + login_timeout
        while not client.connected_event.is_set():
            if client.state is LinkState.AUTH_FAILED or loop.time() > deadline:
                return False, f"cannot log in to AMI at {host}:{port}: {client.last_error}"
            await asyncio.sleep(0.05)
        result = await drill.run(by="cli")
        return result.answered, f"drill {result.drill_id}: {result.detail}"
    finally:
        await client.stop()
        await results.close()


@drill_app.callback()
def drill(
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for an answer.")] = 30.0,
    ami_host: Annotated[str, typer.Option(envvar="HOTLINE_AMI_HOST")] = "127.0.0.1",
    ami_port: Annotated[int, typer.Option(envvar="HOTLINE_AMI_PORT")] = 5038,
    ami_user: Annotated[str, typer.Option(envvar="HOTLINE_AMI_USER")] = "",
    ami_secret: Annotated[str, typer.Option(envvar="HOTLINE_AMI_SECRET")] = "",
    journal_dir: JournalDir = Path("./journal"),
) -> None:
    """Place a test call to the emergency queue; exit 0 if a pool member answered."""
    if not ami_user or not ami_secret:
        typer.echo("error: HOTLINE_AMI_USER and HOTLINE_AMI_SECRET are required", err=True)
        raise typer.Exit(2)
    try:
        answered, line = asyncio.run(
            _drill(ami_host, ami_port, ami_user, ami_secret, timeout, journal_dir)
        )
    except (FallbackError, AmiError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(line)
    raise typer.Exit(0 if answered else 1)
