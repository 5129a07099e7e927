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
from datetime import date, datetime, timedelta, tzinfo
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

# One CSV file of the report: its name, its header and its rows.
CsvTable = tuple[str, Sequence[str], Iterable[Sequence[Any]]]

# The columns of the tables that list records: each column is the field of that name.
CALL_COLUMNS = (
    "call_id",
    "started_at",
    "queued_at",
    "answered_at",
    "outcome",
    "level",
    "site_code",
    "paper_number",
    "ticket_number",
)
TICKET_COLUMNS = (
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
)
ESCALATION_COLUMNS = ("key", "ticket_number", "kind", "level", "taken_at")
SCORE_COLUMNS = ("call_id", "ticket_number", "score", "at")
DAY_COLUMNS = (
    "day",
    "offered",
    "answered",
    "abandoned",
    "answered_in_target",
    "other",
    "service_level",
)
COMPLIANCE_COLUMNS = ("level", "tickets", "met", "breached", "pending", "rate")
PERIOD_COLUMNS = ("started_at", "ended_at", "reason", "calls", "backfilled")


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else _cell(v) for v in row])


def _cell(value: Any) -> Any:
    if isinstance(value, date):  # a datetime too
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.4f}"
    return value


def _listed(name: str, columns: Sequence[str], records: Iterable[object]) -> CsvTable:
    """A table of `records`, one row each, its columns read from the fields they name."""
    return name, columns, [tuple(getattr(r, c) for c in columns) for r in records]


def _fact_tables(facts: MonthFacts) -> list[CsvTable]:
    """The month's records as read, one table per kind."""
    return [
        _listed("calls.csv", CALL_COLUMNS, facts.calls),
        _listed("tickets.csv", TICKET_COLUMNS, facts.tickets),
        _listed("escalations.csv", ESCALATION_COLUMNS, facts.escalations),
        _listed("satisfaction_scores.csv", SCORE_COLUMNS, facts.scores),
    ]


def _satisfaction_label(score: str) -> str:
    """The words of a score ("1".."5"); any other key is a call without one."""
    return SATISFACTION_LABELS.get(int(score), "") if score.isdigit() else "not applicable"


def _figure_tables(f: MonthlyFigures) -> list[CsvTable]:
    """The figures behind the plots."""
    return [
        _listed("calls_per_day.csv", DAY_COLUMNS, f.days),
        ("tickets_by_level.csv", ["level", "tickets"], sorted(f.tickets_by_level.items())),
        ("tickets_by_tier.csv", ["tier", "tickets"], f.tickets_by_tier.items()),
        _listed("sla_compliance.csv", COMPLIANCE_COLUMNS, f.compliance),
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
            [(k, _satisfaction_label(k), n) for k, n in f.satisfaction.items()],
        ),
        _listed("emergency_periods.csv", PERIOD_COLUMNS, f.emergency),
        (
            "backfill.csv",
            ["paper_number", "call_id", "started_at", "ticket_number", "status"],
            [(*b, "backfilled" if b[3] else "pending") for b in f.backfill],
        ),
    ]


def _write_tables(target: Path, f: MonthlyFigures, facts: MonthFacts) -> list[str]:
    tables = [*_fact_tables(facts), *_figure_tables(f)]
    for name, header, rows in tables:
        _write_csv(target / name, header, rows)
    return [name for name, _, _ in tables]


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


def _summary_rows(f: MonthlyFigures, words: ReportWords) -> str:
    """The summary table's rows: the month's totals."""
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
    return "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in summary)


def _emergency_table(f: MonthlyFigures, words: ReportWords) -> str:
    """The emergency periods, in local time; "none" in a month without any."""
    _ = words.gettext
    e = html.escape
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
    head = "".join(
        f"<th>{e(_(h))}</th>"
        for h in (N_("From"), N_("To"), N_("Reason"), N_("Calls"), N_("Backfilled"))
    )
    return f"<table><tr>{head}</tr>\n{periods}</table>"


def _html(
    f: MonthlyFigures, csv_files: Sequence[str], words: ReportWords, field_section: str = ""
) -> str:
    _ = words.gettext
    e = html.escape
    plots = "".join(
        f'<figure><img src="{name}.png" alt="{e(_(title))}">'
        f"<figcaption>{e(_(title))}</figcaption></figure>"
        for name, title in PLOTS
    )
    sites = "".join(
        f"<tr><td>{e(code)}</td><td>{e(name)}</td><td>{n}</td></tr>"
        for code, name, n in f.top_sites
    )
    links = "".join(f'<li><a href="{e(n)}">{e(n)}</a></li>' for n in csv_files)
    title = _("7×24 technical support hotline: monthly operations report %(month)s") % {
        "month": f.month
    }
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
<h2>{words_of["summary"]}</h2><table>{_summary_rows(f, words)}</table>
<h2>{words_of["plots"]}</h2>{plots}
{field_section}
<h2>{words_of["top_sites"]}</h2><table><tr><th>{words_of["code"]}</th><th>{words_of["site"]}</th>
<th>{words_of["tickets"]}</th></tr>{sites}</table>
<h2>{words_of["periods"]}</h2>
{_emergency_table(f, words)}
<h2>{words_of["data"]}</h2><ul>{links}</ul>
</body></html>
"""
