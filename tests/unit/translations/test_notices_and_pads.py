"""Notices (IM, e-mail, SMS) and the printable paper pads speak the hotline's language:
Simplified Chinese by default, English when HOTLINE_LOCALE says so; the escalation's
reason is translated with its numbers, not left in English."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fallback.paper import render_pads_html
from routing.domain.levels import FaultLevel, SlaPolicy
from routing.records import TicketStatus
from supervision.domain.escalation import ActionKind, SupervisionPolicy, due_actions
from supervision.domain.notice import compose
from supervision.domain.sla import SlaTicket, assess
from supervision.notify.channels import OutboundNotice, SmsGateway, SmtpMailer, SmtpSettings
from supervision.notify.recipients import Recipient
from translations import translator

T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def notice_of(kind: ActionKind, minutes: int, language: str) -> tuple[str, str]:
    ticket = SlaTicket(
        number="HL-20261118-0001",
        level=FaultLevel.P1,
        status=TicketStatus.OPEN,
        created_at=T0,
        site_code="4401001",
        site_name="水利局会议室",
        description="MCU 掉线",
    )
    now = T0 + timedelta(minutes=minutes)
    (action,) = [a for a in due_actions([ticket], {}, now, SupervisionPolicy()) if a.kind is kind][
        -1:
    ]
    text = compose(
        action,
        assess(ticket, SlaPolicy(), now),
        now,
        zone=SHANGHAI,
        translate=translator(language).gettext,
        ack_code="ack-1",
        ack_url="http://console.local/ack/ack-1",
    )
    return text.title, text.markdown


def test_a_notice_is_in_chinese_by_catalogue() -> None:
    title, body = notice_of(ActionKind.ESCALATION, 16, "zh-CN")
    assert title == "[P1 紧急] 升级：HL-20261118-0001"
    assert "- **级别**：1 紧急" in body
    assert "- **原因**：已开单 15 分钟仍未解决" in body  # the reason, with its number
    assert "值班工程师" in body and "2026-11-18 10:00" in body
    assert "还剩" in body and "`ack-1`" in body
    # Nothing English left but the ticket number, the ack link and the Markdown.
    leftovers = set(LATIN_WORD.findall(body)) - {"MCU", "http", "console", "local", "ack"}
    assert not leftovers, leftovers


def test_a_notice_in_english() -> None:
    title, body = notice_of(ActionKind.ESCALATION, 16, "en")
    assert title == "[P1 critical] escalation: HL-20261118-0001"
    assert "- **Why**: open 15 min without resolution" in body
    assert "duty engineer" in body and "left" in body and "紧急" not in body


@pytest.mark.parametrize(
    ("kind", "minutes", "reason"),
    [
        (ActionKind.PROGRESS_REPORT, 61, "第 1 次每小时进展通报"),
        (ActionKind.BREACH, 31, "首次响应时限已超时"),
    ],
)
def test_every_reason_is_translated(kind: ActionKind, minutes: int, reason: str) -> None:
    _title, body = notice_of(kind, minutes, "zh-CN")
    assert f"- **原因**：{reason}" in body, body


def test_sms_and_mail_footers_follow_the_notice_language() -> None:
    notice = OutboundNotice(
        7, "HL-1", "[P1 紧急] 升级：HL-1", "正文", "ack-1", "http://c/ack/ack-1"
    )
    sms = Recipient("sms", frozenset({"duty_engineer"}), "sms", "http://gw", at_mobiles=("1",))
    zh = translator("zh-CN").gettext
    text = SmsGateway(None, translate=zh).payload(notice, sms)["text"]  # type: ignore[arg-type]
    assert text.endswith("确认码：ack-1 http://c/ack/ack-1"), text
    english = SmsGateway(None).payload(notice, sms)["text"]  # type: ignore[arg-type]
    assert english.endswith("ack code: ack-1 http://c/ack/ack-1"), english

    mail = Recipient("m", frozenset({"x"}), "email", "boss@example.org")
    body = SmtpMailer(SmtpSettings(), translate=zh).message(notice, mail).get_content()
    assert "确认：http://c/ack/ack-1（确认码 ack-1）" in body, body


@pytest.mark.parametrize(
    ("language", "present", "absent"),
    [
        ("zh-CN", ["来电号码", "故障描述", "1 紧急", "应急纸质工单 E000042"], ["Caller number"]),
        ("en", ["Caller number", "Fault description", "1 critical"], ["来电号码", "紧急"]),
    ],
)
def test_paper_pads_in_one_language(language: str, present: list[str], absent: list[str]) -> None:
    page = render_pads_html(2, 42, language=language)
    assert f'<html lang="{language}">' in page
    assert page.count('class="sheet"') == 2 and "E000043" in page
    for text in present:
        assert text in page, text
    for text in absent:
        assert text not in page, text
