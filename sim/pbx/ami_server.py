"""Asyncio TCP AMI server that answers like Asterisk 22 (`Asterisk Call Manager/11.0.0`).

Each client gets its own outgoing buffer drained by its own writer task, so a slow or hung
client never stalls the simulation: events are queued, and a client whose backlog grows
past `max_backlog` messages is disconnected (Asterisk drops such clients too).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from pbx.domain.events import (
    Header,
    channel_block,
    list_complete,
    list_start,
    queue_member_item,
    response,
    with_action_id,
)
from pbx.domain.wire import BANNER, Action, ActionDecoder, encode_message
from pbx.errors import UnknownChannel
from pbx.mixmonitor import option_value
from pbx.simulation import OriginateSpec, SimChannel, Simulation

log = logging.getLogger(__name__)

VERSION_LINE = (
    "Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on 2026-11-21 23:19:07 UTC"
)
_session_ids = itertools.count(0x7FF750001000, 0x4B0)


def _tv(epoch: float) -> str:
    stamp = datetime.fromtimestamp(epoch, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("true", "yes", "1", "on", "y", "t")


def _duration(seconds: float) -> str:
    total = max(int(seconds), 0)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


class AmiSession:
    """One client connection."""

    def __init__(
        self,
        server: AmiServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.authenticated = False
        self.events = True
        self.username = ""
        self.session_id = f"0x{next(_session_ids):x}"
        self.session_tv = _tv(time.time())
        self.closing = False
        self._out: deque[bytes] = deque()
        self._has_output = asyncio.Event()
        sock = writer.get_extra_info("sockname")
        peer = writer.get_extra_info("peername")
        self.local = f"IPV4/TCP/{sock[0]}/{sock[1]}" if sock else "IPV4/TCP/0.0.0.0/0"
        self.remote = f"IPV4/TCP/{peer[0]}/{peer[1]}" if peer else "IPV4/TCP/0.0.0.0/0"

    # ---------------------------------------------------------------- output
    def send(self, headers: list[Header]) -> None:
        self.send_raw(encode_message(headers))

    def send_raw(self, data: bytes) -> None:
        if self.closing:
            return
        if len(self._out) >= self.server.max_backlog:
            log.warning(
                "AMI client %s too slow (%d queued), disconnecting", self.remote, len(self._out)
            )
            self.abort()
            return
        self._out.append(data)
        self._has_output.set()

    def event(self, headers: list[Header]) -> None:
        if self.authenticated and self.events:
            self.send(headers)

    def event_raw(self, data: bytes) -> None:
        if self.authenticated and self.events:
            self.send_raw(data)

    async def writer_loop(self) -> None:
        try:
            while True:
                await self._has_output.wait()
                await self.server.unfrozen.wait()
                while self._out:
                    chunk = b"".join(self._out)
                    self._out.clear()
                    self.writer.write(chunk)
                    await self.writer.drain()
                    await self.server.unfrozen.wait()
                self._has_output.clear()
                if self.closing:
                    break
        except (ConnectionError, OSError):
            pass

    def close_after_flush(self) -> None:
        """Stop taking output; the writer sends what is queued, then the connection ends."""
        self.closing = True
        self._has_output.set()

    def abort(self) -> None:
        """Close with TCP RST (SO_LINGER 0), like a killed peer."""
        self.closing = True
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


class AmiServer:
    def __init__(
        self,
        sim: Simulation,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "hotline",
        secret: str = "hotline-secret",
        auth_failure_delay: float = 1.0,
        max_backlog: int = 50_000,
        read: str = "all",
    ) -> None:
        self.sim = sim
        wanted = {c.strip().lower() for c in read.split(",") if c.strip()}
        self.read_classes: set[str] | None = None if "all" in wanted else wanted
        self.host = host
        self.port = port
        self.username = username
        self.secret = secret
        self.auth_failure_delay = auth_failure_delay
        self.max_backlog = max_backlog
        self.sessions: set[AmiSession] = set()
        self.unfrozen = asyncio.Event()
        self.unfrozen.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._handlers: dict[str, Callable[[AmiSession, Action], None]] = {
            "ping": self._ping,
            "command": self._command,
            "events": self._events,
            "queueadd": self._queue_add,
            "queueremove": self._queue_remove,
            "queuepause": self._queue_pause,
            "queuestatus": self._queue_status,
            "queuesummary": self._queue_summary,
            "coreshowchannels": self._core_show_channels,
            "status": self._status,
            "bridgelist": self._bridge_list,
            "redirect": self._redirect,
            "setvar": self._setvar,
            "getvar": self._getvar,
            "dbput": self._db_put,
            "dbget": self._db_get,
            "dbdel": self._db_del,
            "dbdeltree": self._db_deltree,
            "userevent": self._user_event,
            "hangup": self._hangup,
            "corestatus": self._core_status,
            "mixmonitor": self._mixmonitor,
            "stopmixmonitor": self._stop_mixmonitor,
        }
        sim.add_sink(self.broadcast)

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("AMI stand-in listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            session.closing = True
            session.writer.transport.abort()
        tasks = list(self._tasks)
        if tasks:
            # Aborted transports end the connection handlers; cancel only stragglers.
            _done, pending = await asyncio.wait(tasks, timeout=2.0)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        self._server = None

    def broadcast(self, headers: list[Header]) -> None:
        if not self.sessions:
            return
        if self.read_classes is not None:
            # manager.conf `read =`: an event is sent when one of its classes is readable
            privilege = next((v for k, v in headers if k == "Privilege"), "")
            classes = {c.strip().lower() for c in privilege.split(",")} - {"all"}
            if classes and not classes & self.read_classes:
                return
        data = encode_message(headers)  # once, whatever the number of clients
        for session in list(self.sessions):
            session.event_raw(data)

    def cut_clients(self) -> None:
        for session in list(self.sessions):
            session.abort()

    def freeze(self, frozen: bool) -> None:
        if frozen:
            self.unfrozen.clear()
        else:
            self.unfrozen.set()

    def _track(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- connection
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        session = AmiSession(self, reader, writer)
        self.sessions.add(session)
        writer_task = asyncio.ensure_future(session.writer_loop())
        session.send_raw(BANNER)
        decoder = ActionDecoder()
        try:
            while not session.closing:
                await self.unfrozen.wait()
                data = await reader.read(65536)
                if not data:
                    break
                await self.unfrozen.wait()
                for action in decoder.feed(data):
                    if session.closing:
                        break
                    await self._dispatch(session, action)
        except (ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            # Only stop() cancels us; end quietly (a re-raise would be logged by asyncio's
            # client_connected_cb wrapper as an "Exception in callback").
            session.closing = True
            writer_task.cancel()
            self.sessions.discard(session)
            return
        finally:
            self.sessions.discard(session)
        # Let queued replies (Goodbye, Authentication failed) reach the client, then close.
        session.close_after_flush()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer_task, 5.0)
        writer_task.cancel()
        with contextlib.suppress(Exception):
            writer.close()
            await writer.wait_closed()

    async def _dispatch(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        name = action.name.strip().lower()
        if action.tainted:
            session.send(response("Error", aid, message="Header value contains CR or LF"))
            return
        if not name:
            session.send(response("Error", aid, message="Missing action in request"))
            return
        if name == "login":
            await self._login(session, action)
            return
        if name == "logoff":
            session.send(response("Goodbye", aid, message="Thanks for all the fish."))
            session.closing = True
            return
        if not session.authenticated:
            session.send(response("Error", aid, message="Permission denied"))
            return
        if name == "originate":
            self._originate(session, action)
            return
        handler = self._handlers.get(name)
        if handler is None:
            session.send(
                response(
                    "Error",
                    aid,
                    message=f"Invalid/unknown command: {action.name}. "
                    "Use Action: ListCommands to show available commands.",
                )
            )
            self._security_event(
                session,
                "RequestBadFormat",
                "Error",
                ("RequestType", f"Action: {action.name}"),
                ("SessionTV", session.session_tv),
                ("AccountID", session.username),
                with_session_tv=False,
            )
            return
        handler(session, action)

    def _security_event(
        self,
        session: AmiSession,
        event: str,
        severity: str,
        *extra: Header,
        with_session_tv: bool = True,
    ) -> None:
        headers: list[Header] = [
            ("Event", event),
            ("Privilege", "security,all"),
            ("EventTV", _tv(time.time())),
            ("Severity", severity),
            ("Service", "AMI"),
            ("EventVersion", "1"),
        ]
        headers += list(extra[:1]) if event == "SuccessfulAuth" else []
        headers += [
            ("SessionID", session.session_id),
            ("LocalAddress", session.local),
            ("RemoteAddress", session.remote),
        ]
        headers += list(extra[1:]) if event == "SuccessfulAuth" else list(extra)
        if with_session_tv:
            headers.append(("SessionTV", session.session_tv))
        self.broadcast(headers)

    async def _login(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        user = action.get("Username")
        if user == self.username and action.get("Secret") == self.secret:
            session.authenticated = True
            session.username = user
            events = action.get("Events", "on").strip().lower()
            session.events = events not in ("off", "no", "false", "0", "none")
            session.send(response("Success", aid, message="Authentication accepted"))
            session.event(
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", str(self.sim.uptime())),
                    ("LastReload", str(self.sim.uptime())),
                    ("Status", "Fully Booted"),
                ]
            )
            self._security_event(
                session,
                "SuccessfulAuth",
                "Informational",
                ("AccountID", user),
                ("UsingPassword", "0"),
            )
            log.info("AMI login from %s", session.remote)
            return
        log.info("AMI login failed for %r from %s", user, session.remote)
        await asyncio.sleep(self.auth_failure_delay)
        session.send(response("Error", aid, message="Authentication failed"))
        session.closing = True

    # ---------------------------------------------------------------- simple actions
    def _ping(self, session: AmiSession, action: Action) -> None:
        session.send(
            response(
                "Success",
                action.action_id,
                ("Ping", "Pong"),
                ("Timestamp", f"{time.time():.6f}"),
            )
        )

    def _events(self, session: AmiSession, action: Action) -> None:
        mask = action.get("EventMask", "on").strip().lower()
        session.events = mask not in ("off", "no", "false", "0", "none")
        session.send(
            response("Success", action.action_id, ("Events", "On" if session.events else "Off"))
        )

    def _core_status(self, session: AmiSession, action: Action) -> None:
        started = datetime.fromtimestamp(self.sim.started_at, UTC)
        session.send(
            response(
                "Success",
                action.action_id,
                ("Message", "Core Status"),
                ("CoreStartupDate", started.strftime("%Y-%m-%d")),
                ("CoreStartupTime", started.strftime("%H:%M:%S")),
                ("CoreReloadDate", started.strftime("%Y-%m-%d")),
                ("CoreReloadTime", started.strftime("%H:%M:%S")),
                ("CoreCurrentCalls", str(len(self.sim.channels))),
                ("CoreProcessedCalls", str(len(self.sim.calls))),
            )
        )

    def _command(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        command = " ".join(action.get("Command").split())
        lines: list[str]
        status = "Success"
        if command == "core show version":
            lines = [VERSION_LINE]
        elif command == "core show uptime":
            up = self.sim.uptime()
            lines = [f"System uptime: {up} seconds", f"Last reload: {up} seconds"]
        elif command == "core show channels":
            lines = ["Channel              Location             State   Application(Data)"]
            for ch in self.sim.channels.values():
                lines.append(
                    f"{ch.name:<20} {ch.exten}@{ch.context}:{ch.priority} "
                    f"{ch.state.desc:<7} {ch.application}({ch.app_data})"
                )
            lines.append(f"{len(self.sim.channels)} active channels")
        elif command.startswith("database get "):
            parts = command.split(" ")
            value = self.sim.astdb.get("/".join(parts[2:4])) if len(parts) >= 4 else None
            lines = [f"Value: {value}"] if value is not None else ["Database entry not found."]
        else:
            status = "Error"
            first = " ".join(command.split(" ")[:2])
            lines = [
                f"No such command '{command}' (type 'core show help {first}' "
                "for other possible commands)"
            ]
        session.send(
            response(
                status,
                aid,
                *[("Output", line) for line in lines],
                message="Command output follows",
            )
        )

    def _user_event(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        name = action.get("UserEvent")
        session.send(response("Success", aid, message="Event Sent"))
        headers: list[Header] = [("Event", "UserEvent"), ("Privilege", "user,all")]
        headers.append(("UserEvent", name))
        if aid is not None:
            headers.append(("ActionID", aid))
        skip = {"action", "userevent", "actionid"}
        headers += [(k, v) for k, v in action.headers if k.lower() not in skip]
        self.broadcast(headers)

    # ---------------------------------------------------------------- queues
    def _queue_add(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        queue = action.get("Queue")
        interface = action.get("Interface")
        if not queue:
            session.send(response("Error", aid, message="'Queue' not specified."))
            return
        if not interface:
            session.send(response("Error", aid, message="'Interface' not specified."))
            return
        try:
            penalty = int(action.get("Penalty", "0") or "0")
        except ValueError:
            session.send(response("Error", aid, message="Penalty must be an integer"))
            return
        if queue not in self.sim.queues:
            session.send(
                response("Error", aid, message="Unable to add interface to queue: No such queue")
            )
            return
        if interface in self.sim.queues[queue].members:
            session.send(response("Error", aid, message="Unable to add interface: Already there"))
            return
        session.send(response("Success", aid, message="Added interface to queue"))
        self.sim.queue_add(
            queue,
            interface,
            member_name=action.get("MemberName"),
            state_interface=action.get("StateInterface"),
            penalty=penalty,
            paused=_truthy(action.get("Paused", "false")),
            reason=action.get("Reason"),
        )

    def _queue_remove(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        queue = action.get("Queue")
        interface = action.get("Interface")
        if not queue or not interface:
            session.send(response("Error", aid, message="Need 'Queue' and 'Interface' parameters."))
            return
        if queue not in self.sim.queues:
            session.send(
                response(
                    "Error", aid, message="Unable to remove interface from queue: No such queue"
                )
            )
            return
        if interface not in self.sim.queues[queue].members:
            session.send(response("Error", aid, message="Unable to remove interface: Not there"))
            return
        session.send(response("Success", aid, message="Removed interface from queue"))
        self.sim.queue_remove(queue, interface)

    def _queue_pause(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        interface = action.get("Interface")
        if not interface or not action.has("Paused"):
            session.send(
                response("Error", aid, message="Need 'Interface' and 'Paused' parameters.")
            )
            return
        paused = _truthy(action.get("Paused"))
        queue = action.get("Queue") or None
        members = [
            q.members[interface]
            for q in self.sim.queues.values()
            if interface in q.members and (queue is None or q.name == queue)
        ]
        if not members:
            session.send(response("Error", aid, message="Interface not found"))
            return
        # Asterisk sends the member events before its reply (see e-actions.txt).
        self.sim.queue_pause(interface, paused, queue_name=queue, reason=action.get("Reason"))
        message = "Interface paused successfully" if paused else "Interface unpaused successfully"
        session.send(response("Success", aid, message=message))

    def _queue_status(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        wanted = action.get("Queue") or None
        member_filter = action.get("Member") or None
        session.send(list_start(aid, "Queue status will follow"))
        count = 0
        now = self.sim.clock.now()
        for name in sorted(self.sim.queues):
            if wanted is not None and name != wanted:
                continue
            q = self.sim.queues[name]
            session.send(
                with_action_id(
                    [
                        ("Event", "QueueParams"),
                        ("Queue", name),
                        ("Max", str(q.config.max_len)),
                        ("Strategy", q.config.strategy.value),
                        ("Calls", str(len(q.entries))),
                        ("Holdtime", str(q.holdtime)),
                        ("TalkTime", str(q.talktime)),
                        ("Completed", str(q.completed)),
                        ("Abandoned", str(q.abandoned)),
                        ("ServiceLevel", "0"),
                        ("ServicelevelPerf", "0.0"),
                        ("ServicelevelPerf2", "0.0"),
                        ("Weight", "0"),
                    ],
                    aid,
                )
            )
            count += 1
            for member in q.members.values():
                if member_filter is not None and member.interface != member_filter:
                    continue
                session.send(queue_member_item(self.sim.member_snapshot(member), aid))
                count += 1
            for position, entry in enumerate(q.entries, start=1):
                ch = entry.channel
                session.send(
                    with_action_id(
                        [
                            ("Event", "QueueEntry"),
                            ("Queue", name),
                            ("Position", str(position)),
                            ("Channel", ch.name),
                            ("Uniqueid", ch.uniqueid),
                            ("CallerIDNum", ch.caller_num or "<unknown>"),
                            ("CallerIDName", ch.caller_name or "<unknown>"),
                            ("ConnectedLineNum", ch.connected_num or "<unknown>"),
                            ("ConnectedLineName", ch.connected_name or "<unknown>"),
                            ("Wait", str(int(now - entry.joined_at))),
                            ("Priority", str(entry.priority)),
                        ],
                        aid,
                    )
                )
                count += 1
        session.send(list_complete("QueueStatusComplete", aid, count))

    def _queue_summary(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        wanted = action.get("Queue") or None
        session.send(list_start(aid, "Queue summary will follow"))
        count = 0
        now = self.sim.clock.now()
        for name in sorted(self.sim.queues):
            if wanted is not None and name != wanted:
                continue
            q = self.sim.queues[name]
            available = sum(
                1
                for m in q.members.values()
                if not m.paused
                and not m.in_call
                and name in self.sim.queues
                and self.sim.member_snapshot(m).status == 1
            )
            longest = max((int(now - e.joined_at) for e in q.entries), default=0)
            session.send(
                with_action_id(
                    [
                        ("Event", "QueueSummary"),
                        ("Queue", name),
                        ("LoggedIn", str(len(q.members))),
                        ("Available", str(available)),
                        ("Callers", str(len(q.entries))),
                        ("HoldTime", str(q.holdtime)),
                        ("TalkTime", str(q.talktime)),
                        ("LongestHoldTime", str(longest)),
                    ],
                    aid,
                )
            )
            count += 1
        session.send(list_complete("QueueSummaryComplete", aid, count))

    # ---------------------------------------------------------------- channels
    def _core_show_channels(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        session.send(list_start(aid, "Channels will follow"))
        now = self.sim.clock.now()
        count = 0
        for ch in list(self.sim.channels.values()):
            headers: list[Header] = [("Event", "CoreShowChannel")]
            if aid is not None:
                headers.append(("ActionID", aid))
            headers += channel_block(ch.snapshot())
            headers += [
                ("Application", ch.application),
                ("ApplicationData", ch.app_data),
                ("Duration", _duration(now - ch.created_at)),
                ("BridgeId", ch.bridge_id),
            ]
            session.send(headers)
            count += 1
        session.send(list_complete("CoreShowChannelsComplete", aid, count))

    def _status_item(self, ch: SimChannel, variables: list[str], aid: str | None) -> list[Header]:
        now = self.sim.clock.now()
        fmt = "slin" if ch.tech == "Local" else "ulaw"
        headers: list[Header] = [("Event", "Status"), ("Privilege", "Call")]
        headers += channel_block(ch.snapshot())
        headers += [
            ("Type", ch.tech),
            ("DNID", ch.dnid),
            ("EffectiveConnectedLineNum", ch.connected_num or "<unknown>"),
            ("EffectiveConnectedLineName", ch.connected_name or "<unknown>"),
            ("TimeToHangup", "0"),
            ("BridgeID", ch.bridge_id),
            ("Application", ch.application),
            ("Data", ch.app_data),
            ("Nativeformats", f"({fmt})"),
            ("Readformat", fmt),
            ("Readtrans", ""),
            ("Writeformat", fmt),
            ("Writetrans", ""),
            ("Callgroup", "0"),
            ("Pickupgroup", "0"),
            ("Seconds", str(int(now - ch.created_at))),
        ]
        for name in variables:
            value = self.sim.read_variable(ch, name) or ""
            headers.append(("Variable", f"{name}={value}"))
        return with_action_id(headers, aid)

    def _status(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        name = action.get("Channel")
        variables = [v.strip() for v in action.get("Variables").split(",") if v.strip()]
        if name and not action.get("AllVariables"):
            try:
                chans = [self.sim.find_channel(name)]
            except UnknownChannel:
                session.send(response("Error", aid, message="No such channel"))
                return
        else:
            chans = list(self.sim.channels.values())
        session.send(list_start(aid, "Channel status will follow"))
        for ch in chans:
            session.send(self._status_item(ch, variables, aid))
        session.send(list_complete("StatusComplete", aid, len(chans), ("Items", str(len(chans)))))

    def _bridge_list(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        session.send(list_start(aid, "Bridge listing will follow"))
        count = 0
        for bridge in list(self.sim.bridges.values()):
            headers: list[Header] = [("Event", "BridgeListItem")]
            if aid is not None:
                headers.append(("ActionID", aid))
            snap = bridge.snapshot()
            headers += [
                ("BridgeUniqueid", snap.uniqueid),
                ("BridgeType", "basic"),
                ("BridgeTechnology", "native_rtp"),
                ("BridgeCreator", "<unknown>"),
                ("BridgeName", "<unknown>"),
                ("BridgeNumChannels", str(snap.num_channels)),
                ("BridgeVideoSourceMode", "none"),
            ]
            session.send(headers)
            count += 1
        session.send(list_complete("BridgeListComplete", aid, count))

    def _redirect(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        name = action.get("Channel")
        if not name:
            session.send(response("Error", aid, message="Channel not specified"))
            return
        context = action.get("Context")
        exten = action.get("Exten")
        try:
            priority = int(action.get("Priority", "1") or "1")
        except ValueError:
            session.send(response("Error", aid, message="Invalid priority"))
            return
        try:
            self.sim.request_redirect(name, context, exten, priority)
        except UnknownChannel:
            session.send(response("Error", aid, message=f"Channel does not exist: {name}"))
            return
        session.send(response("Success", aid, message="Redirect successful"))

    def _hangup(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        name = action.get("Channel")
        if not name:
            session.send(response("Error", aid, message="No channel specified"))
            return
        try:
            cause = int(action.get("Cause", "16") or "16")
        except ValueError:
            cause = 16
        if name not in self.sim.channels:
            session.send(response("Error", aid, message="No such channel"))
            return
        session.send(response("Success", aid, message="Channel Hungup"))
        self.sim.request_hangup(name, cause)

    def _monitor_channel(self, session: AmiSession, action: Action) -> SimChannel | None:
        """The live channel a (Stop)MixMonitor action names; None after answering the
        error app_mixmonitor gives for a missing or unknown channel."""
        name = action.get("Channel")
        if not name:
            session.send(response("Error", action.action_id, message="No channel specified"))
            return None
        chan = self.sim.channels.get(name)
        if chan is None or chan.gone:
            session.send(response("Error", action.action_id, message="No such channel"))
            return None
        return chan

    def _mixmonitor(self, session: AmiSession, action: Action) -> None:
        """manager_mixmonitor(): `File,Options,Command` run as the application would."""
        aid = action.action_id
        chan = self._monitor_channel(session, action)
        if chan is None:
            return
        data = f"{action.get('File')},{action.get('Options')},{action.get('Command')}"
        if self.sim.mixmonitors.start(chan, data) is None:
            session.send(response("Error", aid, message="Could not start monitoring channel"))
            return
        extra: list[Header] = []
        monitor_id = self.sim.mixmonitors.monitor_id(chan)
        if option_value(action.get("Options"), "i") and monitor_id:
            extra.append(("MixMonitorID", monitor_id))
        session.send(response("Success", aid, *extra))

    def _stop_mixmonitor(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        chan = self._monitor_channel(session, action)
        if chan is None:
            return
        if not self.sim.mixmonitors.stop(chan):
            session.send(response("Error", aid, message="Could not stop monitoring channel"))
            return
        session.send(response("Success", aid))

    def _setvar(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        variable = action.get("Variable")
        if not variable:
            session.send(response("Error", aid, message="No variable specified"))
            return
        name = action.get("Channel")
        chan = None
        if name:
            try:
                chan = self.sim.find_channel(name)
            except UnknownChannel:
                session.send(response("Error", aid, message="No such channel"))
                return
        session.send(response("Success", aid, message="Variable Set"))
        self.sim.write_variable(chan, variable, action.get("Value"))

    def _getvar(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        variable = action.get("Variable")
        if not variable:
            session.send(response("Error", aid, message="No variable specified"))
            return
        name = action.get("Channel")
        chan = None
        if name:
            try:
                chan = self.sim.find_channel(name)
            except UnknownChannel:
                session.send(response("Error", aid, message="No such channel"))
                return
        value = self.sim.read_variable(chan, variable) or ""
        session.send(response("Success", aid, ("Variable", variable), ("Value", value)))

    # ---------------------------------------------------------------- AstDB
    def _db_put(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        family, key = action.get("Family"), action.get("Key")
        if not family:
            session.send(response("Error", aid, message="No family specified"))
            return
        if not key:
            session.send(response("Error", aid, message="No key specified"))
            return
        self.sim.astdb[f"{family}/{key}"] = action.get("Val")
        session.send(response("Success", aid, message="Updated database successfully"))

    def _db_get(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        family, key = action.get("Family"), action.get("Key")
        if not family:
            session.send(response("Error", aid, message="No family specified."))
            return
        if not key:
            session.send(response("Error", aid, message="No key specified."))
            return
        value = self.sim.astdb.get(f"{family}/{key}")
        if value is None:
            session.send(response("Error", aid, message="Database entry not found"))
            return
        session.send(list_start(aid, "Result will follow"))
        session.send(
            with_action_id(
                [("Event", "DBGetResponse"), ("Family", family), ("Key", key), ("Val", value)],
                aid,
            )
        )
        session.send(list_complete("DBGetComplete", aid, 1))

    def _db_del(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        family, key = action.get("Family"), action.get("Key")
        if not family:
            session.send(response("Error", aid, message="No family specified."))
            return
        if not key:
            session.send(response("Error", aid, message="No key specified."))
            return
        if self.sim.astdb.pop(f"{family}/{key}", None) is None:
            session.send(response("Error", aid, message="Database entry could not be deleted"))
            return
        session.send(response("Success", aid, message="Key deleted successfully"))

    def _db_deltree(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        family, key = action.get("Family"), action.get("Key")
        if not family:
            session.send(response("Error", aid, message="No family specified."))
            return
        prefix = f"{family}/{key}" if key else family
        doomed = [k for k in self.sim.astdb if k == prefix or k.startswith(prefix + "/")]
        if not doomed:
            session.send(response("Error", aid, message="Database entry could not be deleted"))
            return
        for k in doomed:
            del self.sim.astdb[k]
        session.send(response("Success", aid, message="Key tree deleted successfully"))

    # ---------------------------------------------------------------- originate
    def _originate(self, session: AmiSession, action: Action) -> None:
        aid = action.action_id
        channel = action.get("Channel")
        if not channel:
            session.send(response("Error", aid, message="Channel not specified"))
            return
        try:
            timeout_ms = int(action.get("Timeout", "30000") or "30000")
            priority = int(action.get("Priority", "1") or "1")
        except ValueError:
            session.send(response("Error", aid, message="Invalid timeout or priority"))
            return
        variables: list[tuple[str, str]] = []
        for item in action.get_all("Variable"):
            for part in item.split(","):
                name, sep, value = part.partition("=")
                if sep and name.strip():
                    variables.append((name.strip(), value))
        spec = OriginateSpec(
            channel=channel,
            context=action.get("Context"),
            exten=action.get("Exten"),
            priority=priority,
            application=action.get("Application"),
            data=action.get("Data"),
            timeout=timeout_ms / 1000.0,
            caller_id=action.get("CallerID"),
            variables=tuple(variables),
            action_id=aid,
        )
        asynchronous = _truthy(action.get("Async", "false"))
        if asynchronous:
            session.send(response("Success", aid, message="Originate successfully queued"))
        self._track(self._run_originate(session, spec, asynchronous))

    async def _run_originate(
        self, session: AmiSession, spec: OriginateSpec, asynchronous: bool
    ) -> None:
        answered = asyncio.get_running_loop().create_future()

        def on_result(ok: bool) -> None:
            if not answered.done():
                answered.set_result(ok)

        task = asyncio.ensure_future(self.sim.originate(spec, on_result, report=asynchronous))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if asynchronous:
            return
        ok = await answered
        if ok:
            session.send(
                response("Success", spec.action_id, message="Originate successfully queued")
            )
        else:
            session.send(response("Error", spec.action_id, message="Originate failed"))
