"""calls.recording: the file name of the call's recording (MixMonitor on the PBX)

NULL when the call was not recorded or when retention purged the recording. The file is
looked up by this name in HOTLINE_RECORDINGS_DIR; the index serves the daily purge.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("recording", sa.String(length=128), nullable=True))
    op.create_index(op.f("ix_calls_ticket_number"), "calls", ["ticket_number"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_calls_ticket_number"), table_name="calls")
    op.drop_column("calls", "recording")
