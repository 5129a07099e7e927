"""Ticket numbers: human-quotable, unique across nodes, never reused.

`HL-20261121-0042` (day of opening + that day's sequence) and, when several controller
nodes share the work, a node suffix: `HL-20261121-0042-B`. The sequence comes from a
database counter that only ever goes up.
"""

from __future__ import annotations

import re
from datetime import date

from routing.errors import InvalidInput

PREFIX = "HL"
_NODE = re.compile(r"^[A-Z0-9]{1,8}$")
_NUMBER = re.compile(r"^HL-\d{8}-\d{4,}(-[A-Z0-9]{1,8})?$")


def check_node(node: str) -> str:
    """A node suffix: 1-8 upper-case letters or digits ("" = single node)."""
    if node and not _NODE.match(node):
        raise InvalidInput("node", "must be 1-8 upper-case letters or digits")
    return node


def counter_key(day: date) -> str:
    return f"{day:%Y%m%d}"


def ticket_number(day: date, sequence: int, node: str = "") -> str:
    if sequence < 1:
        raise InvalidInput("sequence", "starts at 1")
    suffix = f"-{check_node(node)}" if node else ""
    return f"{PREFIX}-{day:%Y%m%d}-{sequence:04d}{suffix}"


def looks_like_ticket_number(text: str) -> bool:
    return bool(_NUMBER.match(text.strip().upper()))
