"""The monthly report's words and plots: the message ids of its titles and labels, the
language and local time it is written in (`ReportWords`), and one matplotlib PNG per plot
(`draw_plots`, run in the report's worker thread). The plots ask for Noto Sans CJK first
so Chinese labels never fall back to empty boxes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routing.domain.levels import FaultLevel
from supervision.domain.monthly import MonthlyFigures
from translations import translator

if TYPE_CHECKING:  # matplotlib loads only when a report is drawn
    from matplotlib.figure import Figure

Progress = Callable[[str, float], None]

Translate = Callable[[str], str]


def N_(message: str) -> str:
    """Marks a message for the catalogue; the report translates it as it writes."""
    return message


PLOTS = (
    ("calls_per_day", N_("Calls per day")),
    ("answered_abandoned", N_("Answered vs abandoned")),
    ("service_level", N_("Service level")),
    ("tickets_by_level", N_("Tickets by fault level")),
    ("tickets_by_tier", N_("Tickets by site tier")),
    ("sla_compliance", N_("SLA compliance (first response)")),
    ("escalations", N_("Escalations")),
    ("top_sites", N_("Top sites")),
    ("top_causes", N_("Top causes")),
    ("satisfaction", N_("Satisfaction")),
    ("emergency", N_("Emergency periods and backfill")),
)
# The fonts the plots ask for, Chinese first so CJK labels never fall back to boxes.
PLOT_FONTS = ["Noto Sans CJK SC", "DejaVu Sans", "Noto Serif CJK SC"]


LEVEL_WORDS = {
    FaultLevel.P1: N_("critical"),
    FaultLevel.P2: N_("major"),
    FaultLevel.P3: N_("minor"),
    FaultLevel.P4: N_("consultation"),
}
TIER_WORDS = {
    "province": N_("province"),
    "city": N_("city"),
    "county": N_("county"),
    "township": N_("township"),
    "unknown": N_("unknown"),
}
KIND_WORDS = {
    "escalation": N_("escalation"),
    "progress_report": N_("progress report"),
    "breach": N_("SLA breach"),
    "unacknowledged": N_("unacknowledged"),
}
# Words the aggregation writes for missing values ("n/a" score, "(not recorded)" cause).
MISSING_WORDS = {"n/a": N_("n/a"), "(not recorded)": N_("(not recorded)")}


@dataclass(frozen=True, slots=True)
class ReportWords:
    """The language and local time the report is written in."""

    language: str
    zone: tzinfo
    service_level_target: timedelta

    @property
    def gettext(self) -> Translate:
        return translator(self.language).gettext


class _Plotter:
    """Draws one PNG per plot into `target`, in the report's words."""

    def __init__(self, target: Path, words: ReportWords, progress: Progress) -> None:
        self.target, self.words, self.progress = target, words, progress
        self.gettext = words.gettext

    def new(self, title: str, size: tuple[float, float] = (9, 4)) -> tuple[Figure, Any]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=size)
        ax = fig.add_subplot()
        ax.set_title(title)
        return fig, ax

    def save(self, fig: Figure, name: str, index: int) -> None:
        fig.tight_layout()
        fig.savefig(self.target / f"{name}.png", dpi=100)
        self.progress(f"plot {name}", 0.1 + 0.8 * (index + 1) / len(PLOTS))


def draw_plots(target: Path, f: MonthlyFigures, words: ReportWords, progress: Progress) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    matplotlib.rcParams["font.family"] = PLOT_FONTS
    plot = _Plotter(target, words, progress)
    _plot_calls(plot, f)
    _plot_tickets(plot, f)
    _plot_sites_and_satisfaction(plot, f)
    _plot_emergency(plot, f)


def _plot_calls(plot: _Plotter, f: MonthlyFigures) -> None:
    _ = plot.gettext
    new, save = plot.new, plot.save
    sl_target = plot.words.service_level_target
    days = [d.day.day for d in f.days]

    fig, ax = new(_("Calls per day, %(month)s") % {"month": f.month})
    ans = [d.answered for d in f.days]
    abd = [d.abandoned for d in f.days]
    oth = [d.other for d in f.days]
    ax.bar(days, ans, label=_("answered"), color="#2e7d32")
    ax.bar(days, abd, bottom=ans, label=_("abandoned"), color="#c62828")
    ax.bar(
        days,
        oth,
        bottom=[a + b for a, b in zip(ans, abd, strict=True)],
        label=_("IVR hang-up / other"),
        color="#9e9e9e",
    )
    ax.set_xlabel(_("day of month"))
    ax.set_ylabel(_("calls"))
    ax.legend(loc="upper right")  # "best" placement is slow and warns under load
    save(fig, "calls_per_day", 0)

    fig, ax = new(_("Answered vs abandoned"))
    ax.plot(days, ans, marker="o", label=_("answered"), color="#2e7d32")
    ax.plot(days, abd, marker="o", label=_("abandoned"), color="#c62828")
    totals = f.totals
    ax.set_xlabel(
        _("day of month (total answered %(answered)d, abandoned %(abandoned)d)")
        % {"answered": totals["answered"], "abandoned": totals["abandoned"]}
    )
    ax.legend(loc="upper right")  # "best" placement is slow and warns under load
    save(fig, "answered_abandoned", 1)

    fig, ax = new(
        _("Service level (answered within %(seconds)d s)")
        % {"seconds": int(sl_target.total_seconds())}
    )
    sl = [d.service_level * 100 if d.service_level is not None else float("nan") for d in f.days]
    ax.plot(days, sl, marker="o", color="#1565c0", label=_("service level"))
    ax.axhline(
        80, color="#ef6c00", linestyle="--", label=_("%(percent)d %% objective") % {"percent": 80}
    )
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.legend(loc="upper right")  # "best" placement is slow and warns under load
    save(fig, "service_level", 2)


def _plot_tickets(plot: _Plotter, f: MonthlyFigures) -> None:
    _ = plot.gettext
    new, save = plot.new, plot.save
    level_names = [f"P{lv} {_(LEVEL_WORDS[FaultLevel(lv)])}" for lv in range(1, 5)]

    fig, ax = new(_("Tickets by fault level"), (7, 4))
    ax.bar(
        level_names,
        [f.tickets_by_level.get(lv, 0) for lv in range(1, 5)],
        color=["#c62828", "#ef6c00", "#f9a825", "#1565c0"],
    )
    save(fig, "tickets_by_level", 3)

    fig, ax = new(_("Tickets by site tier"), (7, 4))
    tiers = list(f.tickets_by_tier) or [_("none")]
    ax.bar(
        [_(TIER_WORDS.get(x, x)) for x in tiers],
        [f.tickets_by_tier.get(x, 0) for x in tiers],
        color="#6a1b9a",
    )
    save(fig, "tickets_by_tier", 4)

    fig, ax = new(_("First-response SLA compliance"), (7, 4))
    met = [c.met for c in f.compliance]
    br = [c.breached for c in f.compliance]
    pe = [c.pending for c in f.compliance]
    names = [f"P{c.level}" for c in f.compliance]
    ax.bar(names, met, label=_("met"), color="#2e7d32")
    ax.bar(names, br, bottom=met, label=_("breached"), color="#c62828")
    ax.bar(
        names,
        pe,
        bottom=[a + b for a, b in zip(met, br, strict=True)],
        label=_("pending"),
        color="#9e9e9e",
    )
    for i, c in enumerate(f.compliance):
        if c.rate is not None:
            ax.annotate(f"{c.rate:.0%}", (i, c.tickets), ha="center", va="bottom")
    ax.legend(loc="upper right")  # "best" placement is slow and warns under load
    save(fig, "sla_compliance", 5)

    fig, ax = new(_("Escalation steps and notices"), (8, 4))
    kinds = sorted({k for _, k in f.escalations}) or ["escalation"]
    width = 0.8 / len(kinds)
    for i, kind in enumerate(kinds):
        ax.bar(
            [lv + i * width for lv in range(1, 5)],
            [f.escalations.get((lv, kind), 0) for lv in range(1, 5)],
            width,
            label=_(KIND_WORDS.get(kind, kind)),
        )
    ax.set_xticks([lv + 0.4 - width / 2 for lv in range(1, 5)], [f"P{lv}" for lv in range(1, 5)])
    ax.legend(loc="upper right")  # "best" placement is slow and warns under load
    save(fig, "escalations", 6)


def _plot_sites_and_satisfaction(plot: _Plotter, f: MonthlyFigures) -> None:
    _ = plot.gettext
    new, save = plot.new, plot.save

    fig, ax = new(_("Top sites by tickets"), (8, 4.5))
    labels = [f"{code} {name}".strip() for code, name, _n in reversed(f.top_sites)]
    ax.barh(
        labels or [_("none")], [n for _c, _s, n in reversed(f.top_sites)] or [0], color="#00695c"
    )
    save(fig, "top_sites", 7)

    fig, ax = new(_("Top causes"), (8, 4.5))
    ax.barh(
        [_(MISSING_WORDS[c]) if c in MISSING_WORDS else c for c, _n in reversed(f.top_causes)]
        or [_("none")],
        [n for _c, n in reversed(f.top_causes)] or [0],
        color="#4e342e",
    )
    save(fig, "top_causes", 8)

    fig, ax = new(_("Satisfaction (1 very satisfied … 5 very dissatisfied)"), (7, 4))
    ax.bar(
        [_(MISSING_WORDS.get(score, score)) for score in f.satisfaction],
        list(f.satisfaction.values()),
        color=["#2e7d32", "#7cb342", "#fdd835", "#fb8c00", "#c62828", "#9e9e9e"],
    )
    save(fig, "satisfaction", 9)


def _plot_emergency(plot: _Plotter, f: MonthlyFigures) -> None:
    from matplotlib.figure import Figure

    _ = plot.gettext
    zone = plot.words.zone

    fig = Figure(figsize=(9, 4.5))
    ax1, ax2 = fig.subplots(2, 1, height_ratios=[1, 1.2])
    start, end = f.month.bounds(zone)
    span_days = (end - start).total_seconds() / 86400
    ax1.set_title(_("Emergency-mode periods"))
    ax1.set_xlim(0, span_days)
    ax1.set_yticks([])
    for p in f.emergency:
        a = (p.started_at - start).total_seconds() / 86400
        b = ((p.ended_at or end) - start).total_seconds() / 86400
        ax1.broken_barh([(a, max(b - a, 0.05))], (0, 1), color="#c62828")
    if not f.emergency:
        ax1.text(span_days / 2, 0.5, _("no emergency period"), ha="center", va="center")
    ax1.set_xlabel(_("day of month"))
    ax2.set_title(_("Emergency calls: backfill status"))
    done = sum(1 for b in f.backfill if b[3])
    ax2.barh(
        [_("backfilled"), _("pending")],
        [done, len(f.backfill) - done],
        color=["#2e7d32", "#c62828"],
    )
    fig.tight_layout()
    fig.savefig(plot.target / "emergency.png", dpi=100)
    plot.progress("plot emergency", 0.9)
