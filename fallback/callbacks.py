"""Calling back the callers an outage affected (回访): who they are, from the journal, and
ringing an agent's phone to reach one, each callback journaled."""

from __future__ import annotations

import logging

from calls.clock import Clock
from calls.control import CallControl
from calls.errors import CallControlError
from fallback.call_journal import CallJournal
from fallback.domain import backfill as bf
from fallback.domain.forms import phone_number, single_line
from fallback.errors import PbxError
from fallback.journal import EmergencyJournal
from fallback.records import CallbackTarget

log = logging.getLogger(__name__)


class OutageCallbacks:
    """The callback list and the callbacks; `context` is the dialplan context that dials
    the caller once the agent's phone answers."""

    def __init__(
        self,
        *,
        control: CallControl,
        journal: EmergencyJournal,
        calls: CallJournal,
        clock: Clock,
        context: str,
    ) -> None:
        self.control = control
        self.journal = journal
        self.calls = calls
        self.clock = clock
        self.context = single_line(context, "callback context")

    async def callback_list(self) -> list[CallbackTarget]:
        await self.calls.refresh()
        return bf.callback_targets(bf.fold(self.journal.records()))

    async def call_back(self, caller_number: str, *, interface: str, by: str) -> str:
        number = phone_number(caller_number)
        interface = single_line(interface, "agent interface", limit=200)
        by = single_line(by, "who calls back", limit=100)
        try:
            action_id = await self.control.originate(
                interface,
                context=self.context,
                exten=number,
                caller_id=f"Hotline callback <{number}>",
                variables={"HOTLINE_CALLBACK": number},
            )
        except CallControlError as exc:
            raise PbxError(f"callback to {number} via {interface}: {exc}") from exc
        await self.journal.append(
            {
                "kind": "callback",
                "caller_number": number,
                "interface": interface,
                "action_id": action_id,
                "by": by,
                "at": self.clock().isoformat(),
            }
        )
        log.info("callback to %s via %s by %s (action %s)", number, interface, by, action_id)
        return action_id
