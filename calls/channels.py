"""Asterisk channel names as the call model reads them."""

from __future__ import annotations


def interface_of(channel: str) -> str:
    """Queue-member interface from a channel name.

    ``PJSIP/1001-00000008`` → ``PJSIP/1001``;
    ``Local/1001@agents-local-00000000;1`` → ``Local/1001@agents-local``.
    """
    base = channel.split(";", 1)[0]
    head, sep, tail = base.rpartition("-")
    if sep and len(tail) == 8 and all(c in "0123456789abcdef" for c in tail):
        return head
    return base
