"""A bus message going to many consoles is encoded once, not once per socket."""

from __future__ import annotations

import json
from typing import Any

from console.outgoing import OutgoingTexts


class Counted:
    def __init__(self) -> None:
        self.encoded: list[dict[str, Any]] = []

    def __call__(self, message: dict[str, Any]) -> str:
        self.encoded.append(message)
        return json.dumps(message)


def test_one_message_for_a_hundred_sockets_is_encoded_once() -> None:
    encode = Counted()
    texts = OutgoingTexts(encode=encode)
    message = {"type": "paper_number", "call_id": "c1", "paper_number": "E000001"}
    sent = {texts.text(message) for _ in range(100)}
    assert sent == {json.dumps(message)} and len(encode.encoded) == 1


def test_an_equal_but_new_message_is_encoded_afresh() -> None:
    encode = Counted()
    texts = OutgoingTexts(encode=encode)
    texts.text({"type": "health", "verdict": "healthy"})
    texts.text({"type": "health", "verdict": "healthy"})
    assert len(encode.encoded) == 2


def test_only_the_latest_messages_are_kept() -> None:
    encode = Counted()
    texts = OutgoingTexts(size=2, encode=encode)
    first, second, third = ({"n": n} for n in range(3))
    for message in (first, second, third, third, second, first):
        texts.text(message)
    assert [m["n"] for m in encode.encoded] == [0, 1, 2, 0]
