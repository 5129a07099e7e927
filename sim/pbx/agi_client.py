"""FastAGI client half of the PBX stand-in: it plays Asterisk towards our IVR server.

One call's `AGI(agi://host:port/script)` step: connect, send the `agi_*` environment
block exactly like Asterisk 22 does (see `f-fastagi-ivr.txt`), then answer every command
line the server sends with the reply a real Asterisk gives, until the server closes the
socket. The caller's key presses come from a `CallerScript`; a caller can hang up while
any command runs, after which Asterisk's dead-channel behaviour is reproduced
(`200 result=-1`, an unsolicited `HANGUP`, `511` for media commands).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import zlib
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

DTMF_KEYS = frozenset("0123456789*#ABCD")
REPLY_INVALID = "510 Invalid or unknown command"
# What a build without XML docs answers (the transcripts' Asterisk); a single line.
REPLY_USAGE = "520 Invalid command syntax.  Proper usage not available."
REPLY_DEAD = "511 Command Not Permitted on a dead channel or intercept routine"
AGI_VERSION = "22.10.1"
# Samples per simulated prompt at 8 kHz (what `endpos` counts).
PROMPT_SAMPLES = 8000
_VAR_REF = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class CallerScript:
    """What the simulated caller does during the AGI session.

    `inputs`: one entry per digit-reading command (GET DATA / WAIT FOR DIGIT / STREAM FILE
    with escape digits), the keys pressed, e.g. ``"234567#"``, ``"1"``; ``""`` is silence
    (timeout). Consumed in order; silence once exhausted.
    `hangup_after_commands`: the caller hangs up while the Nth AGI command (1-based) runs.
    """

    inputs: tuple[str, ...] = ()
    hangup_after_commands: int | None = None

    def __post_init__(self) -> None:
        for entry in self.inputs:
            bad = set(entry) - DTMF_KEYS
            if bad:
                raise ValueError(f"not DTMF keys in caller input {entry!r}: {sorted(bad)}")
        if self.hangup_after_commands is not None and self.hangup_after_commands < 1:
            raise ValueError("hangup_after_commands is 1-based")


@dataclass
class AgiSessionResult:
    commands: list[str]  # exact command lines received, without the trailing \n
    variables: dict[str, str]  # channel variables after the session
    hung_up: bool
    error: str | None  # connection refused / protocol error, if any
    replies: list[str] = field(default_factory=list)  # what we answered, same order


def agi_environment(
    *,
    script: str,
    host: str,
    port: int,
    channel: str,
    uniqueid: str,
    caller_number: str,
    caller_name: str,
    dnid: str = "4000",
    context: str = "hotline-in",
    extension: str = "4000",
    priority: int = 7,
    language: str = "en",
) -> dict[str, str]:
    """The `agi_*` block in the order and shape Asterisk 22 sends it."""
    env = {
        "agi_network": "yes",
        "agi_network_script": script,
        "agi_request": f"agi://{host}:{port}/{script}",
        "agi_channel": channel,
        "agi_language": language,
        "agi_type": channel.split("/", 1)[0],
        "agi_uniqueid": uniqueid,
        "agi_version": AGI_VERSION,
        "agi_callerid": caller_number or "unknown",
        "agi_calleridname": caller_name or "unknown",
        "agi_callingpres": "0",
        "agi_callingani2": "0",
        "agi_callington": "0",
        "agi_callingtns": "0",
        "agi_dnid": dnid or "unknown",
        "agi_rdnis": "unknown",
        "agi_context": context,
        "agi_extension": extension,
        "agi_priority": str(priority),
        "agi_enhanced": "0.0",
        "agi_accountcode": "",
        # A thread id looks like a pointer-sized number; keep it stable per channel.
        "agi_threadid": str(140699000000000 + zlib.crc32(uniqueid.encode()) % 999999999),
    }
    for key, value in env.items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"CR/LF in AGI environment value {key}")
    return env


def parse_agi_args(line: str) -> list[str]:
    """Split a command line the way Asterisk's res_agi `parse_args` does.

    Whitespace separates arguments, double quotes group (and may yield an empty
    argument), a backslash escapes the next character.
    """
    args: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    started = False
    for ch in line:
        if escaped:
            current.append(ch)
            escaped = False
            started = True
        elif ch == "\\":
            escaped = True
            started = True
        elif ch == '"':
            quoted = not quoted
            started = True
        elif ch in " \t" and not quoted:
            if started:
                args.append("".join(current))
                current = []
                started = False
        else:
            current.append(ch)
            started = True
    if started:
        args.append("".join(current))
    return args


# Commands res_agi still runs on a hung-up channel (its `dead` flag); all others get 511.
_DEAD_OK = (
    ("SET", "VARIABLE"),
    ("GET", "VARIABLE"),
    ("GET", "FULL", "VARIABLE"),
    ("VERBOSE",),
    ("NOOP",),
    ("DATABASE", "GET"),
    ("DATABASE", "PUT"),
    ("DATABASE", "DEL"),
    ("EXEC",),
)
_KNOWN = (
    ("ANSWER",),
    ("STREAM", "FILE"),
    ("GET", "DATA"),
    ("WAIT", "FOR", "DIGIT"),
    ("HANGUP",),
    *_DEAD_OK,
)


class _Channel:
    """State of the simulated caller channel during one session."""

    def __init__(
        self,
        env: Mapping[str, str],
        caller: CallerScript,
        variables: MutableMapping[str, str],
    ) -> None:
        self.env = env
        self.inputs = list(caller.inputs)
        self.hangup_at = caller.hangup_after_commands
        self.variables = variables
        self.dead = False
        self.count = 0

    def next_input(self) -> str:
        return self.inputs.pop(0) if self.inputs else ""

    def lookup(self, name: str) -> str | None:
        upper = name.upper()
        if upper == "CALLERID(NUM)":
            return self.env.get("agi_callerid", "")
        if upper == "CALLERID(NAME)":
            return self.env.get("agi_calleridname", "")
        if upper == "UNIQUEID":
            return self.env.get("agi_uniqueid", "")
        if upper == "CHANNEL":
            return self.env.get("agi_channel", "")
        return self.variables.get(name)

    def reply(self, line: str) -> tuple[str, bool]:
        """The reply line for one command, and whether the caller hung up during it."""
        self.count += 1
        hangs_up_now = not self.dead and self.hangup_at == self.count
        words = parse_agi_args(line)
        upper = [w.upper() for w in words]
        known = next((k for k in _KNOWN if tuple(upper[: len(k)]) == k), None)
        if known is None:
            return REPLY_INVALID, False
        args = words[len(known) :]
        if self.dead and known not in _DEAD_OK:
            return REPLY_DEAD, False
        if hangs_up_now:
            self.dead = True
            if known in _DEAD_OK:
                return self._run(known, args), True
            # A command interrupted by the hang-up reports -1 (GET DATA, STREAM FILE, ...).
            if known == ("STREAM", "FILE"):
                return "200 result=-1 endpos=0", True
            return "200 result=-1", True
        return self._run(known, args), False

    def _run(self, cmd: tuple[str, ...], args: list[str]) -> str:
        if cmd == ("ANSWER",):
            return "200 result=0"
        if cmd == ("NOOP",) or cmd == ("VERBOSE",):
            return "200 result=1" if cmd == ("VERBOSE",) else "200 result=0"
        if cmd == ("HANGUP",):
            self.dead = True
            return "200 result=1"
        if cmd == ("STREAM", "FILE"):
            if len(args) < 2:
                return REPLY_USAGE
            escape = args[1]
            if not escape:
                return f"200 result=0 endpos={PROMPT_SAMPLES}"
            pressed = self.next_input()
            if pressed and pressed[0] in escape:
                return f"200 result={ord(pressed[0])} endpos={PROMPT_SAMPLES // 4}"
            return f"200 result=0 endpos={PROMPT_SAMPLES}"
        if cmd == ("GET", "DATA"):
            if not args:
                return REPLY_USAGE
            max_digits = 1024
            if len(args) >= 3:
                if not args[2].isdigit():
                    return REPLY_USAGE
                max_digits = int(args[2])
            if len(args) >= 2 and not args[1].lstrip("-").isdigit():
                return REPLY_USAGE
            pressed = self.next_input()
            digits = ""
            for key in pressed:
                if key == "#":
                    return f"200 result={digits}"
                digits += key
                if len(digits) >= max_digits:
                    return f"200 result={digits}"
            return f"200 result={digits} (timeout)"
        if cmd == ("WAIT", "FOR", "DIGIT"):
            if not args or not args[0].lstrip("-").isdigit():
                return REPLY_USAGE
            pressed = self.next_input()
            return f"200 result={ord(pressed[0])}" if pressed else "200 result=0"
        if cmd == ("SET", "VARIABLE"):
            if len(args) < 2:
                return REPLY_USAGE
            self.variables[args[0]] = args[1]
            return "200 result=1"
        if cmd == ("GET", "VARIABLE"):
            if len(args) != 1:
                return REPLY_USAGE
            value = self.lookup(args[0])
            return "200 result=0" if value is None else f"200 result=1 ({value})"
        if cmd == ("GET", "FULL", "VARIABLE"):
            if not args:
                return REPLY_USAGE
            expanded = _VAR_REF.sub(lambda m: self.lookup(m.group(1)) or "", args[0])
            return f"200 result=1 ({expanded})"
        if cmd == ("EXEC",):
            if not args:
                return REPLY_USAGE
            return "200 result=0"
        if cmd[0] == "DATABASE":
            return "200 result=0"
        return REPLY_INVALID


async def run_agi_session(
    host: str,
    port: int,
    *,
    script: str,
    env: Mapping[str, str],
    caller: CallerScript,
    variables: MutableMapping[str, str],
    on_command: Callable[[str, str], Awaitable[None] | None] | None = None,
    prompt_seconds: float = 0.0,
    idle_timeout: float = 60.0,
) -> AgiSessionResult:
    """Run one FastAGI session against the server at host:port.

    `variables` is the caller channel's variable table: read by GET VARIABLE, written by
    SET VARIABLE in place (so the dialplan after the AGI step sees the IVR's choices).
    `on_command(command, reply)` is called after each reply is sent. `prompt_seconds`
    simulates the playback time of each prompt. `idle_timeout` bounds the wait for the
    next command (Asterisk itself would wait forever; a simulator should not).
    """
    commands: list[str] = []
    replies: list[str] = []
    block = dict(env)
    block["agi_network_script"] = script
    for key, value in block.items():
        if any(c in key + value for c in "\r\n"):
            return AgiSessionResult(commands, dict(variables), False, f"CR/LF in {key}")
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        return AgiSessionResult(commands, dict(variables), False, f"connect failed: {exc}")
    channel = _Channel(block, caller, variables)
    hung_up = False
    error: str | None = None
    uniqueid = block.get("agi_uniqueid", "?")
    try:
        header = "".join(f"{k}: {v}\n" for k, v in block.items()) + "\n"
        writer.write(header.encode("utf-8"))
        await writer.drain()
        while True:
            try:
                async with asyncio.timeout(idle_timeout):
                    raw = await reader.readline()
            except TimeoutError:
                error = f"no command from the AGI server within {idle_timeout} s"
                break
            if not raw:
                break  # the server closed: the dialplan continues
            if not raw.endswith(b"\n"):
                error = "AGI server sent a partial command line before closing"
                break
            try:
                line = raw[:-1].decode("utf-8")
            except UnicodeDecodeError:
                error = "AGI server sent a command that is not UTF-8"
                break
            commands.append(line)
            reply, hangs_up_now = channel.reply(line.rstrip("\r"))
            upper = line.upper()
            if (
                prompt_seconds > 0
                and not channel.dead
                and upper.startswith(("STREAM FILE", "GET DATA"))
            ):
                await asyncio.sleep(prompt_seconds)
            out = reply + "\n"
            if hangs_up_now or (upper.startswith("HANGUP") and reply.startswith("200")):
                # Asterisk pushes an unsolicited HANGUP once the channel is gone.
                out += "HANGUP\n"
                hung_up = True
                log.debug("call %s: caller hung up during %r", uniqueid, line)
            replies.append(reply)
            writer.write(out.encode("utf-8"))
            await writer.drain()
            if on_command is not None:
                maybe = on_command(line, reply)
                if inspect.isawaitable(maybe):
                    await maybe
    except (ConnectionError, OSError) as exc:
        error = f"connection lost: {exc}"
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass
    return AgiSessionResult(commands, dict(variables), hung_up, error, replies)
