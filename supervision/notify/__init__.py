"""Notifications: group robots (DingTalk, WeCom), SMTP e-mail, SMS gateway, JSON webhook.

`RecipientDirectory` routes an action's roles and level to recipients; `NoticeDispatcher`
delivers a recorded notice over the recipient's channel with retries and back-off and
records every attempt.
"""

from supervision.notify.channels import (
    Channel,
    DingTalkRobot,
    JsonWebhook,
    OutboundNotice,
    SmsGateway,
    SmtpMailer,
    WeComRobot,
    dingtalk_sign,
    dingtalk_signed_url,
)
from supervision.notify.dispatcher import NoticeDispatcher, RetryPolicy
from supervision.notify.recipients import Recipient, RecipientDirectory

__all__ = [
    "Channel",
    "DingTalkRobot",
    "JsonWebhook",
    "NoticeDispatcher",
    "OutboundNotice",
    "Recipient",
    "RecipientDirectory",
    "RetryPolicy",
    "SmsGateway",
    "SmtpMailer",
    "WeComRobot",
    "dingtalk_sign",
    "dingtalk_signed_url",
]
