"""AMI framing: strict CR LF line ends, Asterisk's limits, no header forgery."""

from __future__ import annotations

import pytest

from pbx.domain.wire import MAX_HEADERS, MAX_LINE_BYTES, ActionDecoder, encode_message


def test_actions_split_across_reads_and_joined_in_one_read() -> None:
    decoder = ActionDecoder()
    data = b"Action: Ping\r\nActionID: 1\r\n\r\nAction: Logoff\r\nActionID: 2\r\n\r\n"
    got = []
    for i in range(len(data)):  # one byte at a time
        got += decoder.feed(data[i : i + 1])
    assert [(a.name, a.action_id) for a in got] == [("Ping", "1"), ("Logoff", "2")]
    assert [a.name for a in ActionDecoder().feed(data)] == ["Ping", "Logoff"]


@pytest.mark.parametrize(
    ("line", "key", "value"),
    [
        (b"Key: value", "Key", "value"),
        (b"Key:value", "Key", "value"),
        (b"Key:   spaced value ", "Key", "spaced value "),
        (b"RequestType: Action: NoSuchAction", "RequestType", "Action: NoSuchAction"),
        (b"AccountCode: ", "AccountCode", ""),
        (b"Cause-txt: Normal Clearing", "Cause-txt", "Normal Clearing"),
    ],
)
def test_header_split_on_the_first_colon(line: bytes, key: str, value: str) -> None:
    (action,) = ActionDecoder().feed(b"Action: X\r\n" + line + b"\r\n\r\n")
    assert action.headers[1] == (key, value)
    assert action.get(key.upper()) == value  # names are case-insensitive


@pytest.mark.parametrize("junk", [b"UserEvent: A\nEvent: Forged", b"Value: a\rEvent: Forged"])
def test_bare_cr_or_lf_taints_the_action(junk: bytes) -> None:
    (action,) = ActionDecoder().feed(b"Action: UserEvent\r\n" + junk + b"\r\n\r\n")
    assert action.tainted
    assert not action.has("Event")  # never split into a header of its own


def test_over_long_line_is_dropped_like_asterisk() -> None:
    decoder = ActionDecoder()
    assert decoder.feed(b"Action: Ping\r\nJunk: " + b"x" * (MAX_LINE_BYTES * 50)) == []
    (action,) = decoder.feed(b"\r\nActionID: 7\r\n\r\n")
    assert action.name == "Ping" and action.action_id == "7"
    assert not action.has("Junk")
    assert decoder.dropped_lines >= 1


def test_header_count_is_capped() -> None:
    many = b"".join(b"H%d: v\r\n" % i for i in range(MAX_HEADERS * 3))
    (action,) = ActionDecoder().feed(b"Action: Ping\r\n" + many + b"\r\n")
    assert len(action.headers) == MAX_HEADERS


def test_blank_lines_and_colonless_lines_make_no_action() -> None:
    assert ActionDecoder().feed(b"\r\n\r\nno colon\r\n\r\n") == []


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    (action,) = ActionDecoder().feed(b"Action: Ping\r\nX: \xff\xfe\r\n\r\n")
    assert action.get("X") == "\ufffd\ufffd"


def test_missing_action_id_is_none() -> None:
    (action,) = ActionDecoder().feed(b"Action: Ping\r\n\r\n")
    assert action.action_id is None


def test_encode_orders_headers_and_neutralises_cr_lf() -> None:
    assert encode_message([("Response", "Success"), ("ActionID", "1")]) == (
        b"Response: Success\r\nActionID: 1\r\n\r\n"
    )
    data = encode_message([("Event", "VarSet"), ("Value", "a\r\nEvent: Forged")])
    assert data == b"Event: VarSet\r\nValue: a  Event: Forged\r\n\r\n"
    assert encode_message([("CallerIDName", "张伟")]) == "CallerIDName: 张伟\r\n\r\n".encode()
