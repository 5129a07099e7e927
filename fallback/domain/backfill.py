"""Backfill and reconciliation over the emergency journal (pure).

The journal is a sequence of JSON records (dicts). The kinds that matter here:

* `call`: `{"kind": "call", "call_id", "at", "fields": {...}}` — the first record of a call
  carries its paper number; later ones add what happened (agent, answer, end).
* `backfill`: `{"kind": "backfill", "paper_number", "call_id", "ticket_number", "by", "at",
  "linked", "content"}` — `content` true: the paper's content was typed in (into a new
  ticket, or into the ticket the call already had, `linked`); false: only the link to a
  ticket the call got automatically (made by the reconciliation pass, by `system`).
  Records without `content` count as typed in unless made by `system`.
* `paper`: `{"kind": "paper", "paper_number", "caller_number", "by", "at"}` — a paper number
  entered that no journaled call carries.
* `waive`: `{"kind": "waive", "paper_number", "reason", "by", "at"}`.
* `backfill_closed`: `{"kind": "backfill_closed", "paper_numbers": [...], "by", "at"}`.
* `callback`: `{"kind": "callback", "caller_number", "by", "at", "action_id"}`.

`fold` turns them into a `BackfillLedger`; `open_items`, `reconcile` and
`callback_targets` answer the supervisor's questions, `refusal` whether a paper may still
be typed in or waived.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from fallback.records import BackfillItem, CallbackTarget, Reconciliation

CALL_FIELDS = (
    "paper_number",
    "caller_number",
    "caller_name",
    "channel",
    "started_at",
    "queued_at",
    "queue",
    "site_code",
    "level",
    "ivr",
    "agent",
    "agent_interface",
    "answered_at",
    "ended_at",
    "outcome",
    "hold_seconds",
    "talk_seconds",
    "moved_from",
)
_TIME_FIELDS = ("started_at", "queued_at", "answered_at", "ended_at")
# Who makes the journal records nobody typed (links to automatic tickets, hand-overs).
SYSTEM = "system"


def _dt(raw: object) -> datetime | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime):
        return raw
    return datetime.fromisoformat(str(raw))


def _opt_str(raw: object) -> str | None:
    return None if raw is None or raw == "" else str(raw)


def _opt_int(raw: object) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(str(raw))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class EmergencyCall:
    """What the journal knows of one call taken in emergency mode."""

    call_id: str
    paper_number: str
    caller_number: str = ""
    caller_name: str = ""
    channel: str | None = None
    started_at: datetime | None = None
    queued_at: datetime | None = None
    queue: str | None = None
    site_code: str | None = None
    level: int | None = None
    ivr: Mapping[str, str] = field(default_factory=dict)
    agent: str | None = None
    agent_interface: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str | None = None
    hold_seconds: int | None = None
    talk_seconds: int | None = None
    moved_from: str | None = None

    @property
    def duration_seconds(self) -> float | None:
        start = self.started_at or self.queued_at
        if start is None or self.ended_at is None:
            return None
        return (self.ended_at - start).total_seconds()

    def updated(self, fields: Mapping[str, Any]) -> EmergencyCall:
        """Apply one journal update; unknown keys are ignored, the paper number never changes."""
        changes: dict[str, Any] = {}
        for key, value in fields.items():
            if key not in CALL_FIELDS or key == "paper_number":
                continue
            if key in _TIME_FIELDS:
                changes[key] = _dt(value)
            elif key in ("level", "hold_seconds", "talk_seconds"):
                changes[key] = _opt_int(value)
            elif key == "ivr":
                merged = dict(self.ivr)
                if isinstance(value, Mapping):
                    merged.update({str(k): str(v) for k, v in value.items()})
                changes[key] = merged
            elif key in ("caller_number", "caller_name"):
                changes[key] = "" if value is None else str(value)
            else:
                changes[key] = _opt_str(value)
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class LoosePaper:
    """A paper number typed in that no journaled call carries."""

    paper_number: str
    caller_number: str | None
    at: datetime | None


@dataclass(frozen=True, slots=True)
class PaperEntry:
    """A paper's content typed in: into which ticket, by whom, when."""

    ticket_number: str
    by: str
    at: datetime | None


@dataclass(frozen=True, slots=True)
class BackfillLedger:
    calls: Mapping[str, EmergencyCall]  # by call id, in journal order
    tickets: Mapping[str, str]  # paper number -> ticket number (entered or linked)
    entries: Mapping[str, PaperEntry]  # paper number -> its content typed in
    waivers: Mapping[str, tuple[str, str]]  # paper number -> (reason, by)
    loose_papers: Mapping[str, LoosePaper]
    closed: frozenset[str]  # paper numbers of closed backfills
    last_closed: tuple[str, ...]
    callbacks: Mapping[str, tuple[datetime | None, str | None]]  # caller -> (when, by)

    def call_by_paper(self, paper_number: str) -> EmergencyCall | None:
        for call in self.calls.values():
            if call.paper_number == paper_number:
                return call
        return None


def refusal(ledger: BackfillLedger, paper_number: str) -> str | None:
    """Why the paper takes no more input (its content is typed in, or it was waived), or
    None. A paper is typed in once or waived once, never both."""
    entry = ledger.entries.get(paper_number)
    if entry is not None:
        return (
            f"paper ticket {paper_number} is already entered as ticket {entry.ticket_number} "
            f"by {entry.by}"
        )
    waiver = ledger.waivers.get(paper_number)
    if waiver is not None:
        return f"paper ticket {paper_number} was waived: {waiver[0]}"
    return None


def fold(records: Iterable[Mapping[str, Any]]) -> BackfillLedger:
    calls: dict[str, EmergencyCall] = {}
    tickets: dict[str, str] = {}
    entries: dict[str, PaperEntry] = {}
    waivers: dict[str, tuple[str, str]] = {}
    loose: dict[str, LoosePaper] = {}
    closed: set[str] = set()
    last_closed: tuple[str, ...] = ()
    callbacks: dict[str, tuple[datetime | None, str | None]] = {}
    for record in records:
        kind = record.get("kind")
        if kind == "call":
            call_id = str(record.get("call_id", ""))
            fields = record.get("fields") or {}
            if not call_id or not isinstance(fields, Mapping):
                continue
            current = calls.get(call_id)
            if current is None:
                paper = _opt_str(fields.get("paper_number"))
                if paper is None:
                    continue  # an update for a call whose first record was lost
                current = EmergencyCall(call_id=call_id, paper_number=paper)
            calls[call_id] = current.updated(fields)
        elif kind == "backfill":
            paper = _opt_str(record.get("paper_number"))
            ticket = _opt_str(record.get("ticket_number"))
            if paper and ticket:
                tickets[paper] = ticket
                by = str(record.get("by", ""))
                content = record.get("content")
                if content is None:
                    content = by != SYSTEM
                if content and paper not in entries:
                    entries[paper] = PaperEntry(ticket, by, _dt(record.get("at")))
        elif kind == "paper":
            paper = _opt_str(record.get("paper_number"))
            if paper:
                loose[paper] = LoosePaper(
                    paper, _opt_str(record.get("caller_number")), _dt(record.get("at"))
                )
        elif kind == "waive":
            paper = _opt_str(record.get("paper_number"))
            if paper:
                waivers[paper] = (str(record.get("reason", "")), str(record.get("by", "")))
        elif kind == "backfill_closed":
            numbers = tuple(str(n) for n in record.get("paper_numbers") or ())
            closed.update(numbers)
            last_closed = numbers
        elif kind == "callback":
            number = _opt_str(record.get("caller_number"))
            if number:
                callbacks[number] = (_dt(record.get("at")), _opt_str(record.get("by")))
    return BackfillLedger(
        calls=calls,
        tickets=tickets,
        entries=entries,
        waivers=waivers,
        loose_papers=loose,
        closed=frozenset(closed),
        last_closed=last_closed,
        callbacks=callbacks,
    )


def _item(
    ledger: BackfillLedger,
    paper_number: str,
    *,
    call_id: str | None,
    caller_number: str | None,
    started_at: datetime | None,
    agent: str | None,
    require_paper: bool,
) -> BackfillItem:
    waiver = ledger.waivers.get(paper_number)
    entry = ledger.entries.get(paper_number)
    return BackfillItem(
        paper_number=paper_number,
        call_id=call_id,
        caller_number=caller_number,
        started_at=started_at,
        agent=agent,
        ticket_number=ledger.tickets.get(paper_number),
        waived=waiver is not None,
        waive_reason=None if waiver is None else waiver[0],
        paper_entered=entry is not None,
        entered_by=None if entry is None else entry.by,
        paper_required=require_paper,
    )


def _start_key(call: EmergencyCall) -> tuple[int, float]:
    start = call.started_at or call.queued_at
    return (0, start.timestamp()) if start is not None else (1, 0.0)


def open_items(ledger: BackfillLedger, *, require_paper: bool = True) -> list[BackfillItem]:
    """Every item of the backfill not yet closed: calls first (oldest first), then loose
    paper numbers. With `require_paper`, a call's automatic ticket accounts for it only
    once the paper's content is typed in as well."""
    calls = [c for c in ledger.calls.values() if c.paper_number not in ledger.closed]
    calls.sort(key=_start_key)  # stable: calls without a time keep journal order
    items = [
        _item(
            ledger,
            c.paper_number,
            call_id=c.call_id,
            caller_number=c.caller_number or None,
            started_at=c.started_at or c.queued_at,
            agent=c.agent or c.agent_interface,
            require_paper=require_paper,
        )
        for c in calls
    ]
    items += [
        _item(
            ledger,
            p.paper_number,
            call_id=None,
            caller_number=p.caller_number,
            started_at=p.at,
            agent=None,
            require_paper=require_paper,
        )
        for p in ledger.loose_papers.values()
        if p.paper_number not in ledger.closed
    ]
    return items


def reconcile(items: Iterable[BackfillItem]) -> Reconciliation:
    all_items = list(items)
    calls = [i for i in all_items if i.call_id is not None]
    missing = tuple(i for i in calls if i.ticket_number is None and not i.waived)
    awaiting = tuple(i for i in calls if i.ticket_number is not None and not i.accounted_for)
    loose = tuple(i for i in all_items if i.call_id is None)
    waived = tuple(i for i in all_items if i.waived)
    ticketed = sum(1 for i in all_items if i.ticket_number is not None)
    return Reconciliation(
        calls_without_ticket=missing,
        awaiting_paper=awaiting,
        paper_without_call=loose,
        waived=waived,
        total=len(all_items),
        ticketed=ticketed,
        done=all(i.accounted_for for i in all_items),
    )


def callback_targets(ledger: BackfillLedger) -> list[CallbackTarget]:
    """Callers affected by the outage: the open backfill and the one closed last, grouped by
    caller number (anonymous callers cannot be called back)."""
    open_papers = {c.paper_number for c in ledger.calls.values()} | set(ledger.loose_papers)
    papers = (open_papers - ledger.closed) | set(ledger.last_closed)
    grouped: dict[str, list[EmergencyCall]] = {}
    for call in ledger.calls.values():
        if call.paper_number in papers and call.caller_number:
            grouped.setdefault(call.caller_number, []).append(call)
    for paper in ledger.loose_papers.values():
        if paper.paper_number in papers and paper.caller_number:
            grouped.setdefault(paper.caller_number, [])
    out: list[CallbackTarget] = []
    for number, calls in grouped.items():
        paper_numbers = [c.paper_number for c in calls] + [
            p.paper_number
            for p in ledger.loose_papers.values()
            if p.caller_number == number and p.paper_number in papers
        ]
        called = ledger.callbacks.get(number, (None, None))
        out.append(
            CallbackTarget(
                caller_number=number,
                call_ids=tuple(c.call_id for c in calls),
                paper_numbers=tuple(paper_numbers),
                ticket_numbers=tuple(
                    ledger.tickets[p] for p in paper_numbers if p in ledger.tickets
                ),
                last_called_at=called[0],
                last_called_by=called[1],
            )
        )
    return out
