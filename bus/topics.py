"""The bus topics, named in one place."""

from __future__ import annotations

SUPERVISORS = "supervisors"  # every supervisor console: live call list, health, outage
WALLBOARD = "wallboard"  # live wallboard snapshots
EMERGENCY = "emergency"  # emergency mode, paper numbers, backfill
# A ticket's level changed by an agent: {"type": "ticket_level", "ticket_number", "level"}
# (the on-call pager pages at once for level 1 instead of at its next pass).
TICKET_LEVELS = "ticket-levels"
SITES_CHANGED = "sites_changed"  # an import changed site records: every process reloads them


def user_topic(username: str) -> str:
    """Messages for one console user: ringing, screen_pop, call_ended, paper_number …"""
    return f"user:{username}"
