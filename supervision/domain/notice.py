"""What a notice says: title and Markdown body for an action, built from the ticket's clocks.

The words come from the caller's `translate` (a gettext of the message catalogue, in the
notice language HOTLINE_LOCALE names); the messages are English ids marked with `N_` or
written as `_()` so scripts/catalogue finds them. Without a `translate` a notice is in
English.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from routing.domain.levels import FaultLevel
from supervision.domain.escalation import N_, Action, ActionKind
from supervision.domain.sla import ClockKind, ClockState, TicketSla

Translate = Callable[[str], str]

ROLE_LABELS: Mapping[str, str] = {
    "duty_engineer": N_("duty engineer"),
    "responsible_manager": N_("responsible manager"),
    "emergency_team": N_("emergency team"),
    "account_manager": N_("account manager"),
    "service_centre_head": N_("service-centre head"),
    "remote_expert": N_("remote expert"),
    "expert_group": N_("expert group"),
}

# The same level names the consoles show ("1 critical" is "1 紧急" in the catalogue).
LEVEL_NAMES: Mapping[FaultLevel, str] = {
    FaultLevel.P1: N_("1 critical"),
    FaultLevel.P2: N_("2 major"),
    FaultLevel.P3: N_("3 minor"),
    FaultLevel.P4: N_("4 consultation"),
}

LEVEL_WORDS: Mapping[FaultLevel, str] = {
    FaultLevel.P1: N_("critical"),
    FaultLevel.P2: N_("major"),
    FaultLevel.P3: N_("minor"),
    FaultLevel.P4: N_("consultation"),
}

_KIND_LABELS: Mapping[ActionKind, str] = {
    ActionKind.ESCALATION: N_("escalation"),
    ActionKind.PROGRESS_REPORT: N_("progress report"),
    ActionKind.BREACH: N_("SLA breach"),
    ActionKind.UNACKNOWLEDGED: N_("unacknowledged"),
}

_CLOCK_LABELS: Mapping[ClockState, str] = {
    ClockState.RUNNING: N_("running"),
    ClockState.PAUSED: N_("paused (waiting for customer)"),
    ClockState.MET: N_("met"),
    ClockState.BREACHED: N_("BREACHED"),
    ClockState.MET_LATE: N_("met late"),
}

_CLOCK_DUE: Mapping[ClockKind, str] = {
    ClockKind.RESPONSE: N_("Response due"),
    ClockKind.ONSITE: N_("On-site due"),
    ClockKind.PART_DECISION: N_("Part decision due"),
    ClockKind.PART_SHIPMENT: N_("Part shipment due"),
    ClockKind.PART_ARRIVAL: N_("Part arrival due"),
}


@dataclass(frozen=True, slots=True)
class NoticeText:
    title: str
    markdown: str  # Markdown body (DingTalk/WeCom render it; e-mail sends it as plain text)


def _as_is(message: str) -> str:
    return message


def describe_delta(delta: timedelta, translate: Translate | None = None) -> str:
    """`1 h 05 min` / `5 min` (in the notice's language); negative spans keep their sign."""
    _ = translate or _as_is
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    if hours:
        text = _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": rest // 60}
    else:
        text = _("%(minutes)d min") % {"minutes": rest // 60}
    return sign + text


def compose(
    action: Action,
    sla: TicketSla,
    now: datetime,
    *,
    zone: tzinfo,
    translate: Translate | None = None,
    ack_code: str | None = None,
    ack_url: str | None = None,
) -> NoticeText:
    """The notice of `action` for one recipient, in the language of `translate`."""
    _ = translate or _as_is
    ticket = sla.ticket
    level = _(LEVEL_NAMES[ticket.level])
    title = _("[P%(level)d %(name)s] %(kind)s: %(ticket)s") % {
        "level": int(ticket.level),
        "name": _(LEVEL_WORDS[ticket.level]),
        "kind": _(_KIND_LABELS[action.kind]),
        "ticket": ticket.number,
    }
    roles = _(", ").join(_(ROLE_LABELS[t]) if t in ROLE_LABELS else t for t in action.targets)
    site = ticket.site_name or ticket.site_code or _("unidentified site")
    if ticket.site_name and ticket.site_code:
        site = f"{site} ({ticket.site_code})"
    why = action.why.say(_) if action.why is not None else action.reason
    lines = [
        f"### {title}",
        _("- **Level**: %(level)s") % {"level": level},
        _("- **Site**: %(site)s") % {"site": site},
        _("- **Opened**: %(opened)s (%(active)s active)")
        % {
            "opened": f"{ticket.created_at.astimezone(zone):%Y-%m-%d %H:%M}",
            "active": describe_delta(sla.active_elapsed, _),
        },
        _("- **Why**: %(why)s") % {"why": why},
        _("- **For**: %(roles)s") % {"roles": roles},
    ]
    for clock in sla.clocks:
        state = _(_CLOCK_LABELS[clock.state])
        if clock.state is ClockState.RUNNING:
            state = _("%(state)s, %(left)s left") % {
                "state": state,
                "left": describe_delta(clock.remaining(now), _),
            }
        lines.append(
            _("- **%(clock)s** %(due)s: %(state)s")
            % {
                "clock": _(_CLOCK_DUE[clock.kind]),
                "due": f"{clock.due.astimezone(zone):%Y-%m-%d %H:%M}",
                "state": state,
            }
        )
    if ticket.description:
        lines.append(_("- **Fault**: %(fault)s") % {"fault": _one_line(ticket.description)})
    if ack_code is not None:
        link = f" [{ack_url}]({ack_url})" if ack_url else ""
        lines.append(_("- **Acknowledge**: code `%(code)s`") % {"code": ack_code} + link)
    return NoticeText(title=_one_line(title), markdown="\n".join(lines))


def _one_line(text: str) -> str:
    # Titles end up in mail headers and robot titles: never let CR/LF through.
    return " ".join(text.split())[:300]
