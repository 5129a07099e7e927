"""The monthly report's field-work section: arrival-on-site and spare-part delivery
compliance by fault level and by distance band, as plots, a CSV and an HTML table, in
the report's language.

Called by `supervision.report` in its worker thread, after the other plots.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supervision.domain.field_compliance import UNKNOWN_DISTANCE, FieldCompliance, FieldFigures

CSV_NAME = "field_compliance.csv"

Translate = Callable[[str], str]


def N_(message: str) -> str:
    """Marks a message for the catalogue; translated where it is shown."""
    return message


PLOTS = (
    ("arrival_compliance", N_("Arrival on site: compliance by level and by distance")),
    (
        "part_delivery_compliance",
        N_("Spare-part delivery: compliance by level and by distance"),
    ),
)


def write_field_section(
    target: Path, figures: FieldFigures, gettext: Translate = str
) -> tuple[list[str], str]:
    """Write the CSV and the plots under `target`; return (CSV names, HTML fragment)."""
    with (target / CSV_NAME).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["measure", "group", "tickets", "met", "breached", "pending", "rate"])
        for row in figures.rows():
            rate = "" if row.rate is None else f"{row.rate:.4f}"
            writer.writerow(
                [row.measure, row.group, row.tickets, row.met, row.breached, row.pending, rate]
            )
    for (name, title), (by_level, by_distance) in zip(
        PLOTS,
        (
            (figures.arrival_by_level, figures.arrival_by_distance),
            (figures.parts_by_level, figures.parts_by_distance),
        ),
        strict=True,
    ):
        _plot(target, name, gettext(title), by_level, by_distance, gettext)
    return [CSV_NAME], _html(figures, gettext)


def _group(name: str, gettext: Translate) -> str:
    return gettext("unknown distance") if name == UNKNOWN_DISTANCE else name


def _plot(
    target: Path,
    name: str,
    title: str,
    by_level: tuple[FieldCompliance, ...],
    by_distance: tuple[FieldCompliance, ...],
    _: Translate,
) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    fig.suptitle(title)
    for index, (rows, axis_label) in enumerate(
        ((by_level, _("fault level")), (by_distance, _("distance from the service centre")))
    ):
        ax: Any = fig.add_subplot(1, 2, index + 1)
        names = [_group(r.group, _) for r in rows]
        met = [r.met for r in rows]
        late = [r.breached for r in rows]
        pending = [r.pending for r in rows]
        ax.bar(names, met, label=_("met"), color="#2e7d32")
        ax.bar(names, late, bottom=met, label=_("breached"), color="#c62828")
        ax.bar(
            names,
            pending,
            bottom=[a + b for a, b in zip(met, late, strict=True)],
            label=_("pending"),
            color="#9e9e9e",
        )
        for x, r in enumerate(rows):
            if r.rate is not None:
                ax.annotate(f"{r.rate:.0%}", (x, r.tickets), ha="center", va="bottom")
        ax.set_xlabel(axis_label)
        ax.set_ylabel(_("tickets"))
        # A fixed place: "best" is searched for, slowly, on a busy machine.
        ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(target / f"{name}.png", dpi=100)


def _html(figures: FieldFigures, _: Translate) -> str:
    e = html.escape
    head = (
        "".join(
            f"<th>{e(_(h))}</th>"
            for h in (N_("Group"), N_("Tickets"), N_("Met"), N_("Breached"), N_("Pending"))
        )
        + f"<th>{e(_('Compliance'))}</th>"
    )

    def table(rows: tuple[FieldCompliance, ...]) -> str:
        body = "".join(
            f"<tr><td>{e(_group(r.group, _))}</td><td>{r.tickets}</td><td>{r.met}</td>"
            f"<td>{r.breached}</td><td>{r.pending}</td>"
            f"<td>{'–' if r.rate is None else f'{r.rate:.1%}'}</td></tr>"
            for r in rows
        )
        return f"<table><tr>{head}</tr>{body}</table>"

    plots = "".join(
        f'<figure><img src="{name}.png" alt="{e(_(title))}">'
        f"<figcaption>{e(_(title))}</figcaption></figure>"
        for name, title in PLOTS
    )
    sections = (
        (_("Arrival on site, by level"), figures.arrival_by_level),
        (_("Arrival on site, by distance"), figures.arrival_by_distance),
        (_("Spare-part delivery, by level"), figures.parts_by_level),
        (_("Spare-part delivery, by distance"), figures.parts_by_distance),
    )
    return (
        f'<h2 id="field-work">{e(_("Field work: arrival and spare parts"))}</h2>'
        + "".join(f"<h3>{e(title)}</h3>{table(rows)}" for title, rows in sections)
        + plots
    )
