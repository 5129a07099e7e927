"""The administrator's sub-apps `hotline.cli` mounts: `sites`, `users`, `db`.

    app.add_typer(sites_app, name="sites")   # hotline sites import FILE.csv
    app.add_typer(users_app, name="users")   # hotline users add|list|passwd|disable|enable|role
    app.add_typer(db_app, name="db")         # hotline db upgrade

Settings: when the root callback stores a `hotline.settings.Settings` in `ctx.obj` (after
reading `--config`), that is used; otherwise they are read from the environment here.
Errors end with exit status 1 and a one-line reason on stderr.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from hotline.settings import ConfigError, Settings, load_settings
from routing.errors import RoutingError
from routing.records import ConsoleUser
from storage.database import Database
from storage.site_import import ImportReport, import_sites

sites_app = typer.Typer(help="Site directory.", no_args_is_help=True)
users_app = typer.Typer(help="Console users.", no_args_is_help=True)
db_app = typer.Typer(help="Database.", no_args_is_help=True)

T = TypeVar("T")
MAX_ERRORS_SHOWN = 50


def _settings(ctx: typer.Context) -> Settings:
    if isinstance(ctx.obj, Settings):
        return ctx.obj
    try:
        return load_settings()
    except ConfigError as exc:
        _fail(str(exc))


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message.splitlines()[0] if message else 'failed'}", err=True)
    raise typer.Exit(code=1)


def _shown(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the configured database"


def _run(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        db = Database(settings.db_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except (RoutingError, SQLAlchemyError) as exc:
        reason = str(getattr(exc, "orig", None) or exc)
        if "no such table" in reason or "does not exist" in reason:
            reason = "database not initialised (run `hotline db upgrade`): " + reason
        _fail(reason)
    except OSError as exc:
        _fail(str(exc))


async def import_site_file(
    db: Database, file: Path, *, console: Console, summary: Console | None = None
) -> ImportReport:
    """Import `file` into `db` with a progress bar on `console`, then report the bad rows
    (the first MAX_ERRORS_SHOWN) on `console` and one summary line on `summary`
    (default `console`). `hotline sites import`, the demo and the test harnesses use it."""
    with Progress(
        TextColumn("importing {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
    ) as bar:
        task = bar.add_task(file.name, total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = await import_sites(db, file, progress=progress)
    for error in report.errors[:MAX_ERRORS_SHOWN]:
        _say(console, f"{file}:{error}")
    if len(report.errors) > MAX_ERRORS_SHOWN:
        _say(console, f"... and {len(report.errors) - MAX_ERRORS_SHOWN} more bad rows")
    _say(
        summary or console,
        f"{report.rows_imported} of {report.rows_read} rows imported: "
        f"{report.sites_created} sites created, {report.sites_updated} updated, "
        f"{report.contacts_added} contacts added, {len(report.errors)} rows rejected",
    )
    return report


def _say(console: Console, line: str) -> None:
    """One line as it is: no markup, highlighting, emoji codes or wrapping."""
    console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)


@sites_app.command("import")
def import_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Site directory CSV (UTF-8, header row).")],
) -> None:
    """Import or update site records; bad rows are reported and skipped."""
    settings = _settings(ctx)
    if not file.is_file():
        _fail(f"no such file: {file}")

    async def imported(db: Database) -> ImportReport:
        report = await import_site_file(db, file, console=Console(stderr=True), summary=Console())
        if settings.redis_url and report.sites_created + report.sites_updated:
            try:
                await announce_sites_changed(settings.redis_url, settings.redis_prefix)
            except Exception as exc:  # the rows are in: caches get them at their next poll
                note = f"site caches not told of the import ({exc}); they poll for it"
                _say(Console(stderr=True), note)
        return report

    report = _run(settings, imported)
    # Valid rows are kept either way; a non-zero status tells scripts some rows were bad.
    if report.errors:
        raise typer.Exit(code=2)


async def announce_sites_changed(redis_url: str, prefix: str) -> None:
    """Tell every process's site cache over Redis to reload what the import changed now,
    not at its next poll."""
    from bus.redis import RedisBus
    from bus.topics import SITES_CHANGED

    bus = RedisBus(redis_url, prefix=prefix)
    try:
        await bus.publish(SITES_CHANGED, {"type": SITES_CHANGED})
    finally:
        await bus.close()


@sites_app.command("generate")
def generate_command(
    file: Annotated[Path, typer.Argument(help="Where to write the demo directory CSV.")],
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same directory).")] = 1,
    sites: Annotated[int, typer.Option(min=1, max=100_000, help="Number of sites.")] = 2000,
) -> None:
    """Write a realistic demo site directory in the import CSV format."""
    # The demo directory ships in the development distribution, not the product.
    try:
        from testkit.demo_directory import generate, write_csv
    except ModuleNotFoundError as exc:
        if exc.name != "testkit":  # installed but broken: show the real error
            raise
        _fail(
            "hotline sites generate needs the development distribution hotline-sim: "
            "pip install -e sim (scripts/install does it)"
        )

    rows = generate(seed, sites)
    write_csv(rows, file)
    typer.echo(f"{file}: {sites} sites, {len(rows)} contacts")


def _read_password(password: str | None, password_stdin: bool) -> str:
    """The new password: one line of stdin, the (discouraged) option, or a hidden prompt
    asked twice. Never required on the command line, where `ps` and shell history see it."""
    if password_stdin:
        line = sys.stdin.readline()
        if not line:
            _fail("--password-stdin: nothing on standard input")
        return line.rstrip("\r\n")
    if password is not None:
        typer.echo(
            "warning: --password is visible to other users (ps) and in shell history; "
            "use --password-stdin or the prompt",
            err=True,
        )
        return password
    entered: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return entered


async def _after_change(
    settings: Settings,
    db: Database,
    action: str,
    name: str,
    detail: Mapping[str, object],
    *,
    epoch: int | None = None,
    reason: str = "",
) -> None:
    """Audit a user change made from the command line and, when it ends the user's
    sessions, tell every console process over Redis to close their websockets (without
    Redis the serving process notices within its periodic session re-check)."""
    from console.audit import AuditLog
    from storage.audit import AuditRepository

    await AuditLog(AuditRepository(db), clock=lambda: datetime.now(UTC)).record(
        action, actor=f"cli:{_os_user()}", client="local", detail={"user": name, **detail}
    )
    if epoch is not None and settings.redis_url:
        from bus.redis import RedisBus
        from console.session_end import announce_session_end

        bus = RedisBus(settings.redis_url, prefix=settings.redis_prefix)
        try:
            await announce_session_end(bus, name, epoch=epoch, reason=reason)
        finally:
            await bus.close()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


PasswordOption = Annotated[
    str | None,
    typer.Option(help="The password on the command line (visible in ps; for old scripts)."),
]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


@users_app.command("add")
def add_user_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name for the console log-in.")],
    role: Annotated[str, typer.Option(help="agent, supervisor or admin.")],
    password: PasswordOption = None,
    password_stdin: PasswordStdin = False,
    interface: Annotated[
        str | None, typer.Option(help="Queue-member interface of the agent's phone, PJSIP/1001.")
    ] = None,
) -> None:
    """Create a console user (the password is asked for unless given on stdin)."""
    from storage.users import UserRepository

    settings = _settings(ctx)
    secret = _read_password(password, password_stdin)

    async def work(db: Database) -> ConsoleUser:
        user = await UserRepository(db).create(name, role, secret, interface)
        detail = {"role": user.role.value, "interface": user.interface}
        await _after_change(settings, db, "user_added", user.username, detail)
        return user

    user = _run(settings, work)
    typer.echo(
        f"user {user.username} ({user.role.value}) created"
        + (f", phone {user.interface}" if user.interface else "")
    )


@users_app.command("list")
def list_users_command(ctx: typer.Context) -> None:
    """One line per user: name, role, interface, enabled."""
    from storage.users import UserRepository

    users = _run(_settings(ctx), lambda db: UserRepository(db).all_users())
    for user in users:
        enabled = "enabled" if user.active else "disabled"
        typer.echo(f"{user.username}\t{user.role.value}\t{user.interface or '-'}\t{enabled}")


@users_app.command("passwd")
def passwd_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user whose password changes.")],
    password: PasswordOption = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Set a user's password; their sessions and websockets end."""
    from storage.users import UserRepository

    settings = _settings(ctx)
    secret = _read_password(password, password_stdin)

    async def work(db: Database) -> ConsoleUser:
        user = await UserRepository(db).set_password(name, secret)
        await _after_change(
            settings,
            db,
            "user_password",
            name,
            {},
            epoch=user.session_epoch,
            reason="password changed",
        )
        return user

    _run(settings, work)
    typer.echo(f"password of {name} changed; their sessions ended")


def _set_active(ctx: typer.Context, name: str, active: bool) -> None:
    from storage.users import UserRepository

    settings = _settings(ctx)

    async def work(db: Database) -> ConsoleUser:
        user = await UserRepository(db).set_active(name, active)
        await _after_change(
            settings,
            db,
            "user_enabled" if active else "user_disabled",
            name,
            {},
            epoch=None if active else user.session_epoch,
            reason="account disabled",
        )
        return user

    _run(settings, work)
    typer.echo(f"user {name} {'enabled' if active else 'disabled; their sessions ended'}")


@users_app.command("disable")
def disable_command(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The user to disable.")]
) -> None:
    """Disable a user: no log-in; their sessions and websockets end."""
    _set_active(ctx, name, False)


@users_app.command("enable")
def enable_command(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The user to enable.")]
) -> None:
    """Enable a disabled user again."""
    _set_active(ctx, name, True)


@users_app.command("role")
def role_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user whose role changes.")],
    role: Annotated[str, typer.Argument(help="agent, supervisor or admin.")],
) -> None:
    """Give a user another role; their sessions and websockets end."""
    from storage.users import UserRepository

    settings = _settings(ctx)

    async def work(db: Database) -> ConsoleUser:
        user = await UserRepository(db).set_role(name, role)
        await _after_change(
            settings,
            db,
            "user_role",
            name,
            {"role": user.role.value},
            epoch=user.session_epoch,
            reason="role changed",
        )
        return user

    user = _run(settings, work)
    typer.echo(f"user {name} is now {user.role.value}; their sessions ended")


@db_app.command("upgrade")
def upgrade_command(ctx: typer.Context) -> None:
    """Apply the database migrations."""
    from storage.migrate import current, upgrade

    settings = _settings(ctx)
    try:
        upgrade(settings.db_url)
        revision = current(settings.db_url)
    except (SQLAlchemyError, OSError, RoutingError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        _fail(
            f"cannot upgrade {_shown(settings.db_url)}: {reason} "
            "(check HOTLINE_DB_URL and that the database server is running)"
        )
    typer.echo(f"database at revision {revision}")


if __name__ == "__main__":  # pragma: no cover - manual use: python -m hotline.admin_commands
    app = typer.Typer()
    app.add_typer(sites_app, name="sites")
    app.add_typer(users_app, name="users")
    app.add_typer(db_app, name="db")
    sys.exit(app())
