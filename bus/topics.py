"""The bus topics, named in one place."""

from __future__ import annotations

SUPERVISORS = "supervisors"  # every supervisor console: live call list, health, outage
WALLBOARD = "wallboard"  # live wallboard snapshots
EMERGENCY = "emergency"  # emergency mode, paper numbers, backfill


def user_topic(username: str) -> str:
    """Messages for one console user: ringing, screen_pop, call_ended, paper_number …"""
    return f"user:{username}"
