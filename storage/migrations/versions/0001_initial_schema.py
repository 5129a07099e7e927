"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("caller_number", sa.String(length=64), nullable=False),
        sa.Column("caller_name", sa.String(length=200), nullable=False),
        sa.Column("site_code", sa.String(length=32), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("agent", sa.String(length=100), nullable=True),
        sa.Column("agent_interface", sa.String(length=100), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("ticket_number", sa.String(length=40), nullable=True),
        sa.Column("paper_number", sa.String(length=64), nullable=True),
        sa.Column("hold_seconds", sa.Integer(), nullable=True),
        sa.Column("talk_seconds", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("call_id", name=op.f("uq_calls_call_id")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_outcome"), ["outcome"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_site_code"), ["site_code"], unique=False)
        batch_op.create_index("ix_calls_started", ["started_at", "id"], unique=False)

    op.create_table(
        "console_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("interface", sa.String(length=100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_users")),
        sa.UniqueConstraint("interface", name=op.f("uq_console_users_interface")),
        sa.UniqueConstraint("username", name=op.f("uq_console_users_username")),
    )
    op.create_table(
        "engineers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("interface", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engineers")),
        sa.UniqueConstraint("name", name=op.f("uq_engineers_name")),
    )
    op.create_table(
        "health_probes",
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node", name=op.f("pk_health_probes")),
    )
    op.create_table(
        "satisfaction_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("ticket_number", sa.String(length=40), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_satisfaction_scores")),
    )
    with op.batch_alter_table("satisfaction_scores", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_satisfaction_scores_call_id"), ["call_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_satisfaction_scores_ticket_number"), ["ticket_number"], unique=False
        )

    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_code", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("site_name", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=True),
        sa.Column("address", sa.String(length=400), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("sector", sa.String(length=32), nullable=False),
        sa.Column("network_notes", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("site_code", name=op.f("uq_sites_site_code")),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sites_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "ticket_counters",
        sa.Column("day", sa.String(length=8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_ticket_counters")),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("site_code", sa.String(length=32), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("caller_number", sa.String(length=64), nullable=False),
        sa.Column("caller_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("response_due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("onsite_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("paper_number", sa.String(length=64), nullable=True),
        sa.Column("cause", sa.String(length=200), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("duty_agent", sa.String(length=200), nullable=False),
        sa.Column("support_engineer", sa.String(length=200), nullable=False),
        sa.Column("onsite_engineer", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_phone", sa.String(length=64), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=False),
        sa.Column("problem_type", sa.String(length=16), nullable=True),
        sa.Column("urgency", sa.String(length=16), nullable=True),
        sa.Column("department", sa.String(length=200), nullable=False),
        sa.Column("expected_resolution", sa.DateTime(timezone=True), nullable=True),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("rma_number", sa.String(length=200), nullable=False),
        sa.Column("rma_model", sa.String(length=200), nullable=False),
        sa.Column("rma_serial", sa.String(length=200), nullable=False),
        sa.Column("rma_quantity", sa.Integer(), nullable=True),
        sa.Column("rma_symptom", sa.Text(), nullable=False),
        sa.Column("rma_analysis", sa.Text(), nullable=False),
        sa.Column("spare_model", sa.String(length=200), nullable=False),
        sa.Column("spare_serial", sa.String(length=200), nullable=False),
        sa.Column("spare_sent_on", sa.Date(), nullable=True),
        sa.Column("spare_received_on", sa.Date(), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("satisfaction_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("call_id", name=op.f("uq_tickets_call_id")),
        sa.UniqueConstraint("number", name=op.f("uq_tickets_number")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_created", ["created_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_paper_number"), ["paper_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_site_code"), ["site_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_status"), ["status"], unique=False)

    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("normalised", sa.String(length=32), nullable=False),
        sa.Column("line_kind", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_contacts_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("site_id", "normalised", name="uq_contacts_site_number"),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_normalised"), ["normalised"], unique=False)

    op.create_table(
        "contracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("warranty_end", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_contracts_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
        sa.UniqueConstraint("site_id", name=op.f("uq_contracts_site_id")),
    )
    op.create_table(
        "equipment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("serial", sa.String(length=100), nullable=False),
        sa.Column("warranty_end", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_equipment_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equipment")),
        sa.UniqueConstraint("site_id", "serial", name="uq_equipment_site_serial"),
    )
    op.create_table(
        "site_engineers",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("engineer_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["engineer_id"],
            ["engineers.id"],
            name=op.f("fk_site_engineers_engineer_id_engineers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_site_engineers_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("site_id", "engineer_id", name=op.f("pk_site_engineers")),
    )
    op.create_table(
        "special_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_special_periods_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_special_periods")),
    )
    with op.batch_alter_table("special_periods", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_special_periods_site_id"), ["site_id"], unique=False)

    op.create_table(
        "ticket_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_history_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_history")),
    )
    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticket_history_ticket_id"), ["ticket_id"], unique=False
        )

    op.create_table(
        "ticket_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("symptom", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_log_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_log")),
    )
    with op.batch_alter_table("ticket_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_log_ticket_id"), ["ticket_id"], unique=False)
    _create_history_triggers()


def _create_history_triggers() -> None:
    # ticket_history is append-only: the database refuses UPDATE and DELETE.
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name, verb in (
            ("ticket_history_no_update", "UPDATE"),
            ("ticket_history_no_delete", "DELETE"),
        ):
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {verb} ON ticket_history "
                "BEGIN SELECT RAISE(ABORT, 'ticket_history is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION ticket_history_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'ticket_history is append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER ticket_history_no_change BEFORE UPDATE OR DELETE ON ticket_history "
            "FOR EACH ROW EXECUTE FUNCTION ticket_history_append_only()"
        )


def _drop_history_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ticket_history_no_update")
        op.execute("DROP TRIGGER IF EXISTS ticket_history_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ticket_history_no_change ON ticket_history")
        op.execute("DROP FUNCTION IF EXISTS ticket_history_append_only()")


def downgrade() -> None:
    _drop_history_triggers()

    with op.batch_alter_table("ticket_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_log_ticket_id"))

    op.drop_table("ticket_log")
    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_history_ticket_id"))

    op.drop_table("ticket_history")
    with op.batch_alter_table("special_periods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_special_periods_site_id"))

    op.drop_table("special_periods")
    op.drop_table("site_engineers")
    op.drop_table("equipment")
    op.drop_table("contracts")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_normalised"))

    op.drop_table("contacts")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_status"))
        batch_op.drop_index(batch_op.f("ix_tickets_site_code"))
        batch_op.drop_index(batch_op.f("ix_tickets_paper_number"))
        batch_op.drop_index("ix_tickets_created")

    op.drop_table("tickets")
    op.drop_table("ticket_counters")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_customer_id"))

    op.drop_table("sites")
    with op.batch_alter_table("satisfaction_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_satisfaction_scores_ticket_number"))
        batch_op.drop_index(batch_op.f("ix_satisfaction_scores_call_id"))

    op.drop_table("satisfaction_scores")
    op.drop_table("health_probes")
    op.drop_table("engineers")
    op.drop_table("console_users")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_started")
        batch_op.drop_index(batch_op.f("ix_calls_site_code"))
        batch_op.drop_index(batch_op.f("ix_calls_outcome"))

    op.drop_table("calls")
