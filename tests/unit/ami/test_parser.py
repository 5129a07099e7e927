"""Framing parser: real-world quirks and a property test on arbitrary byte streams."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ami.protocol import MAX_MESSAGE_BYTES, AmiFrameParser, AmiMessage, parse_message


def feed_all(
    parser: AmiFrameParser, data: bytes, chunks: list[int] | None = None
) -> list[AmiMessage]:
    out: list[AmiMessage] = []
    if not chunks:
        return parser.feed(data)
    pos = 0
    for size in chunks:
        out += parser.feed(data[pos : pos + size])
        pos += size
    out += parser.feed(data[pos:])
    return out


def test_banner_then_messages() -> None:
    p = AmiFrameParser()
    msgs = p.feed(
        b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\n"
        b"Message: Authentication accepted\r\n\r\n"
    )
    assert p.banner == "Asterisk Call Manager/11.0.0"
    assert [m.response for m in msgs] == ["Success"]


def test_event_ending_in_crlf_lf_does_not_swallow_the_next() -> None:
    p = AmiFrameParser(expect_banner=False)
    msgs = p.feed(b"Event: A\r\nX: 1\r\n\nEvent: B\r\nX: 2\r\n\r\n")
    assert [m.event for m in msgs] == ["A", "B"]


def test_stray_blank_lines_and_bare_lf() -> None:
    p = AmiFrameParser(expect_banner=False)
    msgs = p.feed(b"\r\n\r\n\r\nEvent: A\nX: 1\n\n\r\n\r\nEvent: B\r\n\r\n")
    assert [m.event for m in msgs] == ["A", "B"]
    assert p.discarded == 0


def test_long_lines_and_values_with_colon_space() -> None:
    value = "x" * 20000
    p = AmiFrameParser(expect_banner=False)
    raw = (
        f"Event: RequestBadFormat\r\nRequestType: Action: NoSuchAction\r\n"
        f"Long: {value}\r\nAccountCode: \r\nCause-txt: Normal Clearing\r\n\r\n"
    )
    [m] = p.feed(raw.encode())
    assert m.get("RequestType") == "Action: NoSuchAction"
    assert m.get("Long") == value
    assert m.get("AccountCode") == ""
    assert m.get("Cause-txt") == "Normal Clearing"


def test_repeated_keys_are_kept_in_order() -> None:
    m = parse_message(b"Response: Success\r\nOutput: a\r\nOutput: b\r\nOutput: c")
    assert m is not None
    assert m.getall("Output") == ["a", "b", "c"]
    assert m.get("output") == "a"


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    p = AmiFrameParser(expect_banner=False)
    [m] = p.feed(b"Event: X\r\nName: \xff\xfe ok\r\n\r\n")
    assert m.get("Name").endswith(" ok")


def test_runaway_message_is_bounded() -> None:
    p = AmiFrameParser(expect_banner=False)
    p.feed(b"Event: X\r\nJunk: " + b"y" * (MAX_MESSAGE_BYTES + 10) + b"\r\n")
    assert p.pending_bytes <= MAX_MESSAGE_BYTES
    [m] = p.feed(b"\r\nEvent: Good\r\n\r\n")
    assert m.event == "Good"


safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=40,
)
header_key = st.from_regex(r"[A-Za-z][A-Za-z0-9\-]{0,15}", fullmatch=True)
message_st = st.lists(st.tuples(header_key, safe_text), min_size=1, max_size=8)


def encode(headers: list[tuple[str, str]]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in [("Event", "T"), *headers]) + "\r\n").encode()


@settings(max_examples=300, deadline=None)
@given(
    garbage=st.binary(max_size=300),
    messages=st.lists(message_st, min_size=1, max_size=5),
    cuts=st.lists(st.integers(min_value=1, max_value=64), max_size=20),
)
def test_arbitrary_bytes_never_crash_nor_desynchronise_what_follows(
    garbage: bytes, messages: list[list[tuple[str, str]]], cuts: list[int]
) -> None:
    parser = AmiFrameParser(expect_banner=False)
    # Whatever the garbage, a blank line re-synchronises the stream.
    stream = garbage + b"\r\n\r\n" + b"".join(encode(m) for m in messages)
    out = feed_all(parser, stream, cuts)
    tail = out[-len(messages) :]
    assert [m.headers[1:] for m in tail] == messages
    assert parser.pending_bytes == 0
