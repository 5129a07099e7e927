"""The stand-in's call detail records: what Asterisk's cdr_pgsql writes into `pbx_cdr`.

On a real PBX the CDR engine writes the rows by itself (asterisk-conf/cdr_pgsql.conf),
whether or not a controller is connected to AMI; the stand-in does the same when it is
given the database, so a test can show that a call nobody saw still gets its record.

Rows per call, as Asterisk 12+ splits them for the caller channel (party A):
* answered by an agent: one row for the time up to the end of the bridge, with the agent
  channel as `dstchannel` and `Queue`/`Dial` as `lastapp`; if the caller then went on in
  the dialplan (survey), a second row for that part;
* otherwise one row, `lastapp` the last application the caller ran (the IVR's `AGI`,
  `Queue` when it gave up waiting, ...).
`disposition` is ANSWERED: the dialplan answers every inbound call for the IVR.
Times are the PBX's own (simulated) clock; `calldate` is UTC, as `timezone=UTC` makes
cdr_pgsql write it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from pbx.simulation import SimCall
from storage.database import async_url

log = logging.getLogger(__name__)

# The columns cdr_pgsql fills (it inserts only the columns the table has).
PBX_CDR = Table(
    "pbx_cdr",
    MetaData(),
    Column("calldate", DateTime(timezone=True)),
    Column("clid", String(80)),
    Column("src", String(80)),
    Column("dst", String(80)),
    Column("dcontext", String(80)),
    Column("channel", String(80)),
    Column("dstchannel", String(80)),
    Column("lastapp", String(80)),
    Column("lastdata", String(80)),
    Column("duration", Integer),
    Column("billsec", Integer),
    Column("disposition", String(45)),
    Column("amaflags", Integer),
    Column("accountcode", String(80)),
    Column("uniqueid", String(150)),
    Column("userfield", String(255)),
    Column("peeraccount", String(80)),
    Column("linkedid", String(150)),
    Column("sequence", Integer),
)
AMAFLAGS_DOCUMENTATION = 3


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def cdr_rows(call: SimCall, ended_at: float) -> list[dict[str, Any]]:
    """The caller channel's CDR rows for one finished call."""
    ch = call.channel
    clid = f'"{ch.caller_name}" <{ch.caller_num}>' if ch.caller_name else ch.caller_num
    base: dict[str, Any] = {
        "clid": clid[:80],
        "src": ch.caller_num[:80],
        "dst": (ch.dnid or ch.exten)[:80],
        "channel": ch.name,
        "disposition": "ANSWERED",
        "amaflags": AMAFLAGS_DOCUMENTATION,
        "accountcode": "",
        "uniqueid": ch.uniqueid,
        "userfield": "",
        "peeraccount": "",
        "linkedid": ch.linkedid,
    }
    start = ch.created_at

    def row(began: float, sequence: int, **fields: Any) -> dict[str, Any]:
        after_bridge: dict[str, Any] = {
            "dcontext": ch.context,
            "dstchannel": "",
            "lastapp": ch.application,
            "lastdata": ch.app_data[:80],
            "duration": int(ended_at - began),
            "billsec": int(ended_at - began),
        }
        return base | after_bridge | {"calldate": _when(began), "sequence": sequence} | fields

    answered_app = call.answer_app
    if call.answered_at is None or answered_app is None or call.agent_leg is None:
        return [row(start, 0)]
    bridge_end = call.bridge_ended_at or ended_at
    rows = [
        row(
            start,
            0,
            dcontext="hotline-in",
            dstchannel=call.agent_leg.name,
            lastapp=answered_app[0],
            lastdata=answered_app[1][:80],
            duration=int(bridge_end - start),
            billsec=int(bridge_end - call.answered_at),
        )
    ]
    if call.bridge_ended_at is not None and ended_at > bridge_end:
        rows.append(row(bridge_end, 1))  # the caller went on (survey) after the agent
    return rows


class CdrWriter:
    """Writes each finished call's rows, in the background, like the PBX's CDR engine
    (which never waits for the database: a failed insert is logged and lost there too)."""

    def __init__(self, db_url: str) -> None:
        url = async_url(db_url)
        # SQLite: wait for the controller's writers instead of failing on a locked file.
        args = {"timeout": 30} if url.startswith("sqlite") else {}
        self.engine: AsyncEngine = create_async_engine(url, connect_args=args)
        self._pending: set[asyncio.Task[None]] = set()
        self.written = 0
        self.failed = 0

    def record(self, call: SimCall) -> None:
        ended = call.finished.result().ended_at if call.finished.done() else None
        if ended is None:
            return
        task = asyncio.ensure_future(self._insert(cdr_rows(call, ended)))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(PBX_CDR), rows)
            self.written += len(rows)
        except Exception as exc:
            self.failed += len(rows)
            log.error("CDR not written (%d rows): %s", len(rows), exc)

    async def flush(self) -> None:
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.flush()
        await self.engine.dispose()
