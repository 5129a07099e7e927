"""Reading an Asterisk extensions.conf into its steps: what the stand-in's dialplan
simulation (`pbx.simulation`) is checked against (asterisk-conf/extensions.conf).

Only the syntax asterisk-conf uses: `[context]`, `exten => name,priority(label),App(...)`,
`same => n(label),App(...)`, `;` comments and a `[globals]` section.
"""

from __future__ import annotations

import re

Steps = list[tuple[int, str | None, str]]
Dialplan = dict[str, dict[str, Steps]]


def parse_dialplan(text: str) -> tuple[Dialplan, dict[str, str]]:
    """{context: {exten: [(priority, label, application), ...]}} and the [globals]."""
    contexts: Dialplan = {}
    globals_: dict[str, str] = {}
    section = None
    last_exten: str | None = None
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if m := re.fullmatch(r"\[([^\]]+)\]", line):
            section = m.group(1)
            contexts.setdefault(section, {})
            continue
        if section == "globals":
            key, _, value = line.partition("=")
            globals_[key.strip()] = value.strip()
            continue
        m = re.fullmatch(r"(exten|same)\s*=>\s*(.*)", line)
        if not m or section in (None, "general"):
            continue
        kind, rest = m.groups()
        if kind == "exten":
            exten, prio, app = rest.split(",", 2)
            last_exten = exten
        else:
            if last_exten is None:
                raise ValueError(f"`same =>` before any `exten =>`: {line!r}")
            prio, app = rest.split(",", 1)
            exten = last_exten
        steps = contexts[section].setdefault(exten, [])
        pm = re.fullmatch(r"(\d+|n)(?:\((\w+)\))?", prio)
        if pm is None or (pm.group(1) == "n" and not steps):
            raise ValueError(f"bad priority {prio!r} in {line!r}")
        number = int(pm.group(1)) if pm.group(1) != "n" else steps[-1][0] + 1
        steps.append((number, pm.group(2), app))
    return contexts, globals_


def application(step: str) -> str:
    """`Queue(${HOTLINE_QUEUE},c,,,300)` → `Queue`."""
    return step.split("(", 1)[0]


# Dialplan applications of Asterisk 22 that asterisk-conf uses, and the module that
# registers each (read from Asterisk 22.9.0's sources: ast_register_application calls in
# main/pbx_builtins.c, main/pbx_variables.c, res/res_agi.c and apps/app_*.c). "core" is
# built into the asterisk binary; the others must be loaded (modules.conf).
ASTERISK_22_APPLICATIONS: dict[str, str] = {
    "Answer": "core",
    "Goto": "core",
    "GotoIf": "core",
    "Hangup": "core",
    "NoOp": "core",
    "Set": "core",
    "Wait": "core",
    "AGI": "res_agi",
    "Dial": "app_dial",
    "MixMonitor": "app_mixmonitor",
    "StopMixMonitor": "app_mixmonitor",
    "Playback": "app_playback",
    "Queue": "app_queue",
    "UserEvent": "app_userevent",
}

# MixMonitor's option letters (AST_APP_OPTIONS(mixmonitor_opts) in apps/app_mixmonitor.c);
# the ones followed by `(...)` take an argument.
MIXMONITOR_OPTIONS = frozenset("abcdpPD")
MIXMONITOR_OPTIONS_WITH_ARGUMENT = frozenset("BvVWrtimSns")


def application_arguments(step: str) -> str:
    """`MixMonitor(${X}/${UNIQUEID}.wav,b)` → `${X}/${UNIQUEID}.wav,b`."""
    _name, _, rest = step.partition("(")
    return rest[:-1] if rest.endswith(")") else rest


def unknown_mixmonitor_options(options: str) -> list[str]:
    """Option letters app_mixmonitor would not know (empty when all are valid)."""
    unknown: list[str] = []
    i = 0
    while i < len(options):
        letter = options[i]
        i += 1
        if letter in MIXMONITOR_OPTIONS_WITH_ARGUMENT and options[i : i + 1] == "(":
            i = options.index(")", i) + 1 if ")" in options[i:] else len(options)
        elif letter not in MIXMONITOR_OPTIONS and letter not in MIXMONITOR_OPTIONS_WITH_ARGUMENT:
            unknown.append(letter)
    return unknown
