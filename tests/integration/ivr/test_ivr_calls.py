"""The IVR driven over real TCP by the PBX stand-in's FastAGI client, one branch per test.

Each test asserts the exact AGI command lines the IVR sent and the channel variables it
left for the dialplan.
"""

from __future__ import annotations

import pytest

from ivr.menu import Outage

from .conftest import KNOWN, SHARED, Rig, sets

REF = "1795303935.0"


def exit_vars(
    site: str,
    level: str,
    prio: str,
    result: str,
    queue: str = "hotline-main",
    incident: str | None = None,
) -> dict[str, str]:
    out = {
        "HOTLINE_CALLREF": REF,
        "HOTLINE_SITE": site,
        "HOTLINE_LEVEL": level,
        "HOTLINE_PRIORITY": prio,
        "HOTLINE_QUEUE": queue,
    }
    if incident is not None:
        out["HOTLINE_INCIDENT"] = incident
    out["HOTLINE_SURVEY"] = "1"
    out["HOTLINE_IVR_RESULT"] = result
    return out


def tail(rig: Rig, variables: dict[str, str]) -> list[str]:
    return [*sets(**variables), rig.play("connecting")]


@pytest.mark.parametrize(("digit", "prio"), [("1", "10"), ("2", "7"), ("3", "4"), ("4", "1")])
async def test_known_caller_goes_straight_to_the_level_menu(rig: Rig, digit: str, prio: str):
    result = await rig.call(KNOWN, [digit])
    expected = exit_vars("234567", digit, prio, "ok")
    assert result.commands == [
        "ANSWER",
        rig.play("greeting"),
        rig.ask("level-menu", 6000, 1),
        *tail(rig, expected),
    ]
    assert result.variables == expected
    assert result.error is None and not result.hung_up


async def test_operator_key(rig: Rig):
    result = await rig.call(KNOWN, ["0"])
    assert result.variables == exit_vars("234567", "", "7", "operator")


async def test_unknown_caller_enters_site_code(rig: Rig):
    result = await rig.call("13900000000", ["234567#", "3"])
    expected = exit_vars("234567", "3", "4", "ok")
    assert result.commands == [
        "ANSWER",
        rig.play("greeting"),
        rig.ask("site-code", 8000, 8),
        rig.ask("level-menu", 6000, 1),
        *tail(rig, expected),
    ]
    assert result.variables == expected


async def test_ambiguous_number_asks_for_the_code(rig: Rig):
    result = await rig.call(SHARED, ["456789#", "2"])
    assert result.commands[2] == rig.ask("site-code", 8000, 8)
    assert result.variables == exit_vars("456789", "2", "7", "ok")


async def test_code_typed_without_hash_is_taken_on_timeout(rig: Rig):
    result = await rig.call("13900000000", ["345678", "4"])
    assert result.variables == exit_vars("345678", "4", "1", "ok")


async def test_wrong_site_code_three_times_continues_unidentified(rig: Rig):
    result = await rig.call("", ["111#", "222#", "333#", "2"])
    expected = exit_vars("", "2", "7", "unidentified")
    assert result.commands == [
        "ANSWER",
        rig.play("greeting"),
        rig.ask("site-code", 8000, 8),
        rig.play("site-code-invalid"),
        rig.ask("site-code", 8000, 8),
        rig.play("site-code-invalid"),
        rig.ask("site-code", 8000, 8),
        rig.play("site-code-invalid"),
        rig.ask("level-menu", 6000, 1),
        *tail(rig, expected),
    ]
    assert result.variables == expected


async def test_silence_on_site_code_retries_then_unidentified(rig: Rig):
    result = await rig.call("13900000000", ["", "", "", "1"])
    assert result.commands[2:9] == [
        rig.ask("site-code", 8000, 8),
        rig.play("no-input"),
        rig.ask("site-code", 8000, 8),
        rig.play("no-input"),
        rig.ask("site-code", 8000, 8),
        rig.play("no-input"),
        rig.ask("level-menu", 6000, 1),
    ]
    assert result.variables == exit_vars("", "1", "10", "unidentified")


async def test_silence_on_level_menu_retries(rig: Rig):
    result = await rig.call(KNOWN, ["", "3"])
    expected = exit_vars("234567", "3", "4", "ok")
    assert result.commands == [
        "ANSWER",
        rig.play("greeting"),
        rig.ask("level-menu", 6000, 1),
        rig.play("no-input"),
        rig.ask("level-menu", 6000, 1),
        *tail(rig, expected),
    ]


async def test_silence_until_attempts_run_out_goes_to_operator(rig: Rig):
    result = await rig.call(KNOWN, [])
    assert result.commands[2:7] == [
        rig.ask("level-menu", 6000, 1),
        rig.play("no-input"),
        rig.ask("level-menu", 6000, 1),
        rig.play("no-input"),
        rig.ask("level-menu", 6000, 1),
    ]
    assert result.variables == exit_vars("234567", "", "7", "operator")


async def test_invalid_key_plays_invalid_prompt(rig: Rig):
    result = await rig.call(KNOWN, ["9", "#", "2"])
    assert result.commands[2:7] == [
        rig.ask("level-menu", 6000, 1),
        rig.play("invalid-choice"),
        rig.ask("level-menu", 6000, 1),
        rig.play("invalid-choice"),
        rig.ask("level-menu", 6000, 1),
    ]
    assert result.variables["HOTLINE_LEVEL"] == "2"


async def test_star_repeats_the_menu(rig: Rig):
    result = await rig.call(KNOWN, ["*", "*", "1"])
    expected = exit_vars("234567", "1", "10", "ok")
    assert result.commands == [
        "ANSWER",
        rig.play("greeting"),
        rig.ask("level-menu", 6000, 1),
        rig.ask("level-menu", 6000, 1),
        rig.ask("level-menu", 6000, 1),
        *tail(rig, expected),
    ]


async def test_hangup_during_greeting_ends_cleanly_with_safe_exit(rig: Rig):
    result = await rig.call(KNOWN, ["1"], hangup_after=2)
    expected = exit_vars("", "", "7", "unidentified")
    # No media after the hang-up: only the variables (allowed on a dead channel).
    assert result.commands == ["ANSWER", rig.play("greeting"), *sets(**expected)]
    assert result.replies[1] == "200 result=-1 endpos=0"
    assert result.hung_up
    assert result.variables == expected


async def test_hangup_during_site_code_keeps_what_is_known(rig: Rig):
    result = await rig.call("13900000000", ["234567#"], hangup_after=3)
    assert result.commands[-7:] == sets(**exit_vars("", "", "7", "unidentified"))
    assert result.replies[2] == "200 result=-1"
    assert result.hung_up


async def test_emergency_mode_uses_the_emergency_queue(rig: Rig):
    rig.mode.emergency = True
    result = await rig.call(KNOWN, ["1"])
    assert result.variables == exit_vars("234567", "1", "10", "ok", queue="hotline-emergency")


async def test_outage_caller_joins_the_incident(rig: Rig):
    rig.mode.outage = Outage("INC-42", "outage-INC-42", "Central MCU down")
    result = await rig.call(KNOWN, ["1"])
    expected = exit_vars("234567", "", "7", "ok", incident="INC-42")
    assert result.commands == [
        "ANSWER",
        rig.play("greeting"),
        rig.play("outage-INC-42"),
        rig.ask("outage-offer", 5000, 1),
        *tail(rig, expected),
    ]
    assert result.variables == expected


async def test_outage_other_caller_continues_to_the_menu(rig: Rig):
    rig.mode.outage = Outage("INC-42", "outage-INC-42")
    result = await rig.call("13900000000", ["", "234567#", "2"])
    assert result.commands[2:6] == [
        rig.play("outage-INC-42"),
        rig.ask("outage-offer", 5000, 1),
        rig.ask("site-code", 8000, 8),
        rig.ask("level-menu", 6000, 1),
    ]
    assert result.variables == exit_vars("234567", "2", "7", "ok")


async def test_survey_digit_is_stored(rig: Rig):
    result = await rig.call(KNOWN, ["4"], script="survey", variables={"HOTLINE_CALLREF": "77.1"})
    assert result.commands == [
        "GET VARIABLE HOTLINE_CALLREF",
        rig.ask("survey", 5000, 1),
        rig.play("survey-thanks"),
        'SET VARIABLE HOTLINE_SURVEY_SCORE "4"',
    ]
    assert rig.surveys.scores == {"77.1": 4}
    assert result.variables["HOTLINE_SURVEY_SCORE"] == "4"


async def test_survey_invalid_then_valid(rig: Rig):
    result = await rig.call(KNOWN, ["7", "5"], script="survey")
    assert result.commands[1:4] == [
        rig.ask("survey", 5000, 1),
        rig.play("invalid-choice"),
        rig.ask("survey", 5000, 1),
    ]
    assert rig.surveys.scores == {REF: 5}


async def test_survey_silence_records_no_score(rig: Rig):
    result = await rig.call(KNOWN, [], script="survey")
    assert rig.surveys.scores == {REF: None}
    assert result.variables["HOTLINE_SURVEY_SCORE"] == ""


async def test_survey_hangup_then_511_is_a_clean_end(rig: Rig):
    # The caller hangs up while GET VARIABLE runs: that still answers 200, HANGUP is
    # pushed, and the GET DATA already on its way is refused with 511.
    result = await rig.call(KNOWN, ["5"], script="survey", hangup_after=1)
    assert result.commands == [
        "GET VARIABLE HOTLINE_CALLREF",
        rig.ask("survey", 5000, 1),
        'SET VARIABLE HOTLINE_SURVEY_SCORE ""',
    ]
    assert result.replies[1].startswith("511 ")
    assert rig.surveys.scores == {REF: None}


async def test_mode_switch_during_the_menu_uses_the_new_queue(rig: Rig):
    from pbx.agi_client import CallerScript, agi_environment, run_agi_session

    def flip(command: str, reply: str) -> None:
        if "greeting" in command:
            rig.mode.emergency = True  # the supervisor switches while the caller listens

    assert rig.server.port is not None
    env = agi_environment(
        script="ivr",
        host="127.0.0.1",
        port=rig.server.port,
        channel="PJSIP/trunk-1",
        uniqueid=REF,
        caller_number=KNOWN,
        caller_name="x",
    )
    result = await run_agi_session(
        "127.0.0.1",
        rig.server.port,
        script="ivr",
        env=env,
        caller=CallerScript(("2",)),
        variables={},
        on_command=flip,
    )
    assert result.variables == exit_vars("234567", "2", "7", "ok", queue="hotline-emergency")
