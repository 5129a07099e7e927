"""What the console's websockets send: each bus message's JSON text, encoded once."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable

from bus.base import Message


def json_text(message: Message) -> str:
    return json.dumps(message, default=str)


class OutgoingTexts:
    """The JSON text of the messages being relayed, encoded once for every socket they go
    to: an `emergency` message (a paper number, a health round) reaches every console.

    The bus hands each subscriber the same message object; the last `size` are kept with
    their text (and held, so that their `id` is not reused meanwhile)."""

    def __init__(self, size: int = 64, encode: Callable[[Message], str] = json_text) -> None:
        self._recent: OrderedDict[int, tuple[Message, str]] = OrderedDict()
        self._size = size
        self._encode = encode

    def text(self, message: Message) -> str:
        known = self._recent.get(id(message))
        if known is not None:  # the very object: it is held, so its id is its own
            return known[1]
        text = self._encode(message)
        self._recent[id(message)] = (message, text)
        if len(self._recent) > self._size:
            self._recent.popitem(last=False)
        return text
