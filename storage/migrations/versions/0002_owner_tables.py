"""tables of supervision, leader fencing and the health probe

Until now their owners created them at start (CREATE TABLE IF NOT EXISTS), so a database
whose application user may not run DDL had no escalation scheduler, no fencing and no
health probe. From this revision `hotline db upgrade` creates them. A table that a
running hotline already created is left as it is.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "supervision_pauses",
    "supervision_steps",
    "supervision_notices",
    "controller_fence",
    "health_probe",
)


def _absent(table: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if _absent("supervision_pauses"):
        op.create_table(
            "supervision_pauses",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("ticket_number", sa.String(length=40), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("by", sa.String(length=100), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_pauses")),
        )
        op.create_index(
            op.f("ix_supervision_pauses_ticket_number"),
            "supervision_pauses",
            ["ticket_number"],
            unique=False,
        )
    if _absent("supervision_steps"):
        op.create_table(
            "supervision_steps",
            sa.Column("key", sa.String(length=200), nullable=False),
            sa.Column("ticket_number", sa.String(length=40), nullable=False),
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("level", sa.Integer(), nullable=False),
            sa.Column("step_index", sa.Integer(), nullable=True),
            sa.Column("targets", sa.Text(), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("key", name=op.f("pk_supervision_steps")),
        )
        op.create_index(
            op.f("ix_supervision_steps_taken_at"), "supervision_steps", ["taken_at"], unique=False
        )
        op.create_index(
            op.f("ix_supervision_steps_ticket_number"),
            "supervision_steps",
            ["ticket_number"],
            unique=False,
        )
    if _absent("supervision_notices"):
        op.create_table(
            "supervision_notices",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("step_key", sa.String(length=200), nullable=False),
            sa.Column("ticket_number", sa.String(length=40), nullable=False),
            sa.Column("recipient", sa.String(length=100), nullable=False),
            sa.Column("channel", sa.String(length=16), nullable=False),
            sa.Column("channel_kind", sa.String(length=16), nullable=False),
            sa.Column("title", sa.String(length=400), nullable=False),
            sa.Column("body", sa.Text(), nullable=False),
            sa.Column("ack_code", sa.String(length=32), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("last_error", sa.Text(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("acked_by", sa.String(length=100), nullable=False),
            sa.ForeignKeyConstraint(
                ["step_key"],
                ["supervision_steps.key"],
                name=op.f("fk_supervision_notices_step_key_supervision_steps"),
            ),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_notices")),
            sa.UniqueConstraint("ack_code", name=op.f("uq_supervision_notices_ack_code")),
        )
        op.create_index(
            op.f("ix_supervision_notices_acked_at"),
            "supervision_notices",
            ["acked_at"],
            unique=False,
        )
        op.create_index(
            "ix_supervision_notices_state", "supervision_notices", ["state", "id"], unique=False
        )
        op.create_index(
            op.f("ix_supervision_notices_step_key"),
            "supervision_notices",
            ["step_key"],
            unique=False,
        )
        op.create_index(
            op.f("ix_supervision_notices_ticket_number"),
            "supervision_notices",
            ["ticket_number"],
            unique=False,
        )
    # storage.fence.FenceStore (for cluster): the highest fencing token a leader has claimed.
    if _absent("controller_fence"):
        op.create_table(
            "controller_fence",
            sa.Column("name", sa.String(length=64), nullable=False),
            sa.Column("token", sa.BigInteger(), nullable=False),
            sa.Column("holder", sa.String(length=200), nullable=False),
            sa.Column("claimed_at", sa.String(length=40), nullable=False),
            sa.PrimaryKeyConstraint("name", name=op.f("pk_controller_fence")),
        )
    # storage.health_probe.HealthProbeTable (fallback's write probe): one row per node.
    if _absent("health_probe"):
        op.create_table(
            "health_probe",
            sa.Column("node", sa.String(length=200), nullable=False),
            sa.Column("token", sa.String(length=64), nullable=False),
            sa.Column("written_at", sa.String(length=40), nullable=False),
            sa.PrimaryKeyConstraint("node", name=op.f("pk_health_probe")),
        )


def downgrade() -> None:
    for table in reversed(TABLES):
        if not _absent(table):
            op.drop_table(table)
