"""`calls.control.CallControl` spoken as AMI actions: queue membership and status,
redirects, originates, channel variables, AstDB and CLI commands. `AmiClient` sends them
(`send_action`) over its connection."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

from ami.actions import HeaderValue, variables_header
from ami.protocol import AmiMessage
from calls.control import QueueEntry, QueueMemberState, QueueSnapshot


@dataclass
class AmiResponse:
    """The response to one action, with the list events if it was a list action."""

    message: AmiMessage
    events: list[AmiMessage] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return self.message.response in ("Success", "Goodbye", "Follows")

    def get(self, key: str, default: str = "") -> str:
        return self.message.get(key, default)


class PbxCommands(ABC):
    """The call-control commands; a connection provides `send_action` and the time an
    action may take (`action_timeout`, seconds)."""

    action_timeout: float

    @abstractmethod
    async def send_action(
        self,
        name: str,
        headers: Mapping[str, HeaderValue] | None = None,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> AmiResponse: ...

    async def queue_add(
        self,
        queue: str,
        interface: str,
        *,
        member_name: str | None = None,
        penalty: int = 0,
        paused: bool = False,
        state_interface: str | None = None,
    ) -> None:
        headers: dict[str, HeaderValue] = {
            "Queue": queue,
            "Interface": interface,
            "Penalty": penalty,
            "Paused": paused,
        }
        if member_name:
            headers["MemberName"] = member_name
        if state_interface:
            headers["StateInterface"] = state_interface
        await self.send_action("QueueAdd", headers)

    async def queue_remove(self, queue: str, interface: str) -> None:
        await self.send_action("QueueRemove", {"Queue": queue, "Interface": interface})

    async def queue_pause(
        self, interface: str, paused: bool, *, queue: str | None = None, reason: str = ""
    ) -> None:
        headers: dict[str, HeaderValue] = {"Interface": interface, "Paused": paused}
        if queue:
            headers["Queue"] = queue
        if reason:
            headers["Reason"] = reason
        await self.send_action("QueuePause", headers)

    async def queue_status(self, queue: str | None = None) -> QueueSnapshot:
        response = await self.send_action("QueueStatus", {"Queue": queue} if queue else {})
        members: list[QueueMemberState] = []
        entries: list[QueueEntry] = []
        for m in response.events:
            get = m.get
            if m.event == "QueueMember":
                members.append(
                    QueueMemberState(
                        queue=get("Queue"),
                        name=get("Name"),
                        interface=get("StateInterface") or get("Location"),
                        paused=get("Paused") == "1",
                        in_call=get("InCall") == "1",
                        status=_int(get("Status")),
                    )
                )
            elif m.event == "QueueEntry":
                entries.append(
                    QueueEntry(
                        queue=get("Queue"),
                        position=_int(get("Position")),
                        channel=get("Channel"),
                        uniqueid=get("Uniqueid"),
                        linkedid=get("Linkedid") or get("Uniqueid"),
                        caller_number=get("CallerIDNum"),
                        caller_name=get("CallerIDName"),
                        wait_seconds=_int(get("Wait")),
                        priority=_int(get("Priority")),
                    )
                )
        entries.sort(key=lambda e: (e.queue, e.position))
        return QueueSnapshot(tuple(members), tuple(entries))

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        await self.send_action(
            "Redirect",
            {"Channel": channel, "Context": context, "Exten": exten, "Priority": priority},
        )

    async def originate(
        self,
        channel: str,
        *,
        context: str,
        exten: str,
        priority: int = 1,
        caller_id: str | None = None,
        timeout_ms: int = 30000,
        variables: Mapping[str, str] | None = None,
        async_: bool = True,
    ) -> str:
        headers: dict[str, HeaderValue] = {
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": priority,
            "Timeout": timeout_ms,
            "Async": async_,
        }
        if caller_id:
            headers["CallerID"] = caller_id
        if variables:
            headers["Variable"] = variables_header(variables)
        response = await self.send_action(
            "Originate",
            headers,
            timeout=None if async_ else timeout_ms / 1000 + self.action_timeout,
        )
        return response.get("ActionID")

    async def setvar(self, variable: str, value: str, *, channel: str | None = None) -> None:
        headers: dict[str, HeaderValue] = {"Variable": variable, "Value": value}
        if channel:
            headers["Channel"] = channel
        await self.send_action("Setvar", headers)

    async def getvar(self, variable: str, *, channel: str | None = None) -> str | None:
        headers: dict[str, HeaderValue] = {"Variable": variable}
        if channel:
            headers["Channel"] = channel
        response = await self.send_action("Getvar", headers)
        return response.get("Value") or None

    async def db_put(self, family: str, key: str, value: str) -> None:
        await self.send_action("DBPut", {"Family": family, "Key": key, "Val": value})

    async def db_get(self, family: str, key: str) -> str | None:
        response = await self.send_action("DBGet", {"Family": family, "Key": key}, check=False)
        if response.message.response == "Error":
            return None  # Asterisk answers a missing key with a plain Error
        for m in response.events:
            if m.event == "DBGetResponse":
                return m.get("Val")
        return None

    async def db_del(self, family: str, key: str) -> None:
        await self.send_action("DBDel", {"Family": family, "Key": key})

    async def user_event(self, name: str, headers: Mapping[str, str]) -> None:
        await self.send_action("UserEvent", {"UserEvent": name, **headers})

    async def command(self, command: str) -> list[str]:
        response = await self.send_action("Command", {"Command": command})
        return response.message.getall("Output")


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0
