"""Channels against real local peers: HTTP recorder (robots, webhook) and aiosmtpd."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import unquote_plus

import httpx
import pytest

from routing.domain.levels import FaultLevel
from storage.database import Database
from storage.supervision import SupervisionRepository
from supervision.domain.errors import HeaderInjection, SupervisionConfigError
from supervision.domain.escalation import Action, ActionKind, ChannelKind
from supervision.notify import (
    DingTalkRobot,
    JsonWebhook,
    NoticeDispatcher,
    OutboundNotice,
    Recipient,
    RecipientDirectory,
    RetryPolicy,
    SmtpMailer,
    WeComRobot,
)
from supervision.notify.channels import SmtpSettings
from supervision.ports import SupervisionStore
from supervision.records import NoticeDraft

from .conftest import HttpRecorder, MailSink

NOW = datetime(2026, 11, 18, 2, 15, tzinfo=UTC)
TS = 1_763_431_200_123
SECRET = "SEC0123456789abcdef"


def notice(nid: int = 1) -> OutboundNotice:
    return OutboundNotice(
        nid,
        "HL-20261118-0001",
        "[P1 紧急] 升级 escalation: HL-20261118-0001",
        "### title\n- **Level**: P1",
        "ack-code-1",
        "http://console.local/ack/ack-code-1",
        "HL-20261118-0001/esc/1/0",
    )


async def test_dingtalk_markdown_payload_and_signed_url(http_recorder: HttpRecorder) -> None:
    rcpt = Recipient(
        "duty",
        frozenset({"duty_engineer"}),
        "dingtalk",
        http_recorder.url("/robot/send?access_token=tok123"),
        secret=SECRET,
        at_mobiles=("13800138000",),
    )
    async with httpx.AsyncClient() as client:
        await DingTalkRobot(client, clock_ms=lambda: TS).deliver(notice(), rcpt)
    (req,) = http_recorder.to("/robot/send")
    assert req.method == "POST"
    assert req.headers["content-type"].startswith("application/json")
    assert req.json() == {
        "msgtype": "markdown",
        "markdown": {
            "title": "[P1 紧急] 升级 escalation: HL-20261118-0001",
            "text": "### title\n- **Level**: P1\n\n@13800138000",
        },
        "at": {"atMobiles": ["13800138000"], "isAtAll": False},
    }
    assert req.query["access_token"] == ["tok123"]
    assert req.query["timestamp"] == [str(TS)]
    # parse_qs decoded the URL-encoding once; recompute DingTalk's HMAC independently.
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), f"{TS}\n{SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    assert req.query["sign"] == [expected]


async def test_dingtalk_sign_is_url_encoded() -> None:
    from supervision.notify import dingtalk_sign

    sign = dingtalk_sign(SECRET, TS)
    assert "+" not in sign and "/" not in sign and "=" not in sign
    raw = base64.b64decode(unquote_plus(sign))
    assert raw == hmac.new(SECRET.encode(), f"{TS}\n{SECRET}".encode(), hashlib.sha256).digest()


async def test_wecom_markdown_payload(http_recorder: HttpRecorder) -> None:
    rcpt = Recipient(
        "ops",
        frozenset({"duty_engineer"}),
        "wecom",
        http_recorder.url("/cgi-bin/webhook/send?key=abc"),
    )
    async with httpx.AsyncClient() as client:
        await WeComRobot(client).deliver(notice(), rcpt)
    (req,) = http_recorder.to("/cgi-bin/webhook/send")
    assert req.query == {"key": ["abc"]}
    assert req.json() == {
        "msgtype": "markdown",
        "markdown": {"content": "### title\n- **Level**: P1"},
    }


async def test_generic_webhook_is_signed(http_recorder: HttpRecorder) -> None:
    rcpt = Recipient(
        "itsm", frozenset({"duty_engineer"}), "webhook", http_recorder.url("/hook"), secret="s3"
    )
    async with httpx.AsyncClient() as client:
        await JsonWebhook(client).deliver(notice(), rcpt)
    (req,) = http_recorder.to("/hook")
    body = req.json()
    assert body["type"] == "hotline.notice" and body["ack_code"] == "ack-code-1"
    assert body["ticket_number"] == "HL-20261118-0001" and body["recipient"] == "itsm"
    mac = hmac.new(b"s3", req.body, hashlib.sha256).hexdigest()
    assert req.headers["x-hotline-signature"] == f"sha256={mac}"


async def test_email_reaches_the_smtp_server(smtp_sink: MailSink) -> None:
    rcpt = Recipient("manager", frozenset({"responsible_manager"}), "email", "boss@example.org")
    mailer = SmtpMailer(SmtpSettings(port=smtp_sink.port, sender="hotline@example.org"))
    await mailer.deliver(notice(), rcpt)
    ((envelope, msg),) = smtp_sink.messages
    assert envelope.rcpt_tos == ["boss@example.org"]
    assert envelope.mail_from == "hotline@example.org"
    assert msg["Subject"] == "[P1 紧急] 升级 escalation: HL-20261118-0001"
    assert msg["X-Hotline-Ack-Code"] == "ack-code-1"
    text = msg.get_content()
    assert "http://console.local/ack/ack-code-1" in text and "- **Level**: P1" in text


async def test_header_injection_is_refused() -> None:
    mailer = SmtpMailer(SmtpSettings())
    bad = OutboundNotice(1, "T", "subject\r\nBcc: evil@example.org", "x", "c", None)
    rcpt = Recipient("m", frozenset({"x"}), "email", "boss@example.org")
    with pytest.raises(HeaderInjection):
        mailer.message(bad, rcpt)
    with pytest.raises(SupervisionConfigError):
        Recipient("m", frozenset({"x"}), "email", "boss@example.org\r\nBcc: e@x")


def test_routing_by_role_and_level() -> None:
    directory = RecipientDirectory.from_config(
        [
            {
                "name": "duty",
                "roles": ["duty_engineer"],
                "channel": "wecom",
                "address": "http://h/1",
            },
            {
                "name": "head",
                "roles": ["service_centre_head"],
                "levels": [1],
                "channel": "email",
                "address": "head@example.org",
            },
            {
                "name": "team",
                "roles": ["emergency_team", "duty_engineer"],
                "levels": [1, 2],
                "channel": "dingtalk",
                "address": "http://h/2",
            },
        ]
    )
    assert [r.name for r in directory.route(["duty_engineer"], 3)] == ["duty"]
    assert [r.name for r in directory.route(["duty_engineer"], 2)] == ["duty", "team"]
    assert [r.name for r in directory.route(["service_centre_head", "remote_expert"], 1)] == [
        "head"
    ]
    assert directory.route(["service_centre_head"], 2) == []
    with pytest.raises(SupervisionConfigError, match="unknown key"):
        RecipientDirectory.from_config(
            [{"name": "x", "roles": [], "channel": "sms", "address": "a", "phone": "1"}]
        )
    with pytest.raises(SupervisionConfigError, match="channel"):
        RecipientDirectory.from_config(
            [{"name": "x", "roles": [], "channel": "fax", "address": "a"}]
        )


async def _recorded(store: SupervisionStore, recipient: str, channel: str) -> int:
    action = Action(
        "HL-1/esc/1/0",
        ActionKind.ESCALATION,
        "HL-1",
        FaultLevel.P1,
        ("duty_engineer",),
        NOW,
        "test",
        0,
    )
    written = await store.record_steps(
        [(action, [NoticeDraft(recipient, channel, ChannelKind.IM, "t", "body", "code-xyz")])],
        NOW,
    )
    return written[action.key][0].id


async def test_failing_endpoint_is_retried_and_recorded(
    database: Database, http_recorder: HttpRecorder
) -> None:
    http_recorder.on("/flaky", (500, {}), (503, {}))
    http_recorder.on("/dead", *[(500, {"oops": True})] * 10)
    directory = RecipientDirectory(
        [
            Recipient("flaky", frozenset({"duty_engineer"}), "wecom", http_recorder.url("/flaky")),
            Recipient("dead", frozenset({"duty_engineer"}), "wecom", http_recorder.url("/dead")),
        ]
    )
    store = SupervisionRepository(database)
    delays: list[float] = []

    async def no_wait(seconds: float) -> None:
        delays.append(seconds)

    async with httpx.AsyncClient() as client:
        dispatcher = NoticeDispatcher(
            store,
            directory,
            {"wecom": WeComRobot(client)},
            clock=lambda: NOW,
            retry=RetryPolicy(max_attempts=4, first_delay=1.0, max_delay=3.0),
            sleep=no_wait,
        )
        flaky_id = await _recorded(store, "flaky", "wecom")
        (pending,) = await store.undelivered()
        assert await dispatcher.deliver(pending) is True
        assert len(http_recorder.to("/flaky")) == 3
        assert delays == [1.0, 2.0]

        action = Action(
            "HL-1/esc/1/1",
            ActionKind.ESCALATION,
            "HL-1",
            FaultLevel.P1,
            ("emergency_team",),
            NOW,
            "test",
            1,
        )
        written = await store.record_steps(
            [(action, [NoticeDraft("dead", "wecom", ChannelKind.IM, "t", "b", "code-dead")])],
            NOW,
        )
        delays.clear()
        assert await dispatcher.deliver(written[action.key][0]) is False
        assert len(http_recorder.to("/dead")) == 4
        assert delays == [1.0, 2.0, 3.0]

    by_id = {n.id: n for n in await store.notices()}
    flaky = by_id[flaky_id]
    assert (flaky.state, flaky.attempts, flaky.delivered_at) == ("delivered", 3, NOW)
    dead = by_id[written[action.key][0].id]
    assert (dead.state, dead.attempts) == ("failed", 4)
    assert "HTTP 500" in dead.last_error
    assert await store.undelivered() == []


async def test_robot_refusal_is_not_retried(
    database: Database, http_recorder: HttpRecorder
) -> None:
    http_recorder.on("/robot/send", (200, {"errcode": 310000, "errmsg": "sign not match"}))
    directory = RecipientDirectory(
        [
            Recipient(
                "duty",
                frozenset({"duty_engineer"}),
                "dingtalk",
                http_recorder.url("/robot/send?access_token=t"),
                secret="wrong",
            ),
        ]
    )
    store = SupervisionRepository(database)
    async with httpx.AsyncClient() as client:
        dispatcher = NoticeDispatcher(
            store, directory, {"dingtalk": DingTalkRobot(client)}, clock=lambda: NOW
        )
        await _recorded(store, "duty", "dingtalk")
        (pending,) = await store.undelivered()
        assert await dispatcher.deliver(pending) is False
    (stored,) = await store.notices()
    assert (stored.state, stored.attempts) == ("failed", 1)
    assert "310000" in stored.last_error and "sign not match" in stored.last_error
    assert json.loads(http_recorder.requests[0].body)["msgtype"] == "markdown"


async def test_sms_gateway_gets_a_short_text(http_recorder: HttpRecorder) -> None:
    from supervision.notify import SmsGateway

    rcpt = Recipient(
        "oncall-sms",
        frozenset({"duty_engineer"}),
        "sms",
        http_recorder.url("/sms/send"),
        secret="gw-token",
        at_mobiles=("13800138000", "13900139000"),
    )
    async with httpx.AsyncClient() as client:
        await SmsGateway(client).deliver(notice(7), rcpt)
    (req,) = http_recorder.to("/sms/send")
    assert req.headers["authorization"] == "Bearer gw-token"
    body = req.json()
    assert body["to"] == ["13800138000", "13900139000"]
    assert body["text"].startswith("[P1 紧急] 升级 escalation: HL-20261118-0001")
    assert "ack-code-1" in body["text"] and "http://console.local/ack/ack-code-1" in body["text"]
    assert len(body["text"]) <= SmsGateway.MAX_CHARS and body["reference"] == "notice-7"
    with pytest.raises(SupervisionConfigError, match="at_mobiles"):
        Recipient("x", frozenset({"duty_engineer"}), "sms", "http://gw/send")
