"""Monthly operations report: HTML with matplotlib plots, and CSV of every table behind them.

``render_monthly(facts, "2026-11", out_dir)`` reads the month's calls, tickets, escalation
steps, satisfaction scores and emergency calls through the `supervision.ports.MonthlyFacts`
port (storage's `ReportRepository` in production), aggregates them with
`supervision.domain.monthly`, and writes ``out_dir/<month>/index.html``, one PNG per plot
and the CSV files. Plotting and file writing run in a worker thread.
"""

from __future__ import annotations

import asyncio
import csv
import html
import logging
import warnings
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Protocol

from calls.clock import utc_now
from routing.domain.levels import SlaPolicy
from routing.records import SATISFACTION_LABELS
from supervision.domain.calendar import CHINA_STANDARD_TIME, WorkingCalendar
from supervision.domain.field_compliance import FieldFigures, field_compliance
from supervision.domain.monthly import EmergencyPeriod, Month, MonthlyFigures, summarise
from supervision.field_report import write_field_section
from supervision.ports import MonthlyFacts
from supervision.records import MonthFacts
from supervision.report_plots import (
    N_,
    PLOTS,
    Progress,
    ReportWords,
    draw_plots,
)
from translations import DEFAULT_LANGUAGE, format_local

log = logging.getLogger(__name__)

__all__ = ["PLOTS", "EmergencyHistory", "render_monthly"]


class EmergencyHistory(Protocol):
    """Emergency-mode periods as the fallback audit knows them (optional input)."""

    async def periods(self, start: datetime, end: datetime) -> Sequence[EmergencyPeriod]: ...


async def render_monthly(
    source: MonthlyFacts,
    month: str | Month,
    out_dir: Path,
    *,
    progress: Progress | None = None,
    zone: tzinfo = CHINA_STANDARD_TIME,
    service_level_target: timedelta = timedelta(seconds=20),
    emergency: EmergencyHistory | None = None,
    now: datetime | None = None,
    language: str = DEFAULT_LANGUAGE,
    sla: SlaPolicy | None = None,
    calendar: WorkingCalendar | None = None,
) -> Path:
    """Write the report for `month` in `language`; returns the path of its ``index.html``.
    The field-work section judges arrivals and parts by `sla` and `calendar` (defaults:
    DESIGN.md's tables, the default working calendar)."""
    m = month if isinstance(month, Month) else Month.parse(month)
    step = progress or (lambda stage, fraction: None)
    step("reading the database", 0.0)
    start, end = m.bounds(zone)
    facts = await source.month_facts(start, end)
    periods = None
    if emergency is not None:
        periods = await emergency.periods(start, end)
    figures = summarise(
        m,
        facts.calls,
        facts.tickets,
        facts.escalations,
        [s.score for s in facts.scores],
        zone=zone,
        now=now or utc_now(),
        service_level_target=service_level_target,
        emergency=periods,
    )
    field = field_compliance(
        facts.tickets, sla or SlaPolicy(), calendar or WorkingCalendar(), now or utc_now()
    )
    target = out_dir / str(m)
    loop = asyncio.get_running_loop()

    def threaded_progress(stage: str, fraction: float) -> None:
        loop.call_soon_threadsafe(step, stage, fraction)

    index = await asyncio.to_thread(
        _write_all,
        target,
        figures,
        facts,
        ReportWords(language, zone, service_level_target),
        threaded_progress,
        field,
    )
    step("done", 1.0)
    log.info("monthly report %s written to %s", m, index)
    return index


# --- files (worker thread) -----------------------------------------------------------------


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else _cell(v) for v in row])


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.4f}"
    return value


def _write_tables(target: Path, f: MonthlyFigures, facts: MonthFacts) -> list[str]:
    files: list[tuple[str, Sequence[str], Iterable[Sequence[Any]]]] = [
        (
            "calls.csv",
            [
                "call_id",
                "started_at",
                "queued_at",
                "answered_at",
                "outcome",
                "level",
                "site_code",
                "paper_number",
                "ticket_number",
            ],
            [
                (
                    c.call_id,
                    c.started_at,
                    c.queued_at,
                    c.answered_at,
                    c.outcome,
                    c.level,
                    c.site_code,
                    c.paper_number,
                    c.ticket_number,
                )
                for c in facts.calls
            ],
        ),
        (
            "tickets.csv",
            [
                "number",
                "level",
                "status",
                "source",
                "created_at",
                "response_due",
                "responded_at",
                "resolved_at",
                "site_code",
                "site_name",
                "site_tier",
                "cause",
            ],
            [
                (
                    t.number,
                    t.level,
                    t.status,
                    t.source,
                    t.created_at,
                    t.response_due,
                    t.responded_at,
                    t.resolved_at,
                    t.site_code,
                    t.site_name,
                    t.site_tier,
                    t.cause,
                )
                for t in facts.tickets
            ],
        ),
        (
            "escalations.csv",
            ["key", "ticket_number", "kind", "level", "taken_at"],
            [(e.key, e.ticket_number, e.kind, e.level, e.taken_at) for e in facts.escalations],
        ),
        (
            "satisfaction_scores.csv",
            ["call_id", "ticket_number", "score", "at"],
            [(s.call_id, s.ticket_number, s.score, s.at) for s in facts.scores],
        ),
        (
            "calls_per_day.csv",
            [
                "day",
                "offered",
                "answered",
                "abandoned",
                "answered_in_target",
                "other",
                "service_level",
            ],
            [
                (
                    d.day.isoformat(),
                    d.offered,
                    d.answered,
                    d.abandoned,
                    d.answered_in_target,
                    d.other,
                    d.service_level,
                )
                for d in f.days
            ],
        ),
        ("tickets_by_level.csv", ["level", "tickets"], sorted(f.tickets_by_level.items())),
        ("tickets_by_tier.csv", ["tier", "tickets"], f.tickets_by_tier.items()),
        (
            "sla_compliance.csv",
            ["level", "tickets", "met", "breached", "pending", "rate"],
            [(c.level, c.tickets, c.met, c.breached, c.pending, c.rate) for c in f.compliance],
        ),
        (
            "escalations_by_level.csv",
            ["level", "kind", "count"],
            [(lv, kind, n) for (lv, kind), n in f.escalations.items()],
        ),
        ("top_sites.csv", ["site_code", "site_name", "tickets"], f.top_sites),
        ("top_causes.csv", ["cause", "tickets"], f.top_causes),
        (
            "satisfaction.csv",
            ["score", "label", "count"],
            [
                (k, SATISFACTION_LABELS.get(int(k), "") if k.isdigit() else "not applicable", n)
                for k, n in f.satisfaction.items()
            ],
        ),
        (
            "emergency_periods.csv",
            ["started_at", "ended_at", "reason", "calls", "backfilled"],
            [(p.started_at, p.ended_at, p.reason, p.calls, p.backfilled) for p in f.emergency],
        ),
        (
            "backfill.csv",
            ["paper_number", "call_id", "started_at", "ticket_number", "status"],
            [(*b, "backfilled" if b[3] else "pending") for b in f.backfill],
        ),
    ]
    for name, header, rows in files:
        _write_csv(target / name, header, rows)
    return [name for name, _, _ in files]


def _write_all(
    target: Path,
    f: MonthlyFigures,
    facts: MonthFacts,
    words: ReportWords,
    progress: Progress,
    field: FieldFigures | None = None,
) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    csv_files = _write_tables(target, f, facts)
    progress("tables", 0.1)
    section = ""
    with warnings.catch_warnings():
        # A glyph missing from every installed font must not abort the report.
        warnings.filterwarnings("ignore", message="Glyph .* missing", category=UserWarning)
        draw_plots(target, f, words, progress)
        if field is not None:
            field_csv, section = write_field_section(target, field, words.gettext)
            csv_files = [*csv_files, *field_csv]
    index = target / "index.html"
    index.write_text(_html(f, csv_files, words, section), encoding="utf-8")
    return index


def _html(
    f: MonthlyFigures, csv_files: Sequence[str], words: ReportWords, field_section: str = ""
) -> str:
    _ = words.gettext
    e = html.escape
    totals = f.totals
    offered = totals["answered"] + totals["abandoned"]
    sl = f"{totals['answered_in_target'] / offered:.1%}" if offered else "–"
    seconds = int(words.service_level_target.total_seconds())
    summary = [
        (_("Calls"), totals["calls"]),
        (_("Calls answered"), totals["answered"]),
        (_("Calls abandoned"), totals["abandoned"]),
        (_("Service level (≤%(seconds)d s)") % {"seconds": seconds}, sl),
        (_("Tickets opened"), totals["tickets"]),
        (_("Escalation steps"), totals["escalations"]),
        (_("Emergency calls"), totals["emergency_calls"]),
        (_("Emergency calls still to backfill"), totals["backfill_pending"]),
    ]
    rows = "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in summary)
    plots = "".join(
        f'<figure><img src="{name}.png" alt="{e(_(title))}">'
        f"<figcaption>{e(_(title))}</figcaption></figure>"
        for name, title in PLOTS
    )
    sites = "".join(
        f"<tr><td>{e(code)}</td><td>{e(name)}</td><td>{n}</td></tr>"
        for code, name, n in f.top_sites
    )
    still_active = _("still active")
    periods = (
        "".join(
            f"<tr><td>{e(format_local(p.started_at, words.zone))}</td>"
            f"<td>{e(format_local(p.ended_at, words.zone) if p.ended_at else still_active)}"
            f"</td><td>{e(p.reason)}</td><td>{p.calls}</td><td>{p.backfilled}</td></tr>"
            for p in f.emergency
        )
        or f'<tr><td colspan="5">{e(_("none"))}</td></tr>'
    )
    links = "".join(f'<li><a href="{e(n)}">{e(n)}</a></li>' for n in csv_files)
    title = _("7×24 technical support hotline: monthly operations report %(month)s") % {
        "month": f.month
    }
    head = "".join(
        f"<th>{e(_(h))}</th>"
        for h in (N_("From"), N_("To"), N_("Reason"), N_("Calls"), N_("Backfilled"))
    )
    words_of = {
        key: e(text)
        for key, text in (
            ("summary", _("Summary")),
            ("plots", _("Plots")),
            ("top_sites", _("Top sites")),
            ("code", _("Code")),
            ("site", _("Site")),
            ("tickets", _("Tickets")),
            ("periods", _("Emergency periods")),
            ("data", _("Data (CSV)")),
        )
    }
    return f"""<!doctype html>
<html lang="{words.language}"><head><meta charset="utf-8">
<title>{e(title)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", system-ui, sans-serif; margin: 2em auto;
       max-width: 1000px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: .3em .7em; text-align: left; }}
figure {{ margin: 1.5em 0; }} img {{ max-width: 100%; }}
figcaption {{ color: #555; }}
</style></head><body>
<h1>{e(title)}</h1>
<h2>{words_of["summary"]}</h2><table>{rows}</table>
<h2>{words_of["plots"]}</h2>{plots}
{field_section}
<h2>{words_of["top_sites"]}</h2><table><tr><th>{words_of["code"]}</th><th>{words_of["site"]}</th>
<th>{words_of["tickets"]}</th></tr>{sites}</table>
<h2>{words_of["periods"]}</h2>
<table><tr>{head}</tr>
{periods}</table>
<h2>{words_of["data"]}</h2><ul>{links}</ul>
</body></html>
"""
