"""The access audit trail (written by the console and the user commands, stored by
`storage.audit`): what is recorded, as plain values.

One `AuditEntry` per log-in (success or failure), log-out, user change, emergency flip,
backfill entry and SLA pause: who (`actor`), when, from which client address, and
details (user agent, the user changed, the reason...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class AuditAction(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGIN_THROTTLED = "login_throttled"
    LOGOUT = "logout"
    LOGOUT_EVERYWHERE = "logout_everywhere"
    USER_ADDED = "user_added"
    USER_PASSWORD = "user_password"
    PASSWORD_REFUSED = "password_refused"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    USER_ROLE = "user_role"
    WALLBOARD_TOKEN = "wallboard_token"
    EMERGENCY = "emergency"
    BACKFILL = "backfill"
    BACKFILL_WAIVED = "backfill_waived"
    SLA_PAUSE = "sla_pause"
    SLA_RESUME = "sla_resume"
    ONCALL_SWAP = "oncall_swap"
    ONCALL_ACK = "oncall_ack"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    client: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "client": self.client,
            "detail": dict(self.detail),
        }


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    limit: int = 100
