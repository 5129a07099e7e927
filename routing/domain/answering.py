"""What answering a call does to its ticket: one rule for the ticket service (which writes
it) and the screen-pop (which shows the ticket as answered without waiting for the write).
"""

from __future__ import annotations

from datetime import datetime

# Statuses an answer moves to "in_progress" (TicketStatus values).
STARTS_WORK = frozenset({"open", "callback_due"})


def answered_changes(
    *,
    status: str,
    duty_agent: str,
    responded_at: datetime | None,
    agent: str | None,
    at: datetime,
) -> dict[str, object]:
    """Field changes when `agent` answers at `at`: work starts, the first answering agent
    becomes the duty agent, the first answer is the response time. Empty if nothing moves."""
    changes: dict[str, object] = {}
    if status in STARTS_WORK:
        changes["status"] = "in_progress"
    if agent and not duty_agent:
        changes["duty_agent"] = agent
    if responded_at is None:
        changes["responded_at"] = at
    return changes
