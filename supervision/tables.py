"""The supervision package's own tables, on the storage engineer's declarative `Base`.

They share `storage.models.Base.metadata`. Alembic revision 0002 (storage/migrations)
creates them for `hotline db upgrade`; keep it in step with these models
(tests/integration/storage/test_migrations.py compares them).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, UtcDateTime


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


SUPERVISION_TABLES: tuple[Table, ...] = tuple(
    Base.metadata.tables[name]
    for name in ("supervision_steps", "supervision_notices", "supervision_pauses")
)
