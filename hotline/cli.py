"""The `hotline` command (INTERFACE.md "Commands")."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from fallback.cli import paper_app
from hotline.admin_commands import db_app, sites_app, users_app
from hotline.drill_command import drill_app
from hotline.logs import configure_logging
from hotline.oncall_command import oncall_app
from hotline.report_command import report_app
from hotline.settings import ConfigError, Settings, load_settings
from ivr.cli import prompts_app

app = typer.Typer(
    name="hotline",
    help="Telephone front end of the 7x24 technical-support hotline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(users_app, name="users")
app.add_typer(sites_app, name="sites")
app.add_typer(db_app, name="db")
app.add_typer(prompts_app, name="prompts")
app.add_typer(paper_app, name="paper")
app.add_typer(drill_app, name="drill")
app.add_typer(report_app, name="report")
app.add_typer(oncall_app, name="oncall")

err = Console(stderr=True)
# Top-level packages of the development distribution (sim/), which `hotline demo` needs.
SIM_PACKAGES = ("pbx", "testkit")
NEEDS_SIM = (
    "{command} needs the development distribution hotline-sim: "
    "pip install -e sim (scripts/install does it)"
)
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML file with settings (keys without HOTLINE_).",
        exists=True,
        dir_okay=False,
    ),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """One-line reason on stderr, non-zero exit (INTERFACE.md)."""
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.callback()
def main(
    ctx: typer.Context,
    config: ConfigOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    service = ctx.invoked_subcommand in ("serve", "demo")
    configure_logging(verbose=verbose, service=service)
    try:
        ctx.obj = load_settings(config)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    configure_logging(verbose=verbose, fmt=ctx.obj.log_format, service=service)


def settings_of(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj
    assert isinstance(obj, Settings)
    return obj


def run(coro: Any, *, event_loop: str = "asyncio") -> Any:
    """Run `coro` to completion on a new event loop of the kind named (`Settings.event_loop`
    for the long-running commands; the short ones keep asyncio's)."""
    try:
        with asyncio.Runner(loop_factory=loop_factory(event_loop)) as runner:
            return runner.run(coro)
    except ConfigError as exc:
        raise fail(str(exc)) from exc


def loop_factory(event_loop: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop for "uvloop"; None (asyncio's default) otherwise."""
    if event_loop != "uvloop":
        return None
    import uvloop

    return uvloop.new_event_loop


def running_loop_kind() -> str:
    """The kind of event loop running the caller: "uvloop" or "asyncio"."""
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


async def wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)  # POSIX only, like the PBX it serves
    await stop.wait()


# --- serve / demo ----------------------------------------------------------------------------


@app.command()
def serve(ctx: typer.Context) -> None:
    """Run the controller (AMI), the FastAGI IVR and the web console until SIGINT/SIGTERM."""
    from hotline.runtime import HotlineService

    settings = settings_of(ctx)

    async def _serve() -> None:
        # Checks the database and its schema, except on a restart during an outage (the
        # journal says emergency mode): then it serves without the database.
        service = HotlineService.build(settings, check_schema=True)
        await service.start()
        err.print(
            f"hotline serving: console {service.console_url}, FastAGI "
            f"{settings.agi_host}:{service.path.ivr.server.port}, AMI {settings.ami_host}:"
            f"{settings.ami_port}, event loop {running_loop_kind()}"
        )
        try:
            await wait_for_signal()
        finally:
            await service.stop()

    run(_serve(), event_loop=settings.event_loop)


@app.command()
def demo(
    ctx: typer.Context,
    speed: Annotated[
        float, typer.Option(help="Simulated time runs this many times faster.", min=0.1)
    ] = 4.0,
    interval: Annotated[
        float, typer.Option(help="Mean simulated seconds between calls.", min=1)
    ] = 20.0,
    sites: Annotated[int, typer.Option(help="Sites in the generated directory.", min=10)] = 2000,
    calls: Annotated[int | None, typer.Option(help="Stop after this many calls.")] = None,
    http_port: Annotated[int | None, typer.Option(help="Console port (default 8000).")] = None,
    agi_port: Annotated[int | None, typer.Option(help="FastAGI port (default 4573).")] = None,
) -> None:
    """`serve` plus the loopback PBX stand-in, a call generator and a demo directory."""
    # The stand-in and the demo data ship in the development distribution, not the product.
    try:
        from testkit.demo import run_demo
    except ModuleNotFoundError as exc:
        if exc.name not in SIM_PACKAGES:  # installed but broken: show the real error
            raise
        raise fail(NEEDS_SIM.format(command="hotline demo"), code=1) from exc

    settings = settings_of(ctx)
    overrides: dict[str, Any] = {}
    if http_port is not None:
        overrides["http_port"] = http_port
    if agi_port is not None:
        overrides["agi_port"] = agi_port
    if overrides:
        settings = settings.model_copy(update=overrides)
    run(
        run_demo(settings, speed=speed, interval=interval, sites=sites, max_calls=calls),
        event_loop=settings.event_loop,
    )
