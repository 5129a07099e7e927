"""`UserStore` on SQLAlchemy: console users, roles, scrypt password hashes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from calls.clock import Clock, utc_now
from routing.errors import InvalidInput, UserExists
from routing.records import ConsoleUser, UserRole
from storage.database import Database
from storage.errors import store_errors
from storage.models import ConsoleUserRow

log = logging.getLogger(__name__)

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
# Asterisk interfaces: PJSIP/1001, SIP/peer, Local/1001@agents-local, IAX2/x ...
_INTERFACE = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9._@+#*-]{1,90}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024

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


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput("password", f"must be {MIN_PASSWORD}-{MAX_PASSWORD} characters")
    return password


def _to_user(row: ConsoleUserRow) -> ConsoleUser:
    return ConsoleUser(
        username=row.username, role=UserRole(row.role), interface=row.interface, active=row.active
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
        try:
            parsed_role = UserRole(role)
        except ValueError as exc:
            raise InvalidInput("role", "must be agent, supervisor or admin") from exc
        check_interface(interface)
        check_password(password)
        encoded = await asyncio.to_thread(hash_password, password)
        row = ConsoleUserRow(
            username=username,
            role=parsed_role.value,
            password_hash=encoded,
            interface=interface or None,
            active=True,
            created_at=self.clock(),
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

    async def by_interface(self, interface: str) -> ConsoleUser | None:
        with store_errors():
            async with self.db.reads() as session:
                row = await session.scalar(
                    select(ConsoleUserRow).where(ConsoleUserRow.interface == interface)
                )
        return None if row is None else _to_user(row)

    async def all_users(self) -> Sequence[ConsoleUser]:
        with store_errors():
            async with self.db.reads() as session:
                rows = (
                    await session.scalars(select(ConsoleUserRow).order_by(ConsoleUserRow.username))
                ).all()
        return [_to_user(r) for r in rows]

    async def set_active(self, username: str, active: bool) -> ConsoleUser | None:
        with store_errors():
            async with self.db.sessions.begin() as session:
                row = await session.scalar(
                    select(ConsoleUserRow).where(ConsoleUserRow.username == username)
                )
                if row is None:
                    return None
                row.active = active
        return _to_user(row)
