"""Notification channels. Each delivers one notice or raises `DeliveryError`."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

import httpx

from supervision.domain.errors import DeliveryError, HeaderInjection
from supervision.notify.recipients import Recipient

# A gettext of the notice language (the same one the notice's text was composed in).
Translate = Callable[[str], str]


def _as_is(message: str) -> str:
    return message


# Vendor error codes meaning "too many messages, try again later".
_RATE_LIMITED = {130101, 45009}


@dataclass(frozen=True, slots=True)
class OutboundNotice:
    notice_id: int
    ticket_number: str
    title: str
    markdown: str
    ack_code: str
    ack_url: str | None
    step_key: str = ""
    # Facts a program reading a webhook wants as fields (e.g. site_code, caller_number).
    details: tuple[tuple[str, str], ...] = ()


class Channel(Protocol):
    name: str

    async def deliver(self, notice: OutboundNotice, recipient: Recipient) -> None: ...


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature: urlencode(base64(HMAC-SHA256(secret, f"{ts}\\n{secret}")))."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode("ascii"))


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"


async def _post_json(
    client: httpx.AsyncClient,
    channel: str,
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str] | None = None,
    *,
    vendor_errcode: bool,
) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    try:
        response = await client.post(
            url,
            content=body,
            headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(channel, f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 400:
        retryable = response.status_code >= 500 or response.status_code == 429
        raise DeliveryError(channel, f"HTTP {response.status_code}", retryable=retryable)
    if vendor_errcode:
        try:
            answer = response.json()
            code = int(answer.get("errcode", 0))
            message = str(answer.get("errmsg", ""))
        except (ValueError, AttributeError) as exc:
            raise DeliveryError(channel, "answer is not the robot's JSON") from exc
        if code != 0:
            raise DeliveryError(
                channel, f"errcode {code}: {message}", retryable=code in _RATE_LIMITED
            )


class DingTalkRobot:
    """DingTalk custom group robot (markdown message; signed URL when a secret is set)."""

    name = "dingtalk"

    def __init__(
        self, client: httpx.AsyncClient, *, clock_ms: Callable[[], int] | None = None
    ) -> None:
        self._client = client
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))

    @staticmethod
    def payload(notice: OutboundNotice, recipient: Recipient) -> dict[str, Any]:
        text = notice.markdown
        if recipient.at_mobiles:
            # DingTalk only notifies @mobiles that also appear in the text.
            text += "\n\n" + " ".join(f"@{m}" for m in recipient.at_mobiles)
        return {
            "msgtype": "markdown",
            "markdown": {"title": notice.title, "text": text},
            "at": {"atMobiles": list(recipient.at_mobiles), "isAtAll": False},
        }

    async def deliver(self, notice: OutboundNotice, recipient: Recipient) -> None:
        url = recipient.address
        if recipient.secret:
            url = dingtalk_signed_url(url, recipient.secret, self._clock_ms())
        await _post_json(
            self._client, self.name, url, self.payload(notice, recipient), vendor_errcode=True
        )


class WeComRobot:
    """WeCom (企业微信) group robot, markdown message."""

    name = "wecom"
    MAX_BYTES = 4096  # the robot refuses longer markdown content

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    @classmethod
    def payload(cls, notice: OutboundNotice) -> dict[str, Any]:
        content = notice.markdown
        raw = content.encode("utf-8")
        if len(raw) > cls.MAX_BYTES:
            content = raw[: cls.MAX_BYTES - 3].decode("utf-8", "ignore") + "..."
        return {"msgtype": "markdown", "markdown": {"content": content}}

    async def deliver(self, notice: OutboundNotice, recipient: Recipient) -> None:
        await _post_json(
            self._client, self.name, recipient.address, self.payload(notice), vendor_errcode=True
        )


_WEBHOOK_KEYS = frozenset(
    {"type", "notice_id", "step", "ticket_number", "recipient", "title", "text", "ack_code"}
    | {"ack_url"}
)


class JsonWebhook:
    """Generic JSON webhook; with a secret, `X-Hotline-Signature: sha256=<hex HMAC of body>`."""

    name = "webhook"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    @staticmethod
    def payload(notice: OutboundNotice, recipient: Recipient) -> dict[str, Any]:
        return {
            "type": "hotline.notice",
            "notice_id": notice.notice_id,
            "step": notice.step_key,
            "ticket_number": notice.ticket_number,
            "recipient": recipient.name,
            "title": notice.title,
            "text": notice.markdown,
            "ack_code": notice.ack_code,
            "ack_url": notice.ack_url,
            **{k: v for k, v in notice.details if k not in _WEBHOOK_KEYS},
        }

    async def deliver(self, notice: OutboundNotice, recipient: Recipient) -> None:
        payload = self.payload(notice, recipient)
        headers: dict[str, str] = {}
        if recipient.secret:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            mac = hmac.new(recipient.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Hotline-Signature"] = f"sha256={mac}"
        await _post_json(
            self._client, self.name, recipient.address, payload, headers, vendor_errcode=False
        )


class SmsGateway:
    """SMS through an HTTP gateway: ``{"to": [...], "text": ...}``, short text with the ack
    code and link (a text message has no room for the Markdown body)."""

    name = "sms"
    MAX_CHARS = 300  # a few concatenated SMS segments at most

    def __init__(self, client: httpx.AsyncClient, *, translate: Translate = _as_is) -> None:
        self._client = client
        self._translate = translate

    def payload(self, notice: OutboundNotice, recipient: Recipient) -> dict[str, Any]:
        _ = self._translate
        tail = " " + _("ack code: %(code)s") % {"code": notice.ack_code}
        tail += f" {notice.ack_url}" if notice.ack_url else ""
        head = notice.title[: max(self.MAX_CHARS - len(tail), 20)]
        return {
            "to": list(recipient.at_mobiles),
            "text": head + tail,
            "reference": f"notice-{notice.notice_id}",
        }

    async def deliver(self, notice: OutboundNotice, recipient: Recipient) -> None:
        headers: dict[str, str] = {}
        if recipient.secret:
            headers["Authorization"] = f"Bearer {recipient.secret}"
        await _post_json(
            self._client,
            self.name,
            recipient.address,
            self.payload(notice, recipient),
            headers,
            vendor_errcode=False,
        )


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "hotline@localhost"
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0


class SmtpMailer:
    """E-mail over SMTP; smtplib runs in a worker thread so the event loop never waits."""

    name = "email"

    def __init__(self, settings: SmtpSettings, *, translate: Translate = _as_is) -> None:
        for value in (settings.sender, settings.host):
            if "\r" in value or "\n" in value:
                raise HeaderInjection("CR/LF in SMTP settings")
        self._settings = settings
        self._translate = translate

    def message(self, notice: OutboundNotice, recipient: Recipient) -> EmailMessage:
        for value in (notice.title, recipient.address):
            if "\r" in value or "\n" in value:
                raise HeaderInjection("CR/LF in a mail header value")
        msg = EmailMessage()
        msg["From"] = self._settings.sender
        msg["To"] = recipient.address
        msg["Subject"] = notice.title
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain="hotline")
        msg["X-Hotline-Ticket"] = notice.ticket_number
        msg["X-Hotline-Ack-Code"] = notice.ack_code
        _ = self._translate
        footer = "\n\n" + _("Acknowledge: %(url)s (code %(code)s)") % {
            "url": notice.ack_url or "",
            "code": notice.ack_code,
        }
        msg.set_content(notice.markdown + footer)
        return msg

    def _send(self, msg: EmailMessage) -> None:
        s = self._settings
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password or "")
            smtp.send_message(msg)

    async def deliver(self, notice: OutboundNotice, recipient: Recipient) -> None:
        msg = self.message(notice, recipient)
        try:
            await asyncio.to_thread(self._send, msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(self.name, f"recipient refused: {exc}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(self.name, f"{type(exc).__name__}: {exc}") from exc
