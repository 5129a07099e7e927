"""oncall_shifts and oncall_pages: the on-call rota and the pages sent from it

oncall_shifts holds the duty periods imported with `hotline oncall import` (or swapped
on the supervisor page). oncall_pages holds every page of a level-1 ticket to an engineer
with its delivery and acknowledgement state; (ticket_number, seq) is unique so that two
controllers never page one ticket twice at the same step. ticket_history gains an index
on (field, at): the leader looks for tickets an edit raised to level 1.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The leader's on-call pass looks for recent level changes every few seconds.
    op.create_index("ix_ticket_history_field_at", "ticket_history", ["field", "at"], unique=False)
    op.create_table(
        "oncall_shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("engineer", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_shifts")),
    )
    op.create_index(
        "ix_oncall_shifts_period", "oncall_shifts", ["starts_at", "ends_at"], unique=False
    )
    op.create_table(
        "oncall_pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_number", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("site_code", sa.String(length=32), nullable=True),
        sa.Column("caller_number", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("shift_id", sa.Integer(), nullable=True),
        sa.Column("engineer", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_code", sa.String(length=32), nullable=False),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acked_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_pages")),
        sa.UniqueConstraint("ack_code", name=op.f("uq_oncall_pages_ack_code")),
        sa.UniqueConstraint("ticket_number", "seq", name=op.f("uq_oncall_pages_ticket_number")),
    )
    op.create_index("ix_oncall_pages_state", "oncall_pages", ["state", "id"], unique=False)
    op.create_index(
        op.f("ix_oncall_pages_ticket_number"), "oncall_pages", ["ticket_number"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_oncall_pages_ticket_number"), table_name="oncall_pages")
    op.drop_index("ix_oncall_pages_state", table_name="oncall_pages")
    op.drop_table("oncall_pages")
    op.drop_index("ix_oncall_shifts_period", table_name="oncall_shifts")
    op.drop_table("oncall_shifts")
    op.drop_index("ix_ticket_history_field_at", table_name="ticket_history")
