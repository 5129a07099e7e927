"""asterisk-conf/ honours the dialplan/PBX contract that the IVR, the stand-in and the
emergency switching are written against."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from pbx.agi_client import agi_environment
from pbx.dialplan import (
    ASTERISK_22_APPLICATIONS,
    application,
    application_arguments,
    parse_dialplan,
    unknown_mixmonitor_options,
)
from pbx.simulation import RECORDINGS_DIR

CONF = Path(__file__).resolve().parents[3] / "asterisk-conf"
AGI_IVR = "AGI(agi://${HOTLINE_AGI_HOST}:${HOTLINE_AGI_PORT}/ivr)"
AGI_SURVEY = "AGI(agi://${HOTLINE_AGI_HOST}:${HOTLINE_AGI_PORT}/survey)"
QUEUE = "Queue(${HOTLINE_QUEUE},c,,,300)"
SURVEY_AFTER_QUEUE = 'GotoIf($["${QUEUESTATUS}" = "CONTINUE"]?hotline-survey,s,1)'
# Every answered call is recorded (both directions, only while bridged) into the
# recordings directory, named by the caller channel's Uniqueid (= the call's Linkedid).
MIXMONITOR = "MixMonitor(${HOTLINE_RECORDINGS}/${UNIQUEID}.wav,b)"
PREFERRED_DIAL = [
    'GotoIf($["${HOTLINE_PREFERRED}" = ""]?queue)',
    "Dial(${HOTLINE_PREFERRED},${HOTLINE_PREFERRED_TIMEOUT},g)",
    'GotoIf($["${DIALSTATUS}" = "ANSWER"]?hotline-survey,s,1)',
]


@pytest.fixture(scope="module")
def dialplan():
    return parse_dialplan((CONF / "extensions.conf").read_text(encoding="utf-8"))


def apps(steps: list[tuple[int, str | None, str]]) -> list[str]:
    return [app for _p, _l, app in steps]


@pytest.mark.parametrize("exten", ["s", "_X."])
def test_hotline_in(dialplan, exten: str):
    contexts, _ = dialplan
    steps = contexts["hotline-in"][exten]
    body = apps(steps)
    assert body[1] == "Answer()"
    assert "Set(CALLERID(num)=${FILTER(0123456789+,${CALLERID(num)})})" in body
    assert (
        'Set(HOTLINE_QUEUE=${IF($["${DB(hotline/mode)}" = "emergency"]'
        "?hotline-emergency:hotline-main)})" in body
    )
    order = [
        "Set(HOTLINE_PRIORITY=1)",
        AGI_IVR,
        "Set(QUEUE_PRIO=${HOTLINE_PRIORITY})",
        MIXMONITOR,
        *PREFERRED_DIAL,
        QUEUE,
        SURVEY_AFTER_QUEUE,
        "Hangup()",
    ]
    assert body[-10:] == order
    # The preferred-engineer GotoIf skips to the labelled Queue step.
    assert next(label for _p, label, app in steps if app == QUEUE) == "queue"
    assert body.index("Answer()") < body.index(AGI_IVR)
    # The AGI step is at the priority the stand-in's agi_environment reports.
    agi_priority = next(p for p, _l, a in steps if a == AGI_IVR)
    default = agi_environment(
        script="ivr",
        host="h",
        port=1,
        channel="PJSIP/t-1",
        uniqueid="1.1",
        caller_number="1",
        caller_name="n",
    )
    assert str(agi_priority) == default["agi_priority"]


def test_every_application_is_asterisk_22s_and_loaded(dialplan):
    """The dialplan loads on Asterisk 22: each application exists there, in a module
    modules.conf does not keep from loading."""
    contexts, _ = dialplan
    text = (CONF / "modules.conf").read_text(encoding="utf-8")
    noload = set(re.findall(r"^noload\s*=>?\s*(\w+)\.so", text, re.MULTILINE))
    assert "autoload = yes" in text
    used = {
        application(step)
        for extens in contexts.values()
        for steps in extens.values()
        for _p, _l, step in steps
    }
    assert "MixMonitor" in used
    for app in used:
        assert app in ASTERISK_22_APPLICATIONS, f"{app} is not an Asterisk 22 application"
        assert ASTERISK_22_APPLICATIONS[app] not in noload, app


def test_recording_step(dialplan):
    contexts, globals_ = dialplan
    # The stand-in writes what Asterisk would under the same directory name.
    assert globals_["HOTLINE_RECORDINGS"] == RECORDINGS_DIR
    assert RECORDINGS_DIR.startswith("/")  # absolute: not under the monitor spool
    for exten in ("s", "_X."):
        steps = contexts["hotline-in"][exten]
        [mix] = [app for _p, _l, app in steps if application(app) == "MixMonitor"]
        file, options = application_arguments(mix).split(",")
        assert file.endswith(".wav")  # the format comes from the extension: WAV
        assert unknown_mixmonitor_options(options) == []
        assert "b" in options  # only bridged audio: the IVR and the hold music are not in it
        # Before both ways an agent can answer: the preferred Dial() and the Queue().
        position = [app for _p, _l, app in steps].index(mix)
        later = [application(app) for _p, _l, app in steps[position:]]
        assert "Dial" in later and "Queue" in later
    assert unknown_mixmonitor_options("bB(10)i(ID)x") == ["x"]


def test_survey_and_requeue(dialplan):
    contexts, _ = dialplan
    survey = contexts["hotline-survey"]["s"]
    assert survey[0][2] == 'GotoIf($["${HOTLINE_SURVEY}" != "1"]?done)'
    assert survey[1][2] == AGI_SURVEY
    assert survey[2][1:] == ("done", "Hangup()")
    assert apps(contexts["hotline-requeue"]["s"]) == [QUEUE, SURVEY_AFTER_QUEUE, "Hangup()"]


def test_globals_bind_agi_to_loopback(dialplan):
    _, globals_ = dialplan
    assert globals_ == {
        "HOTLINE_AGI_HOST": "127.0.0.1",
        "HOTLINE_AGI_PORT": "4573",
        "HOTLINE_RECORDINGS": RECORDINGS_DIR,
    }


def test_no_shell_anywhere(dialplan):
    contexts, _ = dialplan
    every_app = [a for ctx in contexts.values() for steps in ctx.values() for a in apps(steps)]
    assert every_app
    for app in every_app:
        assert not re.match(r"(Try)?System\(|.*SHELL\(", app, re.I), app
    modules = (CONF / "modules.conf").read_text(encoding="utf-8")
    assert "noload = app_system.so" in modules and "noload = func_shell.so" in modules


def _ini(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(
        inline_comment_prefixes=(";",), comment_prefixes=(";",), strict=False, interpolation=None
    )
    parser.read(CONF / name, encoding="utf-8")
    return parser


def test_queues():
    queues = _ini("queues.conf")
    main, emergency = queues["hotline-main"], queues["hotline-emergency"]
    assert (main["strategy"], main["timeout"], main["retry"]) == ("rrmemory", "8", "2")
    assert (emergency["strategy"], emergency["timeout"], emergency["retry"]) == (
        "ringall",
        "15",
        "2",
    )
    for q in (main, emergency):
        for key in (
            "joinempty",
            "setinterfacevar",
            "setqueuevar",
            "setqueueentryvar",
            "eventwhencalled",
            "eventmemberstatus",
        ):
            assert q[key] == "yes", key
    assert queues["general"]["persistentmembers"] == "no"


def test_manager_is_loopback_and_least_privilege():
    manager = _ini("manager.conf")
    assert manager["general"]["bindaddr"] == "127.0.0.1"
    user = manager["hotline"]
    assert user["permit"] == "127.0.0.1/255.255.255.255"
    assert user["deny"] == "0.0.0.0/0.0.0.0"
    write = set(user["write"].split(","))
    assert not write & {"all", "command", "config"}
    assert {"agent", "call", "system", "originate", "user"} <= write
    assert "all" not in user["read"].split(",")


def test_pjsip_sample_routes_trunk_and_agents():
    text = (CONF / "pjsip.conf").read_text(encoding="utf-8")
    trunk = text.split("[trunk]", 1)[1].split("[", 1)[0]
    assert "context = hotline-in" in trunk
    agent = text.split("[agent-phone](!)", 1)[1].split("[", 1)[0]
    assert "context = agents" in agent
    for n in ("1001", "1002", "1003"):
        assert f"[{n}](agent-phone)" in text


def _pattern_matches(exten: str, number: str) -> bool:
    """Asterisk extension matching for the pattern letters this dialplan uses."""
    if not exten.startswith("_"):
        return exten == number
    letters = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}
    regex = "".join(letters.get(ch, re.escape(ch)) for ch in exten[1:])
    return re.fullmatch(regex, number) is not None


def test_drill_contexts_match_what_the_drill_originates(dialplan):
    """fallback/drill.py originates Local/<9 + 7 digits>@hotline-drill into
    hotline-drill-hold,s,1 and waits for AgentConnect in hotline-emergency."""
    import inspect

    from fallback.drill import EmergencyDrill

    contexts, _ = dialplan
    defaults = inspect.signature(EmergencyDrill).parameters
    drill_ctx = contexts[defaults["context"].default]
    hold_ctx = contexts[defaults["hold_context"].default]
    queue = defaults["queue"].default
    drill_id = "9" + "0123456"  # the shape run() makes: f"9{n:07d}"
    extens = [e for e in drill_ctx if _pattern_matches(e, drill_id)]
    assert len(extens) == 1, drill_ctx.keys()
    body = apps(drill_ctx[extens[0]])
    queue_step = next(a for a in body if a.startswith("Queue("))
    assert queue_step.startswith(f"Queue({queue},,,,") and "DRILL_TIMEOUT" in queue_step
    assert "Set(QUEUE_PRIO=0)" in body  # real callers first
    assert body[-1] == "Hangup()"
    hold = apps(hold_ctx["s"])
    assert hold[0] == "Answer()" and hold[-1] == "Hangup()"
    # The older answer-test extension stays for pool members originated straight into it.
    assert apps(drill_ctx["s"])[0] == "Answer()"


def test_callback_context_dials_only_plausible_numbers(dialplan):
    import inspect

    from fallback.service import EmergencyService

    contexts, _ = dialplan
    context = inspect.signature(EmergencyService).parameters["callback_context"].default
    callback = contexts[context]

    def dialled(number: str) -> str | None:
        hits = [e for e in callback if _pattern_matches(e, number)]
        assert len(hits) <= 1, (number, hits)
        if not hits:
            return None
        app = apps(callback[hits[0]])[0]
        assert apps(callback[hits[0]])[-1] == "Hangup()"
        return app.replace("${EXTEN:3}", number[3:]).replace("${EXTEN}", number)

    assert dialled("13800138000") == "Dial(PJSIP/13800138000@trunk,45)"
    assert dialled("+8613800138000") == "Dial(PJSIP/13800138000@trunk,45)"
    assert dialled("01012345678") == "Dial(PJSIP/01012345678@trunk,45)"
    for refused in ("900123", "0012025550123", "+12025550123", "1380013800", "s"):
        assert dialled(refused) is None, refused
