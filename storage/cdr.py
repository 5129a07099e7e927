"""Reading Asterisk's call detail records (`pbx_cdr`, written by cdr_pgsql)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select

from routing.domain.unseen_calls import CdrEntry
from storage.database import Database
from storage.errors import store_errors
from storage.models import CallRow, PbxCdrRow


class CdrRepository:
    """Implements `routing.ports.CdrSource`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def unrecorded(self, since: datetime, *, limit: int = 5000) -> list[CdrEntry]:
        """CDR rows from `since` on whose linkedid has no call record, oldest first.

        The anti-join runs in the database: a day of CDRs is thousands of rows, nearly
        all of them recorded."""
        recorded = exists().where(CallRow.call_id == PbxCdrRow.linkedid)
        stmt = (
            select(PbxCdrRow)
            .where(PbxCdrRow.calldate >= since, PbxCdrRow.linkedid != "", ~recorded)
            .order_by(PbxCdrRow.calldate, PbxCdrRow.id)
            .limit(limit)
        )
        with store_errors():
            async with self.db.reads() as session:
                rows = (await session.scalars(stmt)).all()
        return [
            CdrEntry(
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
            for r in rows
        ]
