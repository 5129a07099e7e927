"""The product's message catalogue (gettext, domain `hotline`) and how a page, an API
answer, a notice or a report picks its language and writes times.

Message ids are the English texts, so English needs no catalogue of its own;
`locale/zh_CN/LC_MESSAGES/hotline.po` holds the Simplified Chinese ones and the
committed `hotline.mo` beside it is what runs (`scripts/catalogue` rebuilds both, a
test keeps them in step). The page scripts read the same catalogue as JSON.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import read_mo
from babel.support import Translations

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LOCALE_DIR",
    "DOMAIN",
    "catalogue_for_scripts",
    "check_language",
    "format_duration",
    "format_local",
    "format_time_left",
    "negotiate",
    "translator",
]

DOMAIN = "hotline"
LOCALE_DIR = Path(__file__).parent / "locale"
# Page languages as `<html lang>` writes them; the first is the product's default.
LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = LANGUAGES[0]
_GETTEXT_LOCALE = {"zh-CN": "zh_CN", "en": "en"}


def check_language(value: str) -> str:
    """`value` as one of LANGUAGES (`zh_CN`, `zh`, `EN-us` are understood), or ValueError."""
    found = _match(value)
    if found is None:
        raise ValueError(f"unsupported language {value!r}; use one of {', '.join(LANGUAGES)}")
    return found


def _match(tag: str) -> str | None:
    tag = tag.strip().replace("_", "-")
    if not tag or len(tag) > 35:
        return None
    try:
        locale = Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return None
    if locale.language == "zh":
        # Traditional-script readers are better served by English than by simplified text.
        if locale.script == "Hant" or locale.territory in {"TW", "HK", "MO"}:
            return None
        return "zh-CN"
    if locale.language == "en":
        return "en"
    return None


def _accept_language(header: str) -> Iterable[str]:
    """Tags of an Accept-Language header, best first (q=0 dropped, ties keep order)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(
    *,
    chosen: str | None = None,
    remembered: str | None = None,
    accept_language: str | None = None,
    default: str = DEFAULT_LANGUAGE,
) -> str:
    """The language to answer in: an explicit choice (`?lang=`), else the one remembered
    for the user, else the browser's best supported Accept-Language, else `default`."""
    for candidate in (chosen, remembered):
        if candidate and (found := _match(candidate)) is not None:
            return found
    for tag in _accept_language(accept_language or ""):
        if (found := _match(tag)) is not None:
            return found
    return default


@cache
def translator(language: str) -> gettext.NullTranslations:
    """gettext translations for `language` (one of LANGUAGES); English is the ids."""
    if language == "en":
        return gettext.NullTranslations()
    return Translations.load(str(LOCALE_DIR), [_GETTEXT_LOCALE[language]], DOMAIN)


@cache
def catalogue_for_scripts(language: str) -> dict[str, str]:
    """{English id: translation} for the page scripts; empty for English."""
    if language == "en":
        return {}
    path = LOCALE_DIR / _GETTEXT_LOCALE[language] / "LC_MESSAGES" / f"{DOMAIN}.mo"
    with path.open("rb") as mo:
        catalogue = read_mo(mo)
    return {
        str(message.id): str(message.string)
        for message in catalogue
        if message.id and isinstance(message.id, str) and message.string
    }


def format_local(moment: datetime | None, zone: tzinfo) -> str:
    """`YYYY-MM-DD HH:MM` (24-hour) in `zone`, as Chinese offices write times; "—" for
    none. A naive time is taken as UTC (the database keeps UTC)."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def format_duration(seconds: float) -> str:
    """mm:ss, or h:mm:ss from an hour on; negative durations keep their sign."""
    sign = "-" if seconds < 0 else ""
    total = int(round(abs(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{secs:02d}"
    return f"{sign}{minutes:02d}:{secs:02d}"


def format_time_left(left: timedelta, language: str) -> str:
    """An SLA clock as time left ("还剩 1 小时 50 分") or overdue ("已超时 5 分")."""
    _ = translator(language).gettext
    minutes = (
        int(left.total_seconds() // 60)
        if left >= timedelta(0)
        else -int((-left).total_seconds() // 60)
    )
    span = abs(minutes)
    hours, mins = divmod(span, 60)
    if hours:
        amount = _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": mins}
    else:
        amount = _("%(minutes)d min") % {"minutes": mins}
    if minutes < 0:
        return _("overdue by %(amount)s") % {"amount": amount}
    return _("%(amount)s left") % {"amount": amount}
