"""Monthly operations figures: pure aggregation over the month's facts.

The report adapter loads plain facts from the database; everything computed from them
(per-day service level, SLA compliance, top sites, emergency periods...) lives here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from routing.domain.levels import FaultLevel


@dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``2026-11``."""
        try:
            year_s, month_s = text.strip().split("-")
            month = cls(int(year_s), int(month_s))
        except ValueError as exc:
            raise ValueError(f"month must look like 2026-11, not {text!r}") from exc
        if not (1 <= month.month <= 12 and 2000 <= month.year <= 2100):
            raise ValueError(f"month must look like 2026-11, not {text!r}")
        return month

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def bounds(self, zone: tzinfo) -> tuple[datetime, datetime]:
        start = datetime(self.year, self.month, 1, tzinfo=zone)
        nxt = (
            datetime(self.year + 1, 1, 1, tzinfo=zone)
            if self.month == 12
            else datetime(self.year, self.month + 1, 1, tzinfo=zone)
        )
        return start, nxt

    def days(self) -> list[date]:
        first = date(self.year, self.month, 1)
        out = []
        d = first
        while d.month == self.month:
            out.append(d)
            d += timedelta(days=1)
        return out


@dataclass(frozen=True, slots=True)
class CallFact:
    call_id: str
    started_at: datetime
    queued_at: datetime | None
    answered_at: datetime | None
    outcome: str | None
    level: int | None
    site_code: str | None
    paper_number: str | None
    ticket_number: str | None


@dataclass(frozen=True, slots=True)
class TicketFact:
    number: str
    level: int
    status: str
    source: str
    created_at: datetime
    response_due: datetime
    responded_at: datetime | None
    resolved_at: datetime | None
    site_code: str | None
    site_name: str | None
    site_tier: str | None
    cause: str
    # Field work (supervision.domain.field_compliance): deadline, dispatch, arrival, part.
    onsite_due: datetime | None = None
    distance_km: float | None = None
    dispatched_at: datetime | None = None
    onsite_at: datetime | None = None
    part_needed_at: datetime | None = None
    part_sent_at: datetime | None = None
    part_received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EscalationFact:
    key: str
    ticket_number: str
    kind: str
    level: int
    taken_at: datetime


@dataclass(frozen=True, slots=True)
class EmergencyPeriod:
    started_at: datetime
    ended_at: datetime | None
    reason: str
    calls: int = 0
    backfilled: int = 0


@dataclass(frozen=True, slots=True)
class DayFigures:
    day: date
    offered: int  # calls that reached a queue (answered + abandoned + other queued)
    answered: int
    abandoned: int
    answered_in_target: int
    other: int  # ivr hang-ups, no agent, transfers

    @property
    def service_level(self) -> float | None:
        base = self.answered + self.abandoned
        return self.answered_in_target / base if base else None


@dataclass(frozen=True, slots=True)
class Compliance:
    level: int
    tickets: int
    met: int
    breached: int
    pending: int  # still open, deadline not reached yet

    @property
    def rate(self) -> float | None:
        decided = self.met + self.breached
        return self.met / decided if decided else None


@dataclass(frozen=True, slots=True)
class MonthlyFigures:
    month: Month
    days: tuple[DayFigures, ...]
    tickets_by_level: dict[int, int]
    tickets_by_tier: dict[str, int]
    compliance: tuple[Compliance, ...]
    escalations: dict[tuple[int, str], int]  # (level, kind) -> count
    top_sites: tuple[tuple[str, str, int], ...]  # (code, name, tickets)
    top_causes: tuple[tuple[str, int], ...]
    satisfaction: dict[str, int]  # "1".."5", "n/a"
    emergency: tuple[EmergencyPeriod, ...]
    backfill: tuple[tuple[str, str, datetime, str | None], ...]  # paper, call, at, ticket

    @property
    def totals(self) -> dict[str, int]:
        return {
            "calls": sum(d.offered + d.other for d in self.days),
            "answered": sum(d.answered for d in self.days),
            "abandoned": sum(d.abandoned for d in self.days),
            "answered_in_target": sum(d.answered_in_target for d in self.days),
            "tickets": sum(self.tickets_by_level.values()),
            "escalations": sum(self.escalations.values()),
            "emergency_calls": len(self.backfill),
            "backfill_pending": sum(1 for b in self.backfill if b[3] is None),
        }


def day_figures(
    month: Month, calls: Iterable[CallFact], zone: tzinfo, target: timedelta
) -> tuple[DayFigures, ...]:
    per: dict[date, list[int]] = {d: [0, 0, 0, 0, 0] for d in month.days()}
    for c in calls:
        day = c.started_at.astimezone(zone).date()
        if day not in per:
            continue
        row = per[day]
        if c.outcome == "answered":
            row[1] += 1
            if c.queued_at and c.answered_at and c.answered_at - c.queued_at <= target:
                row[3] += 1
        elif c.outcome == "abandoned":
            row[2] += 1
        else:
            row[4] += 1
        if c.outcome in ("answered", "abandoned"):
            row[0] += 1
    return tuple(DayFigures(d, r[0], r[1], r[2], r[3], r[4]) for d, r in sorted(per.items()))


def compliance(tickets: Iterable[TicketFact], now: datetime) -> tuple[Compliance, ...]:
    rows = {int(lv): [0, 0, 0, 0] for lv in FaultLevel}
    for t in tickets:
        r = rows.setdefault(t.level, [0, 0, 0, 0])
        r[0] += 1
        done = t.responded_at or t.resolved_at
        if done is not None:
            r[1 if done <= t.response_due else 2] += 1
        elif now >= t.response_due:
            r[2] += 1
        else:
            r[3] += 1
    return tuple(Compliance(lv, *r) for lv, r in sorted(rows.items()))


def emergency_periods_from_calls(
    calls: Sequence[CallFact], gap: timedelta = timedelta(hours=2)
) -> tuple[EmergencyPeriod, ...]:
    """Without the fallback journal: emergency calls (with a paper number) closer than `gap`
    belong to one period."""
    paper = sorted((c for c in calls if c.paper_number), key=lambda c: c.started_at)
    periods: list[list[CallFact]] = []
    for c in paper:
        if periods and c.started_at - periods[-1][-1].started_at <= gap:
            periods[-1].append(c)
        else:
            periods.append([c])
    return tuple(
        EmergencyPeriod(
            p[0].started_at,
            p[-1].started_at,
            "derived from emergency calls",
            len(p),
            sum(1 for c in p if c.ticket_number),
        )
        for p in periods
    )


def summarise(
    month: Month,
    calls: Sequence[CallFact],
    tickets: Sequence[TicketFact],
    escalations: Sequence[EscalationFact],
    scores: Sequence[int | None],
    *,
    zone: tzinfo,
    now: datetime,
    service_level_target: timedelta = timedelta(seconds=20),
    emergency: Sequence[EmergencyPeriod] | None = None,
    top: int = 10,
) -> MonthlyFigures:
    by_level = {int(lv): 0 for lv in FaultLevel}
    by_tier: Counter[str] = Counter()
    sites: Counter[tuple[str, str]] = Counter()
    causes: Counter[str] = Counter()
    for t in tickets:
        by_level[t.level] = by_level.get(t.level, 0) + 1
        by_tier[t.site_tier or "unknown"] += 1
        if t.site_code:
            sites[(t.site_code, t.site_name or "")] += 1
        causes[t.cause.strip() or "(not recorded)"] += 1
    esc: Counter[tuple[int, str]] = Counter((e.level, e.kind) for e in escalations)
    sat: dict[str, int] = {str(i): 0 for i in range(1, 6)}
    sat["n/a"] = 0
    for s in scores:
        sat["n/a" if s is None else str(s)] += 1
    backfill = tuple(
        (c.paper_number or "", c.call_id, c.started_at, c.ticket_number)
        for c in sorted(calls, key=lambda c: c.started_at)
        if c.paper_number
    )
    if emergency is None:
        periods = emergency_periods_from_calls(calls)
    else:
        periods = tuple(
            EmergencyPeriod(
                p.started_at,
                p.ended_at,
                p.reason,
                sum(1 for b in backfill if _within(b[2], p)),
                sum(1 for b in backfill if _within(b[2], p) and b[3]),
            )
            for p in emergency
        )
    return MonthlyFigures(
        month=month,
        days=day_figures(month, calls, zone, service_level_target),
        tickets_by_level=by_level,
        tickets_by_tier=dict(sorted(by_tier.items())),
        compliance=compliance(tickets, now),
        escalations=dict(sorted(esc.items())),
        top_sites=tuple(
            (code, name, n)
            for (code, name), n in sorted(sites.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        ),
        top_causes=tuple(sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))[:top]),
        satisfaction=sat,
        emergency=periods,
        backfill=backfill,
    )


def _within(at: datetime, period: EmergencyPeriod) -> bool:
    return period.started_at <= at and (period.ended_at is None or at <= period.ended_at)
