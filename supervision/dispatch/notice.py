"""What the engineer's dispatch notice says, in the desk's language: ticket, site,
address, distance, contact, fault and the personal check-in link."""

from __future__ import annotations

from dataclasses import dataclass

from routing.domain.levels import LEVEL_LABELS, FaultLevel
from routing.records import SiteRecord, Ticket
from supervision.dispatch.ports import DispatchRecord
from translations import translator


@dataclass(frozen=True, slots=True)
class DispatchNoticeText:
    title: str  # one line: mail subject, robot title, SMS text
    markdown: str


def compose_dispatch_notice(
    ticket: Ticket,
    site: SiteRecord | None,
    record: DispatchRecord,
    checkin_url: str,
    language: str,
) -> DispatchNoticeText:
    _ = translator(language).gettext
    level = FaultLevel.parse(ticket.level)
    label = LEVEL_LABELS[level][0 if language == "zh-CN" else 1]
    where = site.site_name if site is not None else (ticket.site_code or _("unidentified site"))
    title = _("Dispatch P%(level)d %(label)s: ticket %(number)s, %(site)s") % {
        "level": int(level),
        "label": label,
        "number": ticket.number,
        "site": where,
    }
    contact = ticket.contact_name or (site.contacts[0].name if site and site.contacts else "")
    phone = ticket.contact_phone or (site.contacts[0].phone if site and site.contacts else "")
    rows = [
        (_("Ticket"), ticket.number),
        (_("Site"), f"{where} ({ticket.site_code})" if ticket.site_code else where),
        (_("Address"), site.address if site is not None else ""),
        (
            _("Distance"),
            _("%(km)s km") % {"km": f"{site.distance_km:g}"}
            if site is not None and site.distance_km is not None
            else "",
        ),
        (_("Contact"), " ".join(p for p in (contact, phone or ticket.caller_number) if p)),
        (_("Fault"), " ".join(ticket.description.split())[:500]),
        (_("Engineer"), record.engineer),
        (_("Check in"), checkin_url),
    ]
    lines = [f"### {_one_line(title)}"]
    lines += [f"- **{name}**: {_one_line(value)}" for name, value in rows if value]
    return DispatchNoticeText(_one_line(title), "\n".join(lines))


def _one_line(text: str) -> str:
    # Titles reach mail headers and robot titles: never let CR/LF through.
    return " ".join(text.split())[:300]
