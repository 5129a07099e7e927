"""Reading Asterisk's call detail records (`pbx_cdr`, written by cdr_pgsql)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import exists, func, select

from routing.domain.unseen_calls import HOTLINE_CONTEXTS, CdrEntry
from storage.database import Database
from storage.errors import store_errors
from storage.models import CallRow, PbxCdrRow


class CdrRepository:
    """Implements `routing.ports.CdrSource`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def unrecorded(self, since: datetime, *, limit: int = 500) -> list[CdrEntry]:
        """The CDR rows, oldest first, of up to `limit` hotline calls from `since` on
        whose linkedid has no call record.

        A call counts when its caller channel (uniqueid = linkedid) ran in a hotline
        context: the PBX's other calls (agents calling each other, drills, callbacks)
        never get a call record and must not crowd the hotline's out of the limit. The
        anti-join runs in the database: a day of CDRs is thousands of rows, nearly all
        of them recorded."""
        recorded = exists().where(CallRow.call_id == PbxCdrRow.linkedid)
        calls = (
            select(PbxCdrRow.linkedid)
            .where(
                PbxCdrRow.calldate >= since,
                PbxCdrRow.uniqueid == PbxCdrRow.linkedid,
                PbxCdrRow.linkedid != "",
                PbxCdrRow.dcontext.in_(sorted(HOTLINE_CONTEXTS)),
                ~recorded,
            )
            .group_by(PbxCdrRow.linkedid)
            .order_by(func.min(PbxCdrRow.calldate))
            .limit(limit)
        )
        stmt = (
            select(PbxCdrRow)
            .where(PbxCdrRow.linkedid.in_(calls.scalar_subquery()))
            .order_by(PbxCdrRow.calldate, PbxCdrRow.id)
        )
        with store_errors():
            async with self.db.reads() as session:
                rows = (await session.scalars(stmt)).all()
        return [_entry(r) for r in rows]

    async def rows_of(self, linkedids: Collection[str]) -> list[CdrEntry]:
        """Every CDR row of these calls (by linkedid), oldest first."""
        if not linkedids:
            return []
        stmt = (
            select(PbxCdrRow)
            .where(PbxCdrRow.linkedid.in_(sorted(linkedids)))
            .order_by(PbxCdrRow.calldate, PbxCdrRow.id)
        )
        with store_errors():
            async with self.db.reads() as session:
                rows = (await session.scalars(stmt)).all()
        return [_entry(r) for r in rows]


def _entry(r: PbxCdrRow) -> CdrEntry:
    return CdrEntry(
        linkedid=r.linkedid,
        uniqueid=r.uniqueid,
        calldate=r.calldate,
        clid=r.clid,
        src=r.src,
        dcontext=r.dcontext,
        channel=r.channel,
        dstchannel=r.dstchannel,
        lastapp=r.lastapp,
        lastdata=r.lastdata,
        duration=r.duration,
        billsec=r.billsec,
        disposition=r.disposition,
    )
