"""`hotline drill`: one test call to the emergency pool over AMI; exit 1 if unanswered.

Settings come from the same environment variables as the rest of `hotline`
(HOTLINE_JOURNAL_DIR, HOTLINE_AMI_*), so the sub-app stays usable on its own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from calls.clock import utc_now
from calls.errors import CallControlError
from fallback.cli import JournalDir
from fallback.drill import EmergencyDrill
from fallback.errors import FallbackError

drill_app = typer.Typer(help="Emergency-pool drill.", invoke_without_command=True)


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
    drill = EmergencyDrill(client, utc_now, results=results, timeout=timeout)
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
    except (FallbackError, CallControlError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(line)
    raise typer.Exit(0 if answered else 1)
