"""ORM models (SQLAlchemy 2 typed mapping). The schema the Alembic migrations produce.

Times are stored as UTC and always come back timezone-aware (`UtcDateTime`), on SQLite too.
`ticket_history` is append-only: database triggers refuse UPDATE and DELETE on it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, whatever the backend keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: pass a timezone-aware time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SiteRow(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_code: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    organisation: Mapped[str] = mapped_column(String(200))
    site_name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(400), default="")
    distance_km: Mapped[float | None] = mapped_column(Float)
    sector: Mapped[str] = mapped_column(String(32), default="")
    network_notes: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    contacts: Mapped[list[ContactRow]] = relationship(
        back_populates="site", cascade="all, delete-orphan", order_by="ContactRow.id"
    )
    equipment: Mapped[list[EquipmentRow]] = relationship(
        back_populates="site", cascade="all, delete-orphan", order_by="EquipmentRow.id"
    )
    contract: Mapped[ContractRow | None] = relationship(
        back_populates="site", cascade="all, delete-orphan", uselist=False
    )
    engineer_links: Mapped[list[SiteEngineerRow]] = relationship(
        back_populates="site", cascade="all, delete-orphan", order_by="SiteEngineerRow.position"
    )
    special_periods: Mapped[list[SpecialPeriodRow]] = relationship(
        back_populates="site", cascade="all, delete-orphan", order_by="SpecialPeriodRow.starts_at"
    )


class ContactRow(Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("site_id", "normalised", name="uq_contacts_site_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(64))
    normalised: Mapped[str] = mapped_column(String(32), index=True)
    line_kind: Mapped[str] = mapped_column(String(16), default="unknown")

    site: Mapped[SiteRow] = relationship(back_populates="contacts")


class EquipmentRow(Base):
    __tablename__ = "equipment"
    __table_args__ = (UniqueConstraint("site_id", "serial", name="uq_equipment_site_serial"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100), default="")
    serial: Mapped[str] = mapped_column(String(100))
    warranty_end: Mapped[date | None] = mapped_column(Date)

    site: Mapped[SiteRow] = relationship(back_populates="equipment")


class ContractRow(Base):
    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), unique=True)
    tier: Mapped[str] = mapped_column(String(32), default="")
    warranty_end: Mapped[date | None] = mapped_column(Date)

    site: Mapped[SiteRow] = relationship(back_populates="contract")


class EngineerRow(Base):
    __tablename__ = "engineers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    phone: Mapped[str] = mapped_column(String(64), default="")
    interface: Mapped[str | None] = mapped_column(String(100))


class SiteEngineerRow(Base):
    __tablename__ = "site_engineers"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    engineer_id: Mapped[int] = mapped_column(
        ForeignKey("engineers.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)

    site: Mapped[SiteRow] = relationship(back_populates="engineer_links")
    engineer: Mapped[EngineerRow] = relationship(lazy="joined")


class SpecialPeriodRow(Base):
    __tablename__ = "special_periods"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)

    site: Mapped[SiteRow] = relationship(back_populates="special_periods")


class TicketCounterRow(Base):
    """Per-day ticket sequence. Only ever incremented, so numbers are never reused."""

    __tablename__ = "ticket_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_created", "created_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    # Unique: the database itself guarantees one ticket per call, across processes.
    call_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    site_code: Mapped[str | None] = mapped_column(String(32), index=True)
    level: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    source: Mapped[str] = mapped_column(String(16))
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    caller_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    response_due: Mapped[datetime] = mapped_column(UtcDateTime)
    onsite_due: Mapped[datetime | None] = mapped_column(UtcDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    description: Mapped[str] = mapped_column(Text, default="")
    paper_number: Mapped[str | None] = mapped_column(String(64), index=True)
    cause: Mapped[str] = mapped_column(String(200), default="")
    resolution: Mapped[str] = mapped_column(Text, default="")
    # Service record
    duty_agent: Mapped[str] = mapped_column(String(200), default="")
    support_engineer: Mapped[str] = mapped_column(String(200), default="")
    onsite_engineer: Mapped[str] = mapped_column(String(200), default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str] = mapped_column(String(64), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    # Customer problem record
    problem_type: Mapped[str | None] = mapped_column(String(16))
    urgency: Mapped[str | None] = mapped_column(String(16))
    department: Mapped[str] = mapped_column(String(200), default="")
    expected_resolution: Mapped[datetime | None] = mapped_column(UtcDateTime)
    measures: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(200), default="")
    # Repair (RMA) request
    rma_number: Mapped[str] = mapped_column(String(200), default="")
    rma_model: Mapped[str] = mapped_column(String(200), default="")
    rma_serial: Mapped[str] = mapped_column(String(200), default="")
    rma_quantity: Mapped[int | None] = mapped_column(Integer)
    rma_symptom: Mapped[str] = mapped_column(Text, default="")
    rma_analysis: Mapped[str] = mapped_column(Text, default="")
    spare_model: Mapped[str] = mapped_column(String(200), default="")
    spare_serial: Mapped[str] = mapped_column(String(200), default="")
    spare_sent_on: Mapped[date | None] = mapped_column(Date)
    spare_received_on: Mapped[date | None] = mapped_column(Date)
    # Satisfaction (latest score; every score is also in satisfaction_scores)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    satisfaction_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Engineer dispatch and spare parts (the field clocks); dispatches in ticket_dispatches.
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    onsite_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    part_needed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    part_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    part_received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    history: Mapped[list[TicketHistoryRow]] = relationship(
        order_by="TicketHistoryRow.id", viewonly=True
    )
    log: Mapped[list[TicketLogRow]] = relationship(order_by="TicketLogRow.id", viewonly=True)


class TicketHistoryRow(Base):
    """Append-only change history (triggers refuse UPDATE and DELETE)."""

    __tablename__ = "ticket_history"
    # The on-call pass looks for recent level changes every few seconds.
    __table_args__ = (Index("ix_ticket_history_field_at", "field", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    by: Mapped[str] = mapped_column(String(100))
    field: Mapped[str] = mapped_column(String(64))
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")


class TicketLogRow(Base):
    """Service-record (time, symptom, action, result) and problem-record progress lines."""

    __tablename__ = "ticket_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "service" | "progress"
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    by: Mapped[str] = mapped_column(String(100))
    symptom: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")


class CallRow(Base):
    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_started", "started_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    caller_name: Mapped[str] = mapped_column(String(200), default="")
    site_code: Mapped[str | None] = mapped_column(String(32), index=True)
    level: Mapped[int | None] = mapped_column(Integer)
    queue: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(100))
    agent_interface: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16), index=True)
    ticket_number: Mapped[str | None] = mapped_column(String(40), index=True)
    paper_number: Mapped[str | None] = mapped_column(String(64))
    hold_seconds: Mapped[int | None] = mapped_column(Integer)
    talk_seconds: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # File name of the call's recording in HOTLINE_RECORDINGS_DIR; NULL once purged.
    recording: Mapped[str | None] = mapped_column(String(128))


class PbxCdrRow(Base):
    """Asterisk's call detail records, written by the PBX itself (cdr_pgsql, see
    asterisk-conf/cdr_pgsql.conf): the column names are cdr_pgsql's, and every column
    has a server default so the module may leave out what it does not know. The hotline
    only reads them, to find calls no controller saw (routing.unseen)."""

    __tablename__ = "pbx_cdr"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    calldate: Mapped[datetime] = mapped_column(
        UtcDateTime, index=True, server_default=func.current_timestamp()
    )
    clid: Mapped[str] = mapped_column(String(80), server_default="")
    src: Mapped[str] = mapped_column(String(80), server_default="")
    dst: Mapped[str] = mapped_column(String(80), server_default="")
    dcontext: Mapped[str] = mapped_column(String(80), server_default="")
    channel: Mapped[str] = mapped_column(String(80), server_default="")
    dstchannel: Mapped[str] = mapped_column(String(80), server_default="")
    lastapp: Mapped[str] = mapped_column(String(80), server_default="")
    lastdata: Mapped[str] = mapped_column(String(80), server_default="")
    duration: Mapped[int] = mapped_column(Integer, server_default="0")
    billsec: Mapped[int] = mapped_column(Integer, server_default="0")
    disposition: Mapped[str] = mapped_column(String(45), server_default="")
    amaflags: Mapped[int] = mapped_column(Integer, server_default="0")
    accountcode: Mapped[str] = mapped_column(String(80), server_default="")
    uniqueid: Mapped[str] = mapped_column(String(150), server_default="")
    userfield: Mapped[str] = mapped_column(String(255), server_default="")
    peeraccount: Mapped[str] = mapped_column(String(80), server_default="")
    linkedid: Mapped[str] = mapped_column(String(150), index=True, server_default="")
    sequence: Mapped[int] = mapped_column(Integer, server_default="0")


class SatisfactionScoreRow(Base):
    __tablename__ = "satisfaction_scores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    ticket_number: Mapped[str | None] = mapped_column(String(40), index=True)
    score: Mapped[int | None] = mapped_column(Integer)  # None = not applicable / no answer
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class ConsoleUserRow(Base):
    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    interface: Mapped[str | None] = mapped_column(String(100), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The language the person chose for their pages (zh-CN, en); NULL: not chosen.
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)


class AccessAuditRow(Base):
    """Who did what to access (log-ins, log-outs, user changes) or to the desk (emergency
    flips, backfill entries, SLA pauses), when and from which client address."""

    __tablename__ = "access_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    client: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class ConsoleRevocationRow(Base):
    """A console session logged out before its token expired (`console.sessions`): every
    console process refuses the token; the row goes once the token has expired anyway."""

    __tablename__ = "console_revocations"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class HealthProbeRow(Base):
    """Written by `Database.probe()`: proves the database accepts writes."""

    __tablename__ = "health_probes"

    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


# --- supervision: escalation steps, notices and acknowledgements, ticket pauses -----------
# Created by Alembic revision 0002 (`storage/migrations/versions/0002_owner_tables.py`).


class EscalationStepRow(Base):
    """A planned action the scheduler took: written before any of its notices go out."""

    __tablename__ = "supervision_steps"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    ticket_number: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(Integer)
    step_index: Mapped[int | None] = mapped_column(Integer)
    targets: Mapped[str] = mapped_column(Text)  # comma-separated roles
    reason: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    taken_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class NoticeRow(Base):
    """One message to one recipient, with its delivery state and acknowledgement."""

    __tablename__ = "supervision_notices"
    __table_args__ = (Index("ix_supervision_notices_state", "state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_key: Mapped[str] = mapped_column(ForeignKey("supervision_steps.key"), index=True)
    ticket_number: Mapped[str] = mapped_column(String(40), index=True)
    recipient: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16))  # dingtalk / wecom / email / webhook
    channel_kind: Mapped[str] = mapped_column(String(16))  # im / email / webhook
    title: Mapped[str] = mapped_column(String(400))
    body: Mapped[str] = mapped_column(Text)
    ack_code: Mapped[str] = mapped_column(String(32), unique=True)
    state: Mapped[str] = mapped_column(String(16))  # pending / delivered / failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    acked_by: Mapped[str] = mapped_column(String(100), default="")


class TicketPauseRow(Base):
    """The ticket waited for the customer: its SLA clocks stood still."""

    __tablename__ = "supervision_pauses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_number: Mapped[str] = mapped_column(String(40), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    by: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(Text, default="")


class DispatchRow(Base):
    """One engineer sent to a ticket's site, with the steps they checked in from the phone.

    A re-dispatch supersedes the ticket's earlier dispatch (its check-in link stops
    working); every dispatch stays, so the history shows who was sent when.
    """

    __tablename__ = "ticket_dispatches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    engineer: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(64), default="")
    channel: Mapped[str] = mapped_column(String(16), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    # The console address the check-in link was built on (a re-sent notice uses it again).
    link_base: Mapped[str] = mapped_column(String(500), default="")
    dispatched_by: Mapped[str] = mapped_column(String(100))
    dispatched_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    superseded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    on_the_way_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    fixed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    part_needed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    notice_state: Mapped[str] = mapped_column(String(16), default="pending")
    notice_error: Mapped[str] = mapped_column(Text, default="")


class OnCallShiftRow(Base):
    """One duty period of the on-call rota (`hotline oncall import`)."""

    __tablename__ = "oncall_shifts"
    __table_args__ = (Index("ix_oncall_shifts_period", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    engineer: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))  # dingtalk / wecom / sms / email / webhook
    address: Mapped[str] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(100), default="")


class OnCallPageRow(Base):
    """One page of a level-1 ticket to one engineer; `seq` 1 is the first, each further
    one an escalation. Requested first (engineer unknown), then claimed and sent by the
    leader: the unique (ticket, seq) means no ticket is paged twice at one step."""

    __tablename__ = "oncall_pages"
    __table_args__ = (
        UniqueConstraint("ticket_number", "seq"),
        Index("ix_oncall_pages_state", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_number: Mapped[str] = mapped_column(String(40), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))  # keypress / level_1 / escalation
    site_code: Mapped[str | None] = mapped_column(String(32))
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16))  # requested/sending/delivered/failed/no_one
    shift_id: Mapped[int | None] = mapped_column(Integer)
    engineer: Mapped[str] = mapped_column(String(100), default="")
    channel: Mapped[str] = mapped_column(String(16), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ack_code: Mapped[str] = mapped_column(String(32), unique=True)
    acked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acked_by: Mapped[str] = mapped_column(String(100), default="")


SUPERVISION_TABLES: tuple[Table, ...] = tuple(
    Base.metadata.tables[name]
    for name in ("supervision_steps", "supervision_notices", "supervision_pauses")
)


# --- append-only ticket history, enforced by the database ---------------------------------

SQLITE_HISTORY_TRIGGERS = (
    "CREATE TRIGGER ticket_history_no_update BEFORE UPDATE ON ticket_history "
    "BEGIN SELECT RAISE(ABORT, 'ticket_history is append-only'); END",
    "CREATE TRIGGER ticket_history_no_delete BEFORE DELETE ON ticket_history "
    "BEGIN SELECT RAISE(ABORT, 'ticket_history is append-only'); END",
)
POSTGRES_HISTORY_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION ticket_history_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'ticket_history is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER ticket_history_no_change BEFORE UPDATE OR DELETE ON ticket_history "
    "FOR EACH ROW EXECUTE FUNCTION ticket_history_append_only()",
)


def _attach_history_triggers() -> None:
    table: Any = TicketHistoryRow.__table__
    for sql in SQLITE_HISTORY_TRIGGERS:
        event.listen(table, "after_create", DDL(sql).execute_if(dialect="sqlite"))  # type: ignore[no-untyped-call]
    for sql in POSTGRES_HISTORY_TRIGGERS:
        event.listen(table, "after_create", DDL(sql).execute_if(dialect="postgresql"))  # type: ignore[no-untyped-call]


_attach_history_triggers()

# Every table: the Alembic migrations create them all, and schema comparisons and
# autogenerate look at these.
STORAGE_TABLES: frozenset[str] = frozenset(Base.metadata.tables)
