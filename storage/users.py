"""`UserStore` on SQLAlchemy: console users, roles, scrypt password hashes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from calls.clock import Clock, utc_now
from routing.errors import InvalidInput, LastAdmin, UserExists, UserNotFound
from routing.passwords import MAX_PASSWORD, MIN_PASSWORD, password_problem
from routing.records import ConsoleUser, UserRole
from storage.database import Database
from storage.errors import store_errors
from storage.models import ConsoleUserRow
from translations import check_language

log = logging.getLogger(__name__)

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
# Asterisk interfaces: PJSIP/1001, SIP/peer, Local/1001@agents-local, IAX2/x ...
_INTERFACE = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9._@+#*-]{1,90}$")
__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "UserRepository", "hash_password"]

# scrypt cost: ~16 MiB, tens of milliseconds; always run off the event loop.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = encoded.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        actual = hashlib.scrypt(
            password.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Compared against when the user does not exist, so timing does not reveal user names.
_DUMMY_HASH = hash_password("not a real password", salt=b"\0" * 16)


def check_username(username: str) -> str:
    if not _USERNAME.match(username):
        raise InvalidInput("username", "1-64 characters: letters, digits, '.', '_', '@', '-'")
    return username


def check_interface(interface: str | None) -> str | None:
    if interface is None or interface == "":
        return None
    if not _INTERFACE.match(interface):
        raise InvalidInput("interface", "must look like PJSIP/1001 or Local/1001@agents")
    return interface


def check_password(password: str, username: str = "") -> str:
    """`password` when the policy (`routing.passwords`) accepts it for `username`."""
    problem = password_problem(password, username)
    if problem is not None:
        raise InvalidInput("password", problem)
    return password


def parse_role(role: UserRole | str) -> UserRole:
    try:
        return UserRole(role)
    except ValueError as exc:
        raise InvalidInput("role", "must be agent, supervisor or admin") from exc


def _to_user(row: ConsoleUserRow) -> ConsoleUser:
    return ConsoleUser(
        username=row.username,
        role=UserRole(row.role),
        interface=row.interface,
        active=row.active,
        session_epoch=row.session_epoch or 0,
        language=row.language,
    )


class UserRepository:
    """Implements `routing.ports.UserStore`."""

    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self.db = db
        self.clock = clock

    async def create(
        self, username: str, role: UserRole | str, password: str, interface: str | None = None
    ) -> ConsoleUser:
        check_username(username)
        parsed_role = parse_role(role)
        check_interface(interface)
        check_password(password, username)
        encoded = await asyncio.to_thread(hash_password, password)
        row = ConsoleUserRow(
            username=username,
            role=parsed_role.value,
            password_hash=encoded,
            interface=interface or None,
            active=True,
            created_at=self.clock(),
            session_epoch=0,
        )
        try:
            with store_errors():
                async with self.db.sessions.begin() as session:
                    session.add(row)
        except IntegrityError as exc:
            if await self.get(username) is not None:
                raise UserExists(username) from exc
            raise InvalidInput("interface", f"{interface} belongs to another user") from exc
        log.info("console user %s created (%s, %s)", username, parsed_role, interface or "-")
        return _to_user(row)

    async def authenticate(self, username: str, password: str) -> ConsoleUser | None:
        if len(password) > MAX_PASSWORD or len(username) > 64:
            return None
        with store_errors():
            async with self.db.reads() as session:
                row = await session.scalar(
                    select(ConsoleUserRow).where(ConsoleUserRow.username == username)
                )
        encoded = row.password_hash if row is not None else _DUMMY_HASH
        ok = await asyncio.to_thread(verify_password, password, encoded)
        if row is None or not ok or not row.active:
            return None
        return _to_user(row)

    async def get(self, username: str) -> ConsoleUser | None:
        with store_errors():
            async with self.db.reads() as session:
                row = await session.scalar(
                    select(ConsoleUserRow).where(ConsoleUserRow.username == username)
                )
        return None if row is None else _to_user(row)

    async def get_many(self, usernames: Sequence[str]) -> dict[str, ConsoleUser]:
        found: dict[str, ConsoleUser] = {}
        with store_errors():
            async with self.db.reads() as session:
                for start in range(0, len(usernames), 500):  # under SQLite's parameter limit
                    rows = await session.scalars(
                        select(ConsoleUserRow).where(
                            ConsoleUserRow.username.in_(list(usernames[start : start + 500]))
                        )
                    )
                    found.update((row.username, _to_user(row)) for row in rows)
        return found

    async def all_users(self) -> Sequence[ConsoleUser]:
        with store_errors():
            async with self.db.reads() as session:
                rows = (
                    await session.scalars(select(ConsoleUserRow).order_by(ConsoleUserRow.username))
                ).all()
        return [_to_user(r) for r in rows]

    async def set_active(self, username: str, active: bool) -> ConsoleUser:
        """Enable or disable `username`; disabling ends every session of theirs.

        UserNotFound; LastAdmin when it would disable the last enabled admin."""
        async with self._changing(username) as (session, row):
            if not active:
                await self._keep_an_admin(session, row)
            if row.active != active:
                row.active = active
                row.session_epoch = (row.session_epoch or 0) + 1
        log.info("console user %s %s", username, "enabled" if active else "disabled")
        return _to_user(row)

    async def set_role(self, username: str, role: UserRole | str) -> ConsoleUser:
        """Give `username` another role, ending their sessions (they log in again with it).

        UserNotFound; InvalidInput for an unknown role; LastAdmin when it would demote the
        last enabled admin."""
        parsed = parse_role(role)
        async with self._changing(username) as (session, row):
            if parsed is not UserRole.ADMIN:
                await self._keep_an_admin(session, row)
            if row.role != parsed.value:
                row.role = parsed.value
                row.session_epoch = (row.session_epoch or 0) + 1
        log.info("console user %s now has the role %s", username, parsed.value)
        return _to_user(row)

    async def set_password(self, username: str, password: str) -> ConsoleUser:
        """A new password for `username` (the policy applies); ends their sessions."""
        check_password(password, username)
        encoded = await asyncio.to_thread(hash_password, password)
        async with self._changing(username) as (_session, row):
            row.password_hash = encoded
            row.session_epoch = (row.session_epoch or 0) + 1
        log.info("console user %s: password changed", username)
        return _to_user(row)

    async def set_language(self, username: str, language: str | None) -> ConsoleUser:
        """The pages' language `username` chose (None: no choice); sessions go on."""
        chosen = None
        if language is not None:
            try:
                chosen = check_language(language)
            except ValueError as exc:
                raise InvalidInput("language", str(exc)) from exc
        async with self._changing(username) as (_session, row):
            row.language = chosen
        return _to_user(row)

    async def end_sessions(self, username: str) -> ConsoleUser:
        """Refuse every token issued to `username` so far ("log out everywhere")."""
        async with self._changing(username) as (_session, row):
            row.session_epoch = (row.session_epoch or 0) + 1
        return _to_user(row)

    @contextlib.asynccontextmanager
    async def _changing(self, username: str) -> AsyncIterator[tuple[AsyncSession, ConsoleUserRow]]:
        """The user's row, locked, in a transaction committed on leaving."""
        with store_errors():
            async with self.db.sessions.begin() as session:
                row = await session.scalar(
                    select(ConsoleUserRow)
                    .where(ConsoleUserRow.username == username)
                    .with_for_update()
                )
                if row is None:
                    raise UserNotFound(username)
                yield session, row

    async def _keep_an_admin(self, session: AsyncSession, row: ConsoleUserRow) -> None:
        if row.role != UserRole.ADMIN.value or not row.active:
            return
        # Locking every enabled admin row serialises two concurrent demotions.
        others = await session.scalar(
            select(func.count()).select_from(
                select(ConsoleUserRow.id)
                .where(
                    ConsoleUserRow.role == UserRole.ADMIN.value,
                    ConsoleUserRow.active.is_(True),
                    ConsoleUserRow.id != row.id,
                )
                .with_for_update()
                .subquery()
            )
        )
        if not others:
            raise LastAdmin(row.username)
