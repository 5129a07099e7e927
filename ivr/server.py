"""The FastAGI IVR server: scripts `ivr` and `survey` (see the dialplan in asterisk-conf/).

A thin layer: it performs what the pure machine in `ivr.menu` asks (prompts, digit
collection, site-directory look-ups) and feeds back what happened. The menu yields the
level and the site; the queue priority and the preferred engineers are routing's decision,
asked for every call (emergency mode included) once the menu is done. Whatever goes wrong
(port failure, protocol error, caller hang-up, routing unavailable) the `ivr` script still
ends with HOTLINE_QUEUE, HOTLINE_PRIORITY and HOTLINE_IVR_RESULT set, so the dialplan
queues the caller; a caller is never dropped by the IVR.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from pathlib import Path

from ivr import menu as machine
from ivr.agi import AgiApplication, AgiChannel
from ivr.errors import AgiConnectionLost, AgiError, AgiHangup, IvrError
from ivr.menu import (
    Action,
    Ask,
    CallContext,
    CallerMatched,
    CheckSiteCode,
    DigitsEntered,
    DirectoryUnavailable,
    Event,
    Finish,
    LookupCaller,
    Menu,
    MenuState,
    Outage,
    Play,
    PromptPlayed,
    RecordScore,
    ScoreRecorded,
    SiteChecked,
)
from ivr.ports import IvrModePort, RoutingAdvisorPort, SiteDirectoryPort, SurveySinkPort
from routing.domain.levels import FaultLevel, SlaPolicy
from routing.domain.priority import preferred_dial, queue_priority
from routing.records import SiteMatch

log = logging.getLogger(__name__)


# What the routing rules may set; everything else stays the menu's decision.
ADVISED_VARIABLES = ("HOTLINE_PRIORITY", "HOTLINE_PREFERRED", "HOTLINE_PREFERRED_TIMEOUT")


def _in_contract_order(variables: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The exit variables with HOTLINE_PRIORITY right after HOTLINE_LEVEL, the order of
    the dialplan contract (docs/asterisk.md); the rest keep their order."""
    priority = variables.get("HOTLINE_PRIORITY")
    ordered: list[tuple[str, str]] = []
    for name, value in variables.items():
        if name == "HOTLINE_PRIORITY":
            continue
        ordered.append((name, value))
        if name == "HOTLINE_LEVEL" and priority is not None:
            ordered.append(("HOTLINE_PRIORITY", priority))
    if priority is not None and "HOTLINE_LEVEL" not in variables:
        ordered.append(("HOTLINE_PRIORITY", priority))
    return tuple(ordered)


class IvrServerError(IvrError):
    """The IVR server cannot start (port in use, ...)."""


class IvrServer:
    def __init__(
        self,
        menu: Menu,
        sites: SiteDirectoryPort,
        mode: IvrModePort,
        surveys: SurveySinkPort,
        *,
        policy: SlaPolicy,
        main_queue: str = "hotline-main",
        emergency_queue: str = "hotline-emergency",
        sounds_dir: Path,
        port_timeout: float = 3.0,
        command_observer: Callable[[str, float], None] | None = None,
        router: RoutingAdvisorPort | None = None,
        max_connections: int = 200,
        recording_notice: bool = False,
    ) -> None:
        """`recording_notice`: callers hear the menu's recording notice after the
        greeting."""
        self.menu = menu
        self.recording_notice = recording_notice
        self.sites = sites
        self.mode = mode
        self.surveys = surveys
        self.policy = policy
        self.main_queue = main_queue
        self.emergency_queue = emergency_queue
        self.sounds_dir = sounds_dir.resolve()
        try:
            # Routing's rule is the fallback for every call: it must answer for every level.
            for level in (None, *FaultLevel):
                queue_priority(policy, level)
        except KeyError as exc:
            raise IvrServerError(f"the SLA policy has no queue priority for {exc}") from exc
        self.port_timeout = port_timeout
        self.command_observer = command_observer
        self.router = router
        # FastAGI has no authentication: a flood of connections must not exhaust the
        # process. Past the cap a connection is closed at once; Asterisk then sees
        # AGISTATUS=FAILURE and the dialplan goes on (the other host, or the defaults).
        self.max_connections = max_connections
        self.active_connections = 0
        self.refused_connections = 0
        self._refusing = False
        self._paths: dict[str, str] = {}
        self._server: asyncio.Server | None = None
        self._app: AgiApplication | None = None
        self.host: str | None = None
        self.port: int | None = None

    @property
    def failures(self) -> int:
        """Sessions whose script raised past its own safety net (should stay 0)."""
        return self._app.failures if self._app is not None else 0

    async def start(self, host: str, port: int) -> None:
        app = AgiApplication()
        app.command_observer = self.command_observer
        app.add_route("ivr", self.ivr)
        app.add_route("survey", self.survey)
        try:
            self._server = await asyncio.start_server(self._capped(app.handler), host, port)
        except OSError as exc:
            raise IvrServerError(f"cannot listen for FastAGI on {host}:{port}: {exc}") from exc
        self._app = app
        sockname = self._server.sockets[0].getsockname()
        self.host, self.port = sockname[0], sockname[1]
        log.info("FastAGI IVR listening on %s:%s", self.host, self.port)
        missing = await asyncio.to_thread(self.missing_prompts)
        if missing:
            # Asterisk answers STREAM FILE of a missing file with result=-1, which looks
            # like a hang-up: callers would be queued without the menu.
            log.warning(
                "prompts missing under %s: %s (run `hotline prompts build`; fine if the "
                "sounds live only on the PBX host)",
                self.sounds_dir,
                ", ".join(missing),
            )

    def _capped(
        self, handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if self.active_connections >= self.max_connections:
                self.refused_connections += 1
                if not self._refusing:  # one line per episode, not one per connection
                    self._refusing = True
                    log.error(
                        "FastAGI: %d connections open, the limit (HOTLINE_AGI_MAX_CONNECTIONS); "
                        "refusing new ones until some end",
                        self.max_connections,
                    )
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
                return
            self.active_connections += 1
            try:
                await handler(reader, writer)
            finally:
                self.active_connections -= 1
                if self._refusing and self.active_connections < self.max_connections:
                    self._refusing = False
                    log.warning(
                        "FastAGI: accepting connections again (%d refused at the limit)",
                        self.refused_connections,
                    )

        return serve

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def missing_prompts(self) -> list[str]:
        """Menu prompts with no rendered WAV under the sounds directory (blocking I/O)."""
        return sorted(
            name for name in self.menu.prompts if not (self.sounds_dir / f"{name}.wav").exists()
        )

    def prompt_path(self, name: str) -> str:
        """Absolute path without extension, as Asterisk's STREAM FILE / GET DATA want."""
        path = self._paths.get(name)
        if path is None:
            path = self._paths[name] = str(self.sounds_dir / name)
        return path

    # -- the `ivr` script ---------------------------------------------------------------

    def _emergency_active(self, chan: AgiChannel) -> bool:
        try:
            return self.mode.emergency_active()
        except Exception:
            log.exception("call %s: mode port failed; assuming normal mode", chan.call_id)
            return False

    def _context(self, chan: AgiChannel) -> CallContext:
        emergency = self._emergency_active(chan)
        outage: Outage | None = None
        try:
            outage = self.mode.current_outage()
        except Exception:
            log.exception("call %s: mode port failed; no outage announcement", chan.call_id)
        return CallContext(
            call_ref=chan.call_id,
            caller_number=chan.caller_number,
            emergency=emergency,
            outage=outage,
            main_queue=self.main_queue,
            emergency_queue=self.emergency_queue,
            recording_notice=self.recording_notice,
        )

    async def ivr(self, chan: AgiChannel) -> None:
        call = self._context(chan)
        state = MenuState()
        try:
            state, action = machine.start(self.menu, call)
            await chan.answer()
            while not isinstance(action, Finish):
                event = await self._perform(chan, action)
                state, action = machine.advance(self.menu, call, state, event)
            finish = action
        except AgiHangup:
            log.info("call %s: caller hung up in the IVR at %s", call.call_ref, state.stage)
            finish = machine.safe_exit(self.menu, call, state, failed=False)
        except AgiConnectionLost as exc:
            # The PBX closed the socket: its dialplan carries on with its own defaults.
            log.info(
                "call %s: FastAGI connection closed by the PBX at %s (%s)",
                call.call_ref,
                state.stage,
                exc.__cause__ or exc,
            )
            return
        except Exception:
            log.exception(
                "call %s: IVR failed at %s; queueing the caller", call.call_ref, state.stage
            )
            finish = machine.safe_exit(self.menu, call, state, failed=True)
        # The mode may have flipped while the caller was in the menu: queue them where
        # calls go *now* (the emergency switch only moves callers already in a queue).
        emergency_now = self._emergency_active(chan)
        if emergency_now != call.emergency:
            call = replace(call, emergency=emergency_now)
            variables = machine.exit_variables(self.menu, call, state, finish.result)
            finish = Finish(variables, finish.result, finish.farewell)
            log.info("call %s: mode changed during the IVR; queue %s", call.call_ref, call.queue)
        # Normal and emergency mode alike: the same caller gets the same priority.
        finish = await self._advised(chan, finish)
        await self._exit(chan, finish)

    async def _advised(self, chan: AgiChannel, finish: Finish) -> Finish:
        """The menu's exit plus routing's priority and preferred engineers.

        Never blocking and never without a priority: when the router is absent, fails or
        takes over `port_timeout`, the priority is routing's level rule (`queue_priority`)
        and no engineer is preferred.
        """
        variables = finish.as_dict()
        raw_level = variables.get("HOTLINE_LEVEL", "")
        level = FaultLevel(int(raw_level)) if raw_level in ("1", "2", "3", "4") else None
        by_level = str(queue_priority(self.policy, level))
        variables["HOTLINE_PRIORITY"] = by_level  # routing's rule, never a value from the menu
        advice = await self._advice(chan, variables, level)
        for name in ADVISED_VARIABLES:
            value = advice.get(name)
            if value is not None and "\n" not in value and "\r" not in value:
                variables[name] = value
        advised = variables["HOTLINE_PRIORITY"]
        if not (advised.isascii() and advised.isdigit()):
            variables["HOTLINE_PRIORITY"] = by_level
        # The dialplan hands these to Dial(): only bare interfaces and a sane ring time.
        asked = variables.get("HOTLINE_PREFERRED", "")
        preferred, seconds = preferred_dial(asked, variables.get("HOTLINE_PREFERRED_TIMEOUT", ""))
        if asked and not preferred:
            log.warning("call %s: refused preferred engineers %r for Dial()", chan.call_id, asked)
        if "HOTLINE_PREFERRED" in variables or "HOTLINE_PREFERRED_TIMEOUT" in variables:
            variables["HOTLINE_PREFERRED"] = preferred
            variables["HOTLINE_PREFERRED_TIMEOUT"] = seconds or "0"
        return Finish(_in_contract_order(variables), finish.result, finish.farewell)

    async def _advice(
        self, chan: AgiChannel, variables: dict[str, str], level: FaultLevel | None
    ) -> Mapping[str, str]:
        """The router's channel variables, or none when it is absent, fails or is slow."""
        if self.router is None:
            return {}
        try:
            async with asyncio.timeout(self.port_timeout):
                return await self.router.advise(
                    call_ref=chan.call_id,
                    site_code=variables.get("HOTLINE_SITE") or None,
                    level=None if level is None else int(level),
                    queue=variables.get("HOTLINE_QUEUE", self.main_queue),
                )
        except TimeoutError:
            log.warning(
                "call %s: routing advice took over %.1f s; level priority",
                chan.call_id,
                self.port_timeout,
            )
        except Exception as exc:
            log.warning(
                "call %s: routing advice failed (%s: %s); level priority",
                chan.call_id,
                type(exc).__name__,
                exc,
            )
        return {}

    async def _exit(self, chan: AgiChannel, finish: Finish) -> None:
        for name, value in finish.variables:
            try:
                await chan.set_variable(name, value)
            except AgiConnectionLost:
                # The dialplan's own defaults queue the caller.
                log.info("call %s: FastAGI connection closed before %s", chan.call_id, name)
                return
            except AgiError:
                log.exception("call %s: could not set %s", chan.call_id, name)
        if log.isEnabledFor(logging.INFO):
            done = " ".join(f"{k}={v}" for k, v in finish.variables)
            log.info("call %s: IVR done: %s", chan.call_id, done)
        if finish.farewell is not None and not chan.hung_up:
            try:
                await chan.stream_file(self.prompt_path(finish.farewell))
            except AgiHangup:
                pass  # gone already; the variables are set, nothing is lost
            except AgiError:
                log.warning("call %s: farewell prompt failed", chan.call_id, exc_info=True)

    async def _perform(self, chan: AgiChannel, action: Action) -> Event:
        if isinstance(action, Play):
            await chan.stream_file(self.prompt_path(action.prompt))
            return PromptPlayed()
        if isinstance(action, Ask):
            if action.preface is not None:
                await chan.stream_file(self.prompt_path(action.preface))
            digits, timed_out = await chan.get_data(
                self.prompt_path(action.prompt), action.timeout_ms, action.max_digits
            )
            return DigitsEntered(digits, timed_out)
        if isinstance(action, LookupCaller):
            if not action.caller_number:
                return CallerMatched(SiteMatch.none())
            try:
                # asyncio.timeout, not wait_for: no extra task per look-up on the hot path.
                async with asyncio.timeout(self.port_timeout):
                    match = await self.sites.match_caller(action.caller_number)
            except Exception:
                log.exception(
                    "call %s: site directory failed; skipping identification", chan.call_id
                )
                return DirectoryUnavailable()
            log.info(
                "call %s: caller %s matched %s %s",
                chan.call_id,
                action.caller_number,
                match.kind,
                match.site_code or ",".join(match.candidates),
            )
            return CallerMatched(match)
        if isinstance(action, CheckSiteCode):
            try:
                async with asyncio.timeout(self.port_timeout):
                    exists = await self.sites.site_exists(action.site_code)
            except Exception:
                log.exception(
                    "call %s: site directory failed; skipping identification", chan.call_id
                )
                return DirectoryUnavailable()
            return SiteChecked(action.site_code, exists)
        raise IvrError(f"the IVR script cannot perform {action!r}")

    # -- the `survey` script --------------------------------------------------------------

    async def survey(self, chan: AgiChannel) -> None:
        call_ref = chan.call_id
        state = machine.SurveyState()
        try:
            call_ref = await chan.get_variable("HOTLINE_CALLREF") or chan.call_id
            state, action = machine.survey_start(self.menu)
            while not isinstance(action, Finish):
                if isinstance(action, RecordScore):
                    await self._record(call_ref, action.score)
                    event: Event = ScoreRecorded()
                elif isinstance(action, Play | Ask):
                    event = await self._perform(chan, action)
                else:
                    raise IvrError(f"the survey script cannot perform {action!r}")
                state, action = machine.survey_advance(self.menu, state, event)
            finish = action
        except (AgiHangup, AgiConnectionLost):
            log.info("call %s: caller hung up during the survey", call_ref)
            if not state.recorded:
                await self._record(call_ref, state.score)
            finish = machine.survey_finish(state)
        except Exception:
            log.exception("call %s: survey failed", call_ref)
            finish = machine.survey_finish(state)
        for name, value in finish.variables:
            try:
                await chan.set_variable(name, value)
            except AgiConnectionLost:
                return  # gone with the caller; the score is stored already
            except AgiError:
                log.exception("call %s: could not set %s", call_ref, name)

    async def _record(self, call_ref: str, score: int | None) -> None:
        try:
            async with asyncio.timeout(self.port_timeout):
                await self.surveys.record_score(call_ref, score)
            log.info("call %s: survey score %s", call_ref, score)
        except Exception:
            log.exception("call %s: could not store survey score %s", call_ref, score)
