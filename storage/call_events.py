"""`CallEventStore` on SQLAlchemy: each call event's writes in one transaction.

The ticket change and the call record of one event go into one transaction, and the
transactions of events that arrive together are one (`storage.group_commit`). Each event
costs as few round trips as its decision needs: a ticket is read without its history,
in one Core statement (only its state decides what an event changes), and found by the
number the queue join gave the call when the caller knows it; a new ticket is inserted
and its record built from what was written, never read back; the call record, the
history rows and the changes of answers and callbacks go to the end of the batch (a later
job of the batch that reads the ticket gets it as changed), and the ticket's first
on-call page into the same transaction. A call whose end leaves its ticket as it is
reads nothing at all.

Whether a queued call opens a ticket or joins its site's open one is decided in the same
transaction that writes the outcome (`open_or_join`): a retried event decides again from
what was committed, and jobs of one batch run in order in one session, so the second call
of a site sees the ticket the first one opened a few statements earlier. Before the
first job, one read and one insert open the tickets of every queue join of the batch that
needs a ticket of its own and whose decision no earlier job can change (most calls): a
batch of a flash crowd's joins costs those two statements, not two per call. Likewise
the tickets the batch's answers and callbacks name by number are read and locked in one
statement before the first job.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from calls import CallSnapshot
from routing.domain.answering import answered_changes
from routing.domain.repeat_calls import RepeatRule
from routing.domain.ticket_form import validate_changes
from routing.errors import InvalidInput
from routing.ports import PageRule
from routing.records import OPEN_STATUSES, NewTicket, Ticket, TicketOpening
from storage.calls import CallRepository
from storage.group_commit import BatchStep, GroupCommit, deferred
from storage.models import CallRow, TicketRow
from storage.oncall import page_request, page_values
from storage.repeat_calls import (
    REPEAT_FIELD,
    candidate,
    note_in,
    open_at_site,
    repeat_callback_in,
    repeat_note,
    site_lock,
)
from storage.ticket_rows import TICKETS, check_call_id, to_ticket
from storage.tickets import TicketRepository, detached_row

# What a row of `_decision_rows` is: the call's own ticket, the one its record names, or
# one of its site's open tickets.
_OWN, _NAMED, _AT_SITE = 0, 1, 2


def _decision(with_site: bool) -> Executable:
    """The rows a queue join decides on (`CallEventWriter._decision_rows`), by kind; a
    constant statement, compiled once (parameters `call_id`, `site`, `since`)."""
    call_id: Any = bindparam("call_id")
    own = TICKETS.c.call_id == call_id
    named = select(CallRow.ticket_number).where(CallRow.call_id == call_id).scalar_subquery()
    kind = case((own, _OWN), else_=_NAMED)
    mine = select(TICKETS, kind.label("kind")).where(or_(own, TICKETS.c.number == named))
    if not with_site:
        return mine
    columns = select(TICKETS, literal(_AT_SITE))
    at_site = open_at_site(columns, bindparam("site"), bindparam("since"))
    return union_all(mine, select(at_site.subquery()))


_DECISION, _DECISION_AT_SITE = _decision(False), _decision(True)


def _known() -> Executable:
    """What decides which of a batch's queue joins need no more than a ticket of their
    own: `(_TICKETED, call id, None)` for each of the calls (parameter `calls`) that has a
    ticket (its own, or one its record names), and `(_SITE_OPEN, site, newest)` for each
    of the sites (`sites`) with open tickets, the newest one's opening time. A constant
    statement, compiled once."""
    calls: Any = bindparam("calls", expanding=True)
    opened = TICKETS.c.created_at
    own = select(literal(_TICKETED), TICKETS.c.call_id, opened).where(TICKETS.c.call_id.in_(calls))
    named = (
        select(literal(_TICKETED), CallRow.call_id, opened)
        .join_from(CallRow, TICKETS, TICKETS.c.number == CallRow.ticket_number)
        .where(CallRow.call_id.in_(bindparam("calls", expanding=True)))
    )
    newest = (
        select(literal(_SITE_OPEN), TICKETS.c.site_code, func.max(opened))
        .where(
            TICKETS.c.site_code.in_(bindparam("sites", expanding=True)),
            TICKETS.c.status.in_(sorted(s.value for s in OPEN_STATUSES)),
        )
        .group_by(TICKETS.c.site_code)
    )
    return union_all(own, named, newest)


_TICKETED, _SITE_OPEN = 0, 1
_KNOWN = _known()


@dataclass(frozen=True)
class _QueueJoin:
    """A queue join's part of its batch's `CallEventWriter._open_new` step."""

    call: CallSnapshot
    draft: NewTicket
    values: dict[str, Any]
    rule: RepeatRule | None

    def opened(self, session: AsyncSession) -> TicketOpening | None:
        """The ticket the step opened for this join in `session`'s transaction, if any."""
        batch = deferred(session)
        found = batch.state.get(("queue join", id(self))) if batch is not None else None
        return found if isinstance(found, TicketOpening) else None

    def open(self, session: AsyncSession, opening: TicketOpening) -> None:
        batch = deferred(session)
        if batch is not None:
            batch.state[("queue join", id(self))] = opening


def _state_only(row: TicketRow) -> Ticket:
    return to_ticket(row, history=[], log_rows=[])


def _named_by_record(call_id: str) -> ColumnElement[bool]:
    """The ticket the call's record names (one it joined), in the same statement."""
    linked = select(CallRow.ticket_number).where(CallRow.call_id == call_id)
    return TicketRow.number == linked.scalar_subquery()


def _may_join(join: _QueueJoin, newest: dict[str, datetime]) -> bool:
    """The join's repeat rule might pick one of its site's open tickets."""
    site = join.draft.site_code
    if join.rule is None or site is None or site not in newest:
        return False
    return newest[site] >= join.rule.since


class CallEventWriter:
    """Implements `routing.ports.CallEventStore`."""

    def __init__(
        self, commits: GroupCommit, tickets: TicketRepository, calls: CallRepository
    ) -> None:
        self.commits = commits
        self.tickets = tickets
        self.calls = calls

    async def record_call(
        self, call: CallSnapshot, *, agent: str | None = None, ticket_number: str | None = None
    ) -> None:
        self.calls.values(call)  # a bad snapshot fails here, alone, not in the batch

        async def job(session: AsyncSession) -> None:
            await self.calls.write(session, call, agent=agent, ticket_number=ticket_number)

        await self.commits.run(job, key=call.call_id)

    async def open_or_join(
        self,
        call: CallSnapshot,
        draft: NewTicket,
        rule: RepeatRule | None,
        page: PageRule | None = None,
    ) -> TicketOpening:
        if draft.call_id is None:
            raise InvalidInput("call_id", "a call ticket needs the call id")
        check_call_id(draft.call_id)
        values = self.tickets.draft_values(draft)
        self.calls.values(call)

        site = draft.site_code if rule is not None else None
        join = _QueueJoin(call, draft, values, rule)

        async def job(session: AsyncSession) -> TicketOpening:
            opening = join.opened(session)
            if opening is None:
                opening = await self._decide(session, call, draft, values, site, rule)
            await self.calls.write(session, call, ticket_number=opening.ticket.number)
            reason = page(opening.ticket) if page is not None else None
            if reason is not None and await self._page(session, call, opening, reason):
                opening = replace(opening, paged=reason)
            return opening

        locks = (site_lock(site),) if site is not None else ()
        return await self.commits.run(
            job, key=call.call_id, locks=locks, prepare=(self._open_new, join)
        )

    async def _open_new(self, session: AsyncSession, joins: list[tuple[_QueueJoin, bool]]) -> None:
        """Before a batch's first job: the tickets of the queue joins that need one of
        their own, in one read and one insert for all. A join qualifies when it is the
        first job of its call in the batch and no earlier join of the batch is of its
        site, so no earlier job can change what it decides on; then it needs a ticket of
        its own when its call has none and (with a repeat rule) its site no open ticket
        opened since the rule's window began. The others decide in order, in their job."""
        sites: set[str | None] = set()
        ahead: list[_QueueJoin] = []
        for join, first in joins:
            site = join.draft.site_code
            if first and (site is None or site not in sites):
                ahead.append(join)
            sites.add(site)
        if not ahead:
            return
        params = {
            "calls": [j.call.call_id for j in ahead],
            "sites": sorted({j.draft.site_code for j in ahead if j.draft.site_code}),
        }
        ticketed: set[str] = set()
        newest: dict[str, datetime] = {}
        for kind, key, opened in (await session.execute(_KNOWN, params)).all():
            if kind == _TICKETED:
                ticketed.add(key)
            else:
                newest[key] = opened
        fresh = [j for j in ahead if j.call.call_id not in ticketed and not _may_join(j, newest)]
        opened = await self.tickets.insert_many(session, [(dict(j.values), j.draft) for j in fresh])
        for join, ticket in zip(fresh, opened, strict=True):
            join.open(session, TicketOpening(ticket, created=True))  # for this attempt only

    async def _decide(
        self,
        session: AsyncSession,
        call: CallSnapshot,
        draft: NewTicket,
        values: dict[str, Any],
        site: str | None,
        rule: RepeatRule | None,
    ) -> TicketOpening:
        """The call's ticket when it has one already (a retried event), else the site's
        open ticket the rule picks, else a new one."""
        mine, at_site = await self._decision_rows(session, call.call_id, site, rule)
        if mine is not None:
            return TicketOpening(_state_only(mine), created=False)
        if rule is not None and at_site:
            target = rule.choose(candidate(row) for row in at_site.values())
            if target is not None:
                return await self._join(session, call, at_site[target.number], rule.at)
        ticket = await self.tickets.insert_new(session, dict(values), draft)
        return TicketOpening(ticket, created=True)

    async def _page(
        self, session: AsyncSession, call: CallSnapshot, opening: TicketOpening, reason: str
    ) -> bool:
        """The ticket's first on-call page, requested in this transaction (for a ticket
        the job created, at the end of the batch: it cannot have one); False: it was
        requested already (a repeat call, a replayed event)."""
        ticket = opening.ticket
        values = page_values(
            ticket_number=ticket.number,
            seq=1,
            reason=reason,
            site_code=ticket.site_code,
            caller_number=call.caller_number,
            at=ticket.created_at,
        )
        stmt = page_request(self.tickets.db.dialect)
        batch = deferred(session)
        if opening.created and batch is not None:
            batch.add(stmt, values)
            return True
        result = await session.execute(stmt, values)
        return bool(getattr(result, "rowcount", 0))

    @staticmethod
    async def _decision_rows(
        session: AsyncSession, call_id: str, site: str | None, rule: RepeatRule | None
    ) -> tuple[TicketRow | None, dict[str, TicketRow]]:
        """In one statement: the ticket the call has already (its own, or the one its
        record names: the ticket it joined, or an incident's), and, with `site`, the
        site's open tickets the rule may pick from, by number."""
        if site is not None and rule is not None:
            params = {"call_id": call_id, "site": site, "since": rule.since.astimezone(UTC)}
            rows = (await session.execute(_DECISION_AT_SITE, params)).all()
        else:
            rows = (await session.execute(_DECISION, {"call_id": call_id})).all()
        first = min((r for r in rows if r.kind != _AT_SITE), key=lambda r: r.kind, default=None)
        at_site_rows = {r.number: detached_row(r._mapping) for r in rows if r.kind == _AT_SITE}
        return (detached_row(first._mapping) if first is not None else None), at_site_rows

    async def _join(
        self, session: AsyncSession, call: CallSnapshot, row: TicketRow, at: datetime
    ) -> TicketOpening:
        """Attach the call to its site's open ticket `row` (its "repeat call" history
        entry, which locks the ticket's row to the commit)."""
        await note_in(
            session,
            row.id,
            field=REPEAT_FIELD,
            call_id=call.call_id,
            note=repeat_note(call.call_id, call.caller_number),
            by="system",
            at=at,
            once=False,  # the call had no ticket: this is its first decision
        )
        row.updated_at = at
        return TicketOpening(_state_only(row), created=False, joined=True)

    async def _locked_ticket(
        self, session: AsyncSession, call_id: str, incident: str | None, known: str | None
    ) -> TicketRow | None:
        """The ticket the call belongs to, locked, in one statement: the one `known` to
        the caller; else its own, or the incident's it joined, or the one its record
        names (the ticket it joined as a repeat call)."""
        if known is not None:
            return await self.tickets.state_of(session, known)
        own = TicketRow.call_id == call_id
        other = TicketRow.number == incident if incident else _named_by_record(call_id)
        return await self.tickets.state(session, or_(own, other), first=own)

    async def answer(
        self,
        call: CallSnapshot,
        *,
        incident: str | None,
        agent: str | None,
        at: datetime,
        note: str,
        known: str | None = None,
    ) -> str | None:
        self.calls.values(call)

        async def job(session: AsyncSession) -> str | None:
            row = await self._locked_ticket(session, call.call_id, incident, known)
            if row is None:
                return None
            changes = answered_changes(
                status=row.status,
                duty_agent=row.duty_agent,
                responded_at=row.responded_at,
                agent=agent,
                at=at,
            )
            values = validate_changes(changes)
            self.tickets.add_milestones(row, values, at)
            tickets = self.tickets
            changed = tickets.apply_changes(session, row, values, by="system", at=at, note=note)
            if changed:
                row.updated_at = at
            await self.tickets.save_state(session, row, changed)
            await self.calls.write(session, call, agent=agent, ticket_number=row.number)
            return row.number

        return await self.commits.run(job, key=call.call_id, prepare=self._ahead(known))

    async def end(
        self,
        call: CallSnapshot,
        *,
        incident: str | None,
        agent: str | None,
        callback: bool,
        at: datetime,
        known: str | None = None,
    ) -> str | None:
        self.calls.values(call)

        async def job(session: AsyncSession) -> str | None:
            if known is not None and not callback:
                # The ticket stays as it is: the record only needs its number.
                await self.calls.write(session, call, agent=agent, ticket_number=known)
                return known
            row = await self._locked_ticket(session, call.call_id, incident, known)
            number = row.number if row is not None else None
            if row is not None and callback:
                await self._call_back(session, row, call, at)
            await self.calls.write(session, call, agent=agent, ticket_number=number)
            return number

        ahead = self._ahead(known) if callback else None
        return await self.commits.run(job, key=call.call_id, prepare=ahead)

    async def callback_due(
        self, call: CallSnapshot, at: datetime, *, incident: str | None, known: str | None = None
    ) -> None:
        async def job(session: AsyncSession) -> None:
            row = await self._locked_ticket(session, call.call_id, incident, known)
            if row is not None:
                await self._call_back(session, row, call, at)

        await self.commits.run(job, key=call.call_id, prepare=self._ahead(known))

    def _ahead(self, known: str | None) -> tuple[BatchStep, Any] | None:
        """A job that will read and lock ticket `known`: its batch reads the tickets of
        all such jobs in one statement before the first job."""
        return (self._lock_known, known) if known is not None else None

    async def _lock_known(self, session: AsyncSession, items: list[tuple[str, bool]]) -> None:
        await self.tickets.lock_numbers(session, [number for number, _ in items])

    async def _call_back(
        self, session: AsyncSession, row: TicketRow, call: CallSnapshot, at: datetime
    ) -> None:
        """The call's own ticket, or the ticket it joined as a repeat call, is due for a
        callback; an incident's ticket is not (the incident is being worked on)."""
        if row.call_id == call.call_id:
            changed = self.tickets.set_callback_due(session, row, at)
            await self.tickets.save_state(session, row, changed)
        else:
            await repeat_callback_in(
                session,
                self.tickets,
                row,
                call_id=call.call_id,
                caller_number=call.caller_number,
                at=at,
            )
