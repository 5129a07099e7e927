"""console_users.language: the language a person chose for their pages

NULL means "not chosen": the browser's Accept-Language, then HOTLINE_LOCALE decide.
A `?lang=` on a page (or POST /api/me/language) writes it, so the choice follows the
person to any browser (console.i18n).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("console_users") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("console_users") as batch:
        batch.drop_column("language")
