"""Building AMI actions safely.

panoramisk 1.4 writes header values to the socket as they are: a caller name or a
variable carrying ``\\r\\n`` becomes a second, forged header (or a whole forged
action). Here every key and value is checked before a single byte is produced; a bad
one raises `HeaderInjection` and nothing is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from ami.errors import HeaderInjection

HeaderValue = str | int | bool | Sequence[str]
_KEY = re.compile(r"^[A-Za-z0-9_()\-]+$")
_FORBIDDEN = ("\r", "\n", "\0")


def check_value(key: str, value: str) -> str:
    for ch in _FORBIDDEN:
        if ch in value:
            raise HeaderInjection(
                f"refusing AMI header {key!r}: value contains {ch!r} (header injection)"
            )
    return value


def _render(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_action(name: str, action_id: str, headers: Mapping[str, HeaderValue]) -> bytes:
    """`Action` first and `ActionID` second, as Asterisk itself writes them."""
    lines = [
        f"Action: {check_value('Action', name)}",
        f"ActionID: {check_value('ActionID', action_id)}",
    ]
    for key, value in headers.items():
        if not _KEY.match(key):
            raise HeaderInjection(f"refusing AMI header name {key!r}")
        if key.lower() in ("action", "actionid"):
            raise HeaderInjection(f"header {key!r} is set by the client itself")
        values: Iterable[str | int | bool]
        if isinstance(value, str | int | bool):
            values = (value,)
        else:
            values = value
        for item in values:
            lines.append(f"{key}: {check_value(key, _render(item))}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def variables_header(variables: Mapping[str, str]) -> list[str]:
    """Originate's repeated ``Variable: NAME=value`` lines."""
    out = []
    for name, value in variables.items():
        if "=" in name or not _KEY.match(name):
            raise HeaderInjection(f"refusing channel variable name {name!r}")
        out.append(f"{name}={check_value(name, value)}")
    return out
