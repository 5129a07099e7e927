"""console_revocations: logged-out console sessions, shared by every console process

A log-out used to be remembered only by the console process that handled it, and only
until it restarted. The row names the token's nonce and lives until the token would
have expired anyway (console.sessions, storage.revocations).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_revocations",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_console_revocations")),
    )
    # Pruning deletes by expiry.
    op.create_index(
        op.f("ix_console_revocations_expires_at"),
        "console_revocations",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_console_revocations_expires_at"), table_name="console_revocations")
    op.drop_table("console_revocations")
