"""The pure menu machine, driven without sockets: a scripted world answers each action."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr import menu as m
from ivr.menu_file import load_menu
from routing.records import SiteMatch

MENU = load_menu()
SITES = {"234567": "Water bureau", "345678": "County A"}
ANI = {
    "13800138000": SiteMatch.unique("234567", "Water bureau"),
    "01066554433": SiteMatch.ambiguous(("345678", "456789")),
}


def run(
    inputs: list[str],
    *,
    number: str = "13800138000",
    emergency: bool = False,
    outage: m.Outage | None = None,
    directory_down: bool = False,
    menu: m.Menu = MENU,
    recording_notice: bool = False,
):
    """Play a whole call; returns (actions taken, final Finish)."""
    call = m.CallContext("1.1", number, emergency, outage, recording_notice=recording_notice)
    keys = list(inputs)
    state, action = m.start(menu, call)
    trace: list[m.Action] = []
    while not isinstance(action, m.Finish):
        trace.append(action)
        event: m.Event
        if isinstance(action, m.Play):
            event = m.PromptPlayed()
        elif isinstance(action, m.Ask):
            pressed = keys.pop(0) if keys else ""
            digits = pressed.split("#")[0][: action.max_digits]
            event = m.DigitsEntered(
                digits, timed_out="#" not in pressed and len(digits) < action.max_digits
            )
        elif isinstance(action, m.LookupCaller):
            event = (
                m.DirectoryUnavailable()
                if directory_down
                else m.CallerMatched(ANI.get(action.caller_number, SiteMatch.none()))
            )
        elif isinstance(action, m.CheckSiteCode):
            event = (
                m.DirectoryUnavailable()
                if directory_down
                else m.SiteChecked(action.site_code, action.site_code in SITES)
            )
        else:
            raise AssertionError(action)
        state, action = m.advance(menu, call, state, event)
        assert len(trace) < 50, "machine does not terminate"
    return trace, action


def prompts(trace: list[m.Action]) -> list[str]:
    out = []
    for a in trace:
        if isinstance(a, m.Ask):
            out += ([f"play:{a.preface}"] if a.preface else []) + [f"ask:{a.prompt}"]
        elif isinstance(a, m.Play):
            out.append(f"play:{a.prompt}")
    return out


@pytest.mark.parametrize(
    ("number", "inputs", "site", "level", "result"),
    [
        ("13800138000", ["1"], "234567", "1", "ok"),
        ("13800138000", ["2"], "234567", "2", "ok"),
        ("13800138000", ["3"], "234567", "3", "ok"),
        ("13800138000", ["4"], "234567", "4", "ok"),
        ("13800138000", ["0"], "234567", "", "operator"),
        ("13800138000", ["*", "*", "*", "1"], "234567", "1", "ok"),
        ("13800138000", ["*", "*", "*", "*", "*", "*"], "234567", "", "operator"),
        ("13800138000", ["9", "9", "9"], "234567", "", "operator"),
        ("13800138000", ["", "", "4"], "234567", "4", "ok"),
        ("139", ["345678#", "3"], "345678", "3", "ok"),
        ("139", ["345678", "3"], "345678", "3", "ok"),
        ("139", ["1#", "2#", "3#", "2"], "", "2", "unidentified"),
        ("139", ["", "", "", "2"], "", "2", "unidentified"),
        ("139", ["#", "234567#", "1"], "234567", "1", "ok"),
        ("01066554433", ["234567#", "1"], "234567", "1", "ok"),
        ("", ["234567#", "0"], "234567", "", "operator"),
    ],
)
@pytest.mark.parametrize("emergency", [False, True], ids=["normal", "emergency"])
def test_branches(number, inputs, site, level, result, emergency):
    _trace, finish = run(inputs, number=number, emergency=emergency)
    v = finish.as_dict()
    assert (v["HOTLINE_SITE"], v["HOTLINE_LEVEL"]) == (site, level)
    assert v["HOTLINE_IVR_RESULT"] == result == finish.result.value
    assert v["HOTLINE_QUEUE"] == ("hotline-emergency" if emergency else "hotline-main")
    assert v["HOTLINE_CALLREF"] == "1.1"
    assert "HOTLINE_PRIORITY" not in v  # routing's decision, not the menu's
    assert list(v)[-1] == "HOTLINE_IVR_RESULT"


def test_the_call_context_carries_no_priority():
    """The queue priority has one owner, routing: the menu has no table of its own."""
    names = {f.name for f in fields(m.CallContext)}
    assert not {n for n in names if "prio" in n}, names


def test_known_caller_prompt_sequence():
    trace, finish = run(["1"])
    assert prompts(trace) == ["play:greeting", "ask:level-menu"]
    assert finish.farewell == "connecting"


def test_wrong_codes_prompt_sequence():
    trace, _ = run(["1#", "", "3#", "2"], number="139")
    assert prompts(trace) == [
        "play:greeting",
        "ask:site-code",
        "play:site-code-invalid",
        "ask:site-code",
        "play:no-input",
        "ask:site-code",
        "play:site-code-invalid",
        "ask:level-menu",
    ]


def test_recorded_calls_hear_the_notice_after_the_greeting():
    trace, _ = run(["1"], recording_notice=True)
    assert prompts(trace) == ["play:greeting", "play:recording-notice", "ask:level-menu"]
    trace, _ = run(["1"], number="139", outage=m.Outage("INC-7", "outage-7"), recording_notice=True)
    assert prompts(trace)[:3] == ["play:greeting", "play:recording-notice", "play:outage-7"]
    # a menu file without the notice: nothing to play even when asked for
    trace, _ = run(["1"], recording_notice=True, menu=replace(MENU, recording_notice=None))
    assert prompts(trace) == ["play:greeting", "ask:level-menu"]


def test_the_default_notice_is_bilingual():
    assert MENU.recording_notice == "recording-notice"
    texts = dict(MENU.prompts["recording-notice"].texts)
    assert "录音" in texts["zh"] and "recorded" in texts["en"]


def test_emergency_queue():
    _, finish = run(["2"], emergency=True)
    assert finish.as_dict()["HOTLINE_QUEUE"] == "hotline-emergency"


def test_outage_join_skips_questions():
    trace, finish = run(["1"], number="139", outage=m.Outage("INC-7", "outage-7"))
    assert prompts(trace) == ["play:greeting", "play:outage-7", "ask:outage-offer"]
    v = finish.as_dict()
    assert v["HOTLINE_INCIDENT"] == "INC-7" and v["HOTLINE_LEVEL"] == ""
    assert v["HOTLINE_IVR_RESULT"] == "unidentified"


def test_outage_decline_continues():
    trace, finish = run(["2", "1"], outage=m.Outage("INC-7", "outage-7"))
    assert prompts(trace)[-1] == "ask:level-menu"
    assert "HOTLINE_INCIDENT" not in finish.as_dict()


def test_directory_down_skips_identification():
    trace, finish = run(["3"], number="139", directory_down=True)
    assert prompts(trace) == ["play:greeting", "ask:level-menu"]
    assert finish.as_dict()["HOTLINE_SITE"] == ""


def test_default_level_branch():
    menu = replace(MENU, level_menu=replace(MENU.level_menu, default="3"))
    _, finish = run([], menu=menu)
    assert finish.as_dict()["HOTLINE_LEVEL"] == "3"
    assert finish.result is m.IvrResult.OK


def test_safe_exit_keeps_known_site_and_flags_errors():
    call = m.CallContext("1.1", "139", True, None)
    state = m.MenuState(stage=m.Stage.LEVEL, site_code="234567")
    hangup = m.safe_exit(MENU, call, state, failed=False)
    error = m.safe_exit(MENU, call, state, failed=True)
    assert hangup.as_dict()["HOTLINE_SITE"] == "234567"
    assert hangup.result is m.IvrResult.OK and error.result is m.IvrResult.ERROR
    assert error.as_dict()["HOTLINE_QUEUE"] == "hotline-emergency"
    assert "HOTLINE_PRIORITY" not in hangup.as_dict() | error.as_dict()


def test_unexpected_event_is_a_protocol_error():
    call = m.CallContext("1.1", "139", False, None)
    with pytest.raises(m.MenuProtocolError):
        m.advance(MENU, call, m.MenuState(), m.DigitsEntered("1"))


@pytest.mark.parametrize(
    ("inputs", "score", "prompts_seen"),
    [
        (["5"], 5, ["ask:survey", "play:survey-thanks"]),
        (["1"], 1, ["ask:survey", "play:survey-thanks"]),
        (["9", "3"], 3, ["ask:survey", "play:invalid-choice", "ask:survey", "play:survey-thanks"]),
        (["", ""], None, ["ask:survey", "play:no-input", "ask:survey"]),
        (["0", "6"], None, ["ask:survey", "play:invalid-choice", "ask:survey"]),
    ],
)
def test_survey(inputs, score, prompts_seen):
    keys = list(inputs)
    state, action = m.survey_start(MENU)
    trace: list[m.Action] = []
    recorded: list[int | None] = []
    while not isinstance(action, m.Finish):
        trace.append(action)
        if isinstance(action, m.Ask):
            pressed = keys.pop(0) if keys else ""
            event: m.Event = m.DigitsEntered(pressed, timed_out=not pressed)
        elif isinstance(action, m.RecordScore):
            recorded.append(action.score)
            event = m.ScoreRecorded()
        else:
            event = m.PromptPlayed()
        state, action = m.survey_advance(MENU, state, event)
    assert recorded == [score]
    assert prompts(trace) == prompts_seen
    assert action.as_dict() == {"HOTLINE_SURVEY_SCORE": "" if score is None else str(score)}


KEYS = st.text(alphabet="0123456789*#", max_size=10)


@settings(max_examples=400, deadline=None)
@given(
    inputs=st.lists(KEYS, max_size=20),
    number=st.sampled_from(["13800138000", "01066554433", "139", ""]),
    emergency=st.booleans(),
    outage=st.booleans(),
    directory_down=st.booleans(),
)
def test_every_input_sequence_ends_in_a_queueable_exit(
    inputs, number, emergency, outage, directory_down
):
    """Whatever the caller presses, the machine terminates and leaves a queue and a level
    (never a priority: the AGI layer asks routing for that)."""
    trace, finish = run(
        inputs,
        number=number,
        emergency=emergency,
        directory_down=directory_down,
        outage=m.Outage("INC-1", "outage-1") if outage else None,
    )
    v = finish.as_dict()
    assert v["HOTLINE_QUEUE"] == ("hotline-emergency" if emergency else "hotline-main")
    assert "HOTLINE_PRIORITY" not in v
    assert v["HOTLINE_IVR_RESULT"] in {"ok", "unidentified", "operator"}
    assert v["HOTLINE_LEVEL"] in {"", "1", "2", "3", "4"}
    assert (v["HOTLINE_SITE"] == "") == (v["HOTLINE_IVR_RESULT"] == "unidentified") or (
        v["HOTLINE_IVR_RESULT"] == "operator"
    )
    # Bounded: greeting, outage, 3 code attempts with prefaces, 3 repeats + 3 menu attempts.
    assert len(trace) <= 16


@pytest.mark.parametrize("max_repeats", [0, 1, 3])
def test_star_repeats_the_menu_exactly_max_repeats_times(max_repeats: int) -> None:
    """Each `*` within the limit replays the level menu as it was; the first `*` past it
    counts as an invalid answer (preface "invalid-choice", one attempt used)."""
    menu = replace(MENU, level_menu=replace(MENU.level_menu, max_repeats=max_repeats))
    trace, finish = run(["*"] * (max_repeats + 1) + ["2"], menu=menu)
    asked = prompts(trace)
    level_asks = [p for p in asked if p == "ask:level-menu"]
    # The first ask, one per repeat, and one after the invalid `*`.
    assert len(level_asks) == 1 + max_repeats + 1, asked
    start = asked.index("ask:level-menu")
    assert asked[start : start + max_repeats + 1] == ["ask:level-menu"] * (max_repeats + 1)
    assert asked[start + max_repeats + 1 :] == ["play:invalid-choice", "ask:level-menu"]
    assert finish.as_dict()["HOTLINE_LEVEL"] == "2"


def test_stars_alone_end_with_the_default_after_the_attempts() -> None:
    lm = MENU.level_menu
    presses = lm.max_repeats + lm.question.attempts
    _, finish = run(["*"] * presses)
    v = finish.as_dict()
    assert (v["HOTLINE_LEVEL"] or "operator") == (
        "operator" if lm.default == "operator" else lm.default
    )
    # One `*` fewer and the caller is still being asked.
    trace, finish = run(["*"] * (presses - 1) + ["3"])
    assert finish.as_dict()["HOTLINE_LEVEL"] == "3"
