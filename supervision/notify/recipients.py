"""Who hears about what: recipients by role and fault level, from configuration.

Example (TOML)::

    [[supervision.recipients]]
    name = "duty-group"
    roles = ["duty_engineer", "responsible_manager"]
    levels = [1, 2, 3, 4]                 # optional, default: every level
    channel = "dingtalk"                  # dingtalk | wecom | email | webhook | sms
    address = "https://oapi.dingtalk.com/robot/send?access_token=..."
    secret = "SEC..."                     # DingTalk signed-URL option / webhook HMAC
    at_mobiles = ["13800138000"]          # DingTalk @ mentions; SMS: the numbers to text
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from supervision.domain.errors import SupervisionConfigError
from supervision.domain.escalation import ChannelKind

CHANNEL_KINDS: Mapping[str, ChannelKind] = {
    "dingtalk": ChannelKind.IM,
    "wecom": ChannelKind.IM,
    "email": ChannelKind.EMAIL,
    "webhook": ChannelKind.WEBHOOK,
    "sms": ChannelKind.SMS,  # an HTTP SMS gateway (address = gateway URL)
}


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str
    roles: frozenset[str]
    channel: str
    address: str
    levels: frozenset[int] = frozenset({1, 2, 3, 4})
    secret: str | None = None
    at_mobiles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.channel not in CHANNEL_KINDS:
            raise SupervisionConfigError(
                f"recipient {self.name!r}: channel must be one of "
                f"{', '.join(CHANNEL_KINDS)}, not {self.channel!r}"
            )
        for value in (self.name, self.address, self.secret or "", *self.at_mobiles):
            if "\r" in value or "\n" in value:
                raise SupervisionConfigError(f"recipient {self.name!r}: CR/LF in a value")
        if not self.address:
            raise SupervisionConfigError(f"recipient {self.name!r}: address is required")
        if self.channel == "sms" and not self.at_mobiles:
            raise SupervisionConfigError(f"recipient {self.name!r}: SMS needs at_mobiles")
        if self.channel == "email":
            if "@" not in self.address:
                raise SupervisionConfigError(f"recipient {self.name!r}: not an e-mail address")
        elif not self.address.startswith(("http://", "https://")):
            raise SupervisionConfigError(f"recipient {self.name!r}: address must be an URL")

    @property
    def kind(self) -> ChannelKind:
        return CHANNEL_KINDS[self.channel]


class RecipientDirectory:
    def __init__(self, recipients: Iterable[Recipient]) -> None:
        self._recipients = tuple(recipients)
        names = [r.name for r in self._recipients]
        if len(set(names)) != len(names):
            raise SupervisionConfigError("recipient names must be unique")
        self._by_name = {r.name: r for r in self._recipients}

    @classmethod
    def from_config(cls, items: Sequence[Mapping[str, Any]]) -> RecipientDirectory:
        out: list[Recipient] = []
        for i, item in enumerate(items):
            known = {"name", "roles", "levels", "channel", "address", "secret", "at_mobiles"}
            unknown = set(item) - known
            if unknown:
                raise SupervisionConfigError(
                    f"recipient #{i + 1}: unknown key(s) {', '.join(sorted(unknown))}"
                )
            try:
                out.append(
                    Recipient(
                        name=str(item["name"]),
                        roles=frozenset(str(r) for r in item["roles"]),
                        channel=str(item["channel"]),
                        address=str(item["address"]),
                        levels=frozenset(int(v) for v in item.get("levels", (1, 2, 3, 4))),
                        secret=None if item.get("secret") is None else str(item["secret"]),
                        at_mobiles=tuple(str(m) for m in item.get("at_mobiles", ())),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                if isinstance(exc, SupervisionConfigError):
                    raise
                raise SupervisionConfigError(f"recipient #{i + 1}: {exc!r}") from exc
        return cls(out)

    @property
    def recipients(self) -> tuple[Recipient, ...]:
        return self._recipients

    def get(self, name: str) -> Recipient | None:
        return self._by_name.get(name)

    def route(self, targets: Iterable[str], level: int) -> list[Recipient]:
        """Recipients holding any of the roles for this level, each once, in config order."""
        wanted = set(targets)
        return [r for r in self._recipients if level in r.levels and r.roles & wanted]
