"""ticket_dispatches and the tickets' field-work times: engineer dispatch, arrival
check-in and spare parts

tickets gains dispatched_at, onsite_at, part_needed_at, part_sent_at and
part_received_at (the starts and stops of the on-site and part clocks).
ticket_dispatches holds one row per engineer sent: the channel the notice went by, the
check-in link's expiry, the steps checked in from the phone (on the way, arrived with the
phone's location, fixed, part needed) and, after a re-dispatch, when it was superseded.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TICKET_TIMES = ("dispatched_at", "onsite_at", "part_needed_at", "part_sent_at", "part_received_at")


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        for name in _TICKET_TIMES:
            batch.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "ticket_dispatches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("engineer", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("link_base", sa.String(length=500), nullable=False),
        sa.Column("dispatched_by", sa.String(length=100), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("on_the_way_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fixed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("part_needed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("notice_state", sa.String(length=16), nullable=False),
        sa.Column("notice_error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_dispatches_ticket_id_tickets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_dispatches")),
    )
    op.create_index(
        op.f("ix_ticket_dispatches_ticket_id"), "ticket_dispatches", ["ticket_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ticket_dispatches_ticket_id"), table_name="ticket_dispatches")
    op.drop_table("ticket_dispatches")
    with op.batch_alter_table("tickets") as batch:
        for name in reversed(_TICKET_TIMES):
            batch.drop_column(name)
