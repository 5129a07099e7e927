"""pbx_cdr: Asterisk's call detail records, written by cdr_pgsql

The PBX writes a row per call leg (asterisk-conf/cdr_pgsql.conf); the controller reads
them to give a record to calls no controller saw on AMI (routing.unseen). The column
names are cdr_pgsql's; every column has a server default so the module may leave out
what it does not know.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pbx_cdr",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "calldate",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("clid", sa.String(length=80), server_default="", nullable=False),
        sa.Column("src", sa.String(length=80), server_default="", nullable=False),
        sa.Column("dst", sa.String(length=80), server_default="", nullable=False),
        sa.Column("dcontext", sa.String(length=80), server_default="", nullable=False),
        sa.Column("channel", sa.String(length=80), server_default="", nullable=False),
        sa.Column("dstchannel", sa.String(length=80), server_default="", nullable=False),
        sa.Column("lastapp", sa.String(length=80), server_default="", nullable=False),
        sa.Column("lastdata", sa.String(length=80), server_default="", nullable=False),
        sa.Column("duration", sa.Integer(), server_default="0", nullable=False),
        sa.Column("billsec", sa.Integer(), server_default="0", nullable=False),
        sa.Column("disposition", sa.String(length=45), server_default="", nullable=False),
        sa.Column("amaflags", sa.Integer(), server_default="0", nullable=False),
        sa.Column("accountcode", sa.String(length=80), server_default="", nullable=False),
        sa.Column("uniqueid", sa.String(length=150), server_default="", nullable=False),
        sa.Column("userfield", sa.String(length=255), server_default="", nullable=False),
        sa.Column("peeraccount", sa.String(length=80), server_default="", nullable=False),
        sa.Column("linkedid", sa.String(length=150), server_default="", nullable=False),
        sa.Column("sequence", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pbx_cdr")),
    )
    op.create_index(op.f("ix_pbx_cdr_calldate"), "pbx_cdr", ["calldate"], unique=False)
    op.create_index(op.f("ix_pbx_cdr_linkedid"), "pbx_cdr", ["linkedid"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_pbx_cdr_linkedid"), table_name="pbx_cdr")
    op.drop_index(op.f("ix_pbx_cdr_calldate"), table_name="pbx_cdr")
    op.drop_table("pbx_cdr")
