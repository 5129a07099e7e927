"""The IVR menu as data and as a pure state machine.

No I/O here (an import-linter contract keeps it that way): the AGI layer asks
`start`/`advance` what to do next (`Action`), performs it, and feeds back what happened
(`Event`). The same machine therefore runs in unit tests without sockets.

Call flow (DESIGN.md, "The call, end to end"): greeting → optional outage announcement
with "press 1 if you are calling about this" → site identification by caller number, or
by site code (`#` terminated, limited attempts, then unidentified) → fault-level menu
(1–4, 0 operator, `*` repeat, limited attempts, then the default branch) → channel
variables for the dialplan. The machine yields the level, never a queue priority: that is
routing's decision, taken in the AGI layer. The survey after the agent hangs up is a second, smaller
machine (`survey_start` / `survey_advance`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

# What the site directory knows about a caller number: routing's record, the same one the
# store returns (`site_code` and `display_name` when unique, `candidates` when ambiguous).
from routing.records import MatchKind, SiteMatch

# --- value objects shared with the ports ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Outage:
    """A known major incident being announced to callers.

    `prompt` is the name of a rendered sound under the sounds directory (no extension).
    """

    incident_id: str
    prompt: str
    text: str = ""


class IvrResult(StrEnum):
    """Value of HOTLINE_IVR_RESULT."""

    OK = "ok"
    UNIDENTIFIED = "unidentified"
    OPERATOR = "operator"
    ERROR = "error"


# --- the menu definition (built from the TOML file by `ivr.menu_file`) ---------------


@dataclass(frozen=True, slots=True)
class PromptText:
    """One prompt: its texts in the order they are spoken (language, text)."""

    name: str
    texts: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Question:
    """A prompt that collects digits."""

    prompt: str
    timeout_ms: int
    max_digits: int
    attempts: int  # total tries, including the first
    invalid_prompt: str | None = None
    timeout_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class LevelMenu:
    question: Question
    operator_key: str = "0"
    repeat_key: str = "*"
    max_repeats: int = 3  # `*` beyond this counts as an attempt
    default: str = "operator"  # "operator" or "1".."4" when attempts run out


@dataclass(frozen=True, slots=True)
class SurveyMenu:
    enabled: bool
    question: Question
    thanks_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class Menu:
    languages: tuple[str, ...]
    voices: Mapping[str, str]
    prompts: Mapping[str, PromptText]
    greeting: str
    outage_offer: Question
    outage_join_key: str
    site_code: Question
    level_menu: LevelMenu
    connecting: str | None
    survey: SurveyMenu
    # Told after the greeting when the call is recorded (HOTLINE_RECORDING_NOTICE).
    recording_notice: str | None = None


# --- the call being handled -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallContext:
    call_ref: str  # agi_uniqueid of the caller channel == its Linkedid
    caller_number: str
    emergency: bool
    outage: Outage | None
    main_queue: str = "hotline-main"
    emergency_queue: str = "hotline-emergency"
    recording_notice: bool = False  # the caller hears that the call is recorded

    @property
    def queue(self) -> str:
        return self.emergency_queue if self.emergency else self.main_queue


# --- actions (machine → AGI layer) and events (AGI layer → machine) -------------------


@dataclass(frozen=True, slots=True)
class Play:
    prompt: str


@dataclass(frozen=True, slots=True)
class Ask:
    """Play `prompt` collecting up to `max_digits` (`#` ends); `preface` is played first."""

    prompt: str
    timeout_ms: int
    max_digits: int
    preface: str | None = None


@dataclass(frozen=True, slots=True)
class LookupCaller:
    caller_number: str


@dataclass(frozen=True, slots=True)
class CheckSiteCode:
    site_code: str


@dataclass(frozen=True, slots=True)
class RecordScore:
    score: int | None


@dataclass(frozen=True, slots=True)
class Finish:
    """Set these channel variables (in order), optionally play `farewell`, return."""

    variables: tuple[tuple[str, str], ...]
    result: IvrResult
    farewell: str | None = None

    def as_dict(self) -> dict[str, str]:
        return dict(self.variables)


Action = Play | Ask | LookupCaller | CheckSiteCode | RecordScore | Finish


@dataclass(frozen=True, slots=True)
class PromptPlayed:
    pass


@dataclass(frozen=True, slots=True)
class DigitsEntered:
    digits: str
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class CallerMatched:
    match: SiteMatch


@dataclass(frozen=True, slots=True)
class SiteChecked:
    site_code: str
    exists: bool


@dataclass(frozen=True, slots=True)
class DirectoryUnavailable:
    """The site directory failed (DB down, timeout): identification is skipped."""


@dataclass(frozen=True, slots=True)
class ScoreRecorded:
    pass


Event = (
    PromptPlayed
    | DigitsEntered
    | CallerMatched
    | SiteChecked
    | DirectoryUnavailable
    | ScoreRecorded
)


class MenuProtocolError(Exception):
    """An event arrived that the current stage cannot take (a bug in the AGI layer)."""


# --- the main IVR machine -------------------------------------------------------------


class Stage(StrEnum):
    GREETING = "greeting"
    RECORDING_NOTICE = "recording_notice"
    OUTAGE_ANNOUNCEMENT = "outage_announcement"
    OUTAGE_OFFER = "outage_offer"
    LOOKUP = "lookup"
    SITE_CODE = "site_code"
    SITE_CHECK = "site_check"
    LEVEL = "level"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class MenuState:
    stage: Stage = Stage.GREETING
    attempts: int = 0  # attempts used on the current question
    repeats: int = 0
    site_code: str | None = None
    site_name: str | None = None
    incident: str | None = None
    level: int | None = None
    operator: bool = False
    ask_code_after_lookup: bool = True


def start(menu: Menu, call: CallContext) -> tuple[MenuState, Action]:
    return MenuState(), Play(menu.greeting)


def advance(
    menu: Menu, call: CallContext, state: MenuState, event: Event
) -> tuple[MenuState, Action]:
    stage = state.stage
    if stage is Stage.GREETING and isinstance(event, PromptPlayed):
        if call.recording_notice and menu.recording_notice is not None:
            return replace(state, stage=Stage.RECORDING_NOTICE), Play(menu.recording_notice)
        return _after_greeting(state, call)
    if stage is Stage.RECORDING_NOTICE and isinstance(event, PromptPlayed):
        return _after_greeting(state, call)
    if stage is Stage.OUTAGE_ANNOUNCEMENT and isinstance(event, PromptPlayed):
        q = menu.outage_offer
        return replace(state, stage=Stage.OUTAGE_OFFER), Ask(q.prompt, q.timeout_ms, 1)
    if stage is Stage.OUTAGE_OFFER and isinstance(event, DigitsEntered):
        if call.outage is not None and event.digits == menu.outage_join_key:
            # Joining the incident: no new ticket, so no site code or level questions.
            joined = replace(state, incident=call.outage.incident_id, ask_code_after_lookup=False)
            return _lookup(joined, call)
        return _lookup(state, call)
    if stage is Stage.LOOKUP:
        if isinstance(event, CallerMatched):
            match = event.match
            if match.kind is MatchKind.UNIQUE and match.site_code:
                known = replace(state, site_code=match.site_code, site_name=match.display_name)
                return _after_identification(menu, call, known)
            if not state.ask_code_after_lookup:
                return _after_identification(menu, call, state)
            return _ask_site_code(menu, replace(state, attempts=0), preface=None)
        if isinstance(event, DirectoryUnavailable):
            return _after_identification(menu, call, state)
    if stage is Stage.SITE_CODE and isinstance(event, DigitsEntered):
        q = menu.site_code
        used = state.attempts + 1
        if event.digits:
            # A code typed without `#` that timed out is still the caller's entry.
            return replace(state, stage=Stage.SITE_CHECK, attempts=used), CheckSiteCode(
                event.digits
            )
        preface = q.timeout_prompt if event.timed_out else q.invalid_prompt
        return _retry_site_code(menu, call, replace(state, attempts=used), preface)
    if stage is Stage.SITE_CHECK:
        if isinstance(event, SiteChecked):
            if event.exists:
                return _after_identification(menu, call, replace(state, site_code=event.site_code))
            return _retry_site_code(menu, call, state, menu.site_code.invalid_prompt)
        if isinstance(event, DirectoryUnavailable):
            return _after_identification(menu, call, state)
    if stage is Stage.LEVEL and isinstance(event, DigitsEntered):
        return _level_answer(menu, call, state, event)
    raise MenuProtocolError(f"stage {stage} cannot take {type(event).__name__}")


def _after_greeting(state: MenuState, call: CallContext) -> tuple[MenuState, Action]:
    if call.outage is not None:
        return replace(state, stage=Stage.OUTAGE_ANNOUNCEMENT), Play(call.outage.prompt)
    return _lookup(state, call)


def _lookup(state: MenuState, call: CallContext) -> tuple[MenuState, Action]:
    return replace(state, stage=Stage.LOOKUP), LookupCaller(call.caller_number)


def _ask_site_code(menu: Menu, state: MenuState, preface: str | None) -> tuple[MenuState, Action]:
    q = menu.site_code
    return replace(state, stage=Stage.SITE_CODE), Ask(q.prompt, q.timeout_ms, q.max_digits, preface)


def _retry_site_code(
    menu: Menu, call: CallContext, state: MenuState, preface: str | None
) -> tuple[MenuState, Action]:
    if state.attempts >= menu.site_code.attempts:
        # Out of attempts: carry on unidentified rather than drop the caller.
        return _level_menu(menu, call, state, preface)
    return _ask_site_code(menu, state, preface)


def _after_identification(
    menu: Menu, call: CallContext, state: MenuState
) -> tuple[MenuState, Action]:
    if state.incident is not None:
        return _finish(menu, call, replace(state, stage=Stage.DONE))
    return _level_menu(menu, call, state, None)


def _level_menu(
    menu: Menu, call: CallContext, state: MenuState, preface: str | None
) -> tuple[MenuState, Action]:
    q = menu.level_menu.question
    fresh = replace(state, stage=Stage.LEVEL, attempts=0, repeats=0)
    return fresh, Ask(q.prompt, q.timeout_ms, q.max_digits, preface)


def _level_answer(
    menu: Menu, call: CallContext, state: MenuState, event: DigitsEntered
) -> tuple[MenuState, Action]:
    lm = menu.level_menu
    q = lm.question
    digits = event.digits
    if digits in ("1", "2", "3", "4"):
        return _finish(menu, call, replace(state, stage=Stage.DONE, level=int(digits)))
    if digits == lm.operator_key:
        return _finish(menu, call, replace(state, stage=Stage.DONE, operator=True))
    if digits == lm.repeat_key and state.repeats < lm.max_repeats:
        return replace(state, repeats=state.repeats + 1), Ask(q.prompt, q.timeout_ms, q.max_digits)
    used = state.attempts + 1
    if used >= q.attempts:
        done = replace(state, stage=Stage.DONE, attempts=used)
        if lm.default == "operator":
            return _finish(menu, call, replace(done, operator=True))
        return _finish(menu, call, replace(done, level=int(lm.default)))
    preface = q.timeout_prompt if event.timed_out and not digits else q.invalid_prompt
    return replace(state, attempts=used), Ask(q.prompt, q.timeout_ms, q.max_digits, preface)


def exit_variables(
    menu: Menu, call: CallContext, state: MenuState, result: IvrResult
) -> tuple[tuple[str, str], ...]:
    """The HOTLINE_* variables for the dialplan, from what is known so far.

    No HOTLINE_PRIORITY: the queue priority is routing's decision, which the AGI layer
    adds from the level set here.
    """
    variables: list[tuple[str, str]] = [
        ("HOTLINE_CALLREF", call.call_ref),
        ("HOTLINE_SITE", state.site_code or ""),
        ("HOTLINE_LEVEL", "" if state.operator or state.level is None else str(state.level)),
        ("HOTLINE_QUEUE", call.queue),
    ]
    if state.incident is not None:
        variables.append(("HOTLINE_INCIDENT", state.incident))
    variables.append(("HOTLINE_SURVEY", "1" if menu.survey.enabled else "0"))
    variables.append(("HOTLINE_IVR_RESULT", result.value))
    return tuple(variables)


def _finish(menu: Menu, call: CallContext, state: MenuState) -> tuple[MenuState, Action]:
    if state.operator:
        result = IvrResult.OPERATOR
    elif state.site_code is None:
        result = IvrResult.UNIDENTIFIED
    else:
        result = IvrResult.OK
    return state, Finish(exit_variables(menu, call, state, result), result, menu.connecting)


def safe_exit(menu: Menu, call: CallContext, state: MenuState, *, failed: bool) -> Finish:
    """The exit after a hang-up (`failed=False`) or an error: queue with what is known.

    Never drops the caller: the dialplan queues them (unidentified if need be).
    """
    if failed:
        result = IvrResult.ERROR
    elif state.operator:
        result = IvrResult.OPERATOR
    elif state.site_code is None:
        result = IvrResult.UNIDENTIFIED
    else:
        result = IvrResult.OK
    return Finish(exit_variables(menu, call, state, result), result, None)


# --- the survey machine ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SurveyState:
    attempts: int = 0
    score: int | None = None
    recorded: bool = False
    thanked: bool = False


def survey_start(menu: Menu) -> tuple[SurveyState, Action]:
    q = menu.survey.question
    return SurveyState(), Ask(q.prompt, q.timeout_ms, q.max_digits)


def survey_advance(menu: Menu, state: SurveyState, event: Event) -> tuple[SurveyState, Action]:
    q = menu.survey.question
    if not state.recorded and isinstance(event, DigitsEntered):
        if event.digits in ("1", "2", "3", "4", "5"):
            scored = replace(state, score=int(event.digits), attempts=state.attempts + 1)
            return scored, RecordScore(scored.score)
        used = state.attempts + 1
        if used >= q.attempts:
            return replace(state, attempts=used), RecordScore(None)
        preface = q.timeout_prompt if event.timed_out and not event.digits else q.invalid_prompt
        return replace(state, attempts=used), Ask(q.prompt, q.timeout_ms, q.max_digits, preface)
    if not state.recorded and isinstance(event, ScoreRecorded):
        done = replace(state, recorded=True)
        if state.score is not None and menu.survey.thanks_prompt:
            return done, Play(menu.survey.thanks_prompt)
        return done, survey_finish(done)
    if state.recorded and isinstance(event, PromptPlayed):
        return replace(state, thanked=True), survey_finish(state)
    raise MenuProtocolError(f"survey cannot take {type(event).__name__} here")


def survey_finish(state: SurveyState) -> Finish:
    score = "" if state.score is None else str(state.score)
    return Finish((("HOTLINE_SURVEY_SCORE", score),), IvrResult.OK, None)
