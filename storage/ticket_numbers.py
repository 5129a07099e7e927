"""Ticket numbers from the per-day counter row (`ticket_counters`).

In a group commit the day's counter is taken once per batch: a block as big as the jobs
left in the batch, and the unused part given back before the commit. The counter row
stays locked by the transaction until then, so numbers have no gaps, none is handed out
twice across processes, and a rolled-back batch takes none.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from routing.domain.numbering import counter_key, ticket_number
from storage.group_commit import DeferredWrites, deferred
from storage.models import TicketCounterRow


async def next_ticket_number(session: AsyncSession, dialect: str, day: date, node: str) -> str:
    """The next ticket number of `day`, taken in `session`'s transaction."""
    key = counter_key(day)
    batch = deferred(session)
    if batch is None:
        return ticket_number(day, await _reserve(session, dialect, key, 1), node)
    block = batch.state.get(("ticket-numbers", key))
    if not isinstance(block, _Block) or block.empty:
        block = await _take_block(session, dialect, key, batch)
    return ticket_number(day, block.take(), node)


class _Block:
    """Numbers `first`..`last` of one day, reserved by this transaction."""

    def __init__(self, first: int, last: int) -> None:
        self.next = first
        self.last = last

    @property
    def empty(self) -> bool:
        return self.next > self.last

    def take(self) -> int:
        number = self.next
        self.next += 1
        return number


async def _take_block(
    session: AsyncSession, dialect: str, key: str, batch: DeferredWrites
) -> _Block:
    size = max(1, batch.jobs_left)
    last = await _reserve(session, dialect, key, size)
    block = batch.state[("ticket-numbers", key)] = _Block(last - size + 1, last)

    async def give_back(session: AsyncSession) -> None:
        unused = block.last - block.next + 1
        if unused > 0:
            await session.execute(
                update(TicketCounterRow)
                .where(TicketCounterRow.day == key)
                .values(last=TicketCounterRow.last - unused)
            )
            block.last = block.next - 1

    batch.before_commit(("ticket-numbers", key), give_back)
    return block


async def _reserve(session: AsyncSession, dialect: str, key: str, size: int) -> int:
    """Take `size` numbers of the day `key` (the row locked to the commit); the last."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(TicketCounterRow)
        .values(day=key, last=size)
        .on_conflict_do_update(
            index_elements=[TicketCounterRow.day],
            set_={"last": TicketCounterRow.last + size},
        )
        .returning(TicketCounterRow.last)
    )
    last: int = (await session.execute(stmt)).scalar_one()
    return last
