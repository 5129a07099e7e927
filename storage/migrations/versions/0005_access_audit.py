"""access_audit and console_users.session_epoch: the access audit trail, and tokens
that a password, role or enabled change (or "log out everywhere") ends at once

access_audit holds one row per log-in (success or failure), log-out, user change,
emergency flip, backfill entry and SLA pause, with the actor, the client address and
details; rows older than the retention setting are pruned (storage.audit).
console_users.session_epoch is carried in each session token; raising it refuses every
token issued before (console.sessions).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_audit")),
    )
    # Filters (actor, action, since) and pruning by age.
    op.create_index(op.f("ix_access_audit_at"), "access_audit", ["at"], unique=False)
    op.create_index(op.f("ix_access_audit_actor"), "access_audit", ["actor"], unique=False)
    op.create_index(op.f("ix_access_audit_action"), "access_audit", ["action"], unique=False)
    with op.batch_alter_table("console_users") as batch:
        batch.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("console_users") as batch:
        batch.drop_column("session_epoch")
    op.drop_index(op.f("ix_access_audit_action"), table_name="access_audit")
    op.drop_index(op.f("ix_access_audit_actor"), table_name="access_audit")
    op.drop_index(op.f("ix_access_audit_at"), table_name="access_audit")
    op.drop_table("access_audit")
