"""Which language a console request is answered in, and where a choice is remembered.

Order: the logged-in person's own choice (`console_users.language`), the browser's
Accept-Language (the page scripts send the page's language), then HOTLINE_LOCALE. A
`?lang=` is a new choice: it wins for that page and is kept as the person's choice
(`remember_choice`, when logged in) and in a cookie (before log-in, the log-in page's
switch has nobody to remember it for). Times on pages are `YYYY-MM-DD HH:MM` in
HOTLINE_TIMEZONE.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.responses import Response

from translations import LANGUAGES, negotiate, translator

LANGUAGE_COOKIE = "hotline_lang"
_REMEMBER_SECONDS = 400 * 24 * 3600  # the longest a browser keeps a cookie


@dataclass(frozen=True, slots=True)
class RequestLanguage:
    """The language of one answer; `chosen` when the request asked for it by `?lang=`."""

    language: str
    chosen: bool
    translations: gettext.NullTranslations

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)


def asked_language(conn: HTTPConnection) -> str | None:
    """The `?lang=` of the request when it names a language of the product."""
    asked = conn.query_params.get("lang")
    return asked if asked in LANGUAGES else None


def language_of(
    conn: HTTPConnection, default: str, *, preferred: str | None = None
) -> RequestLanguage:
    """The answer's language; `preferred` is the logged-in person's stored choice."""
    chosen = asked_language(conn)
    language = negotiate(
        chosen=chosen,
        remembered=preferred or conn.cookies.get(LANGUAGE_COOKIE),
        accept_language=conn.headers.get("accept-language"),
        default=default,
    )
    return RequestLanguage(language, chosen is not None, translator(language))


def remember_language(response: Response, language: RequestLanguage, *, secure: bool) -> None:
    """Keep an explicit `?lang=` choice for the next pages of this browser."""
    if language.chosen:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language.language,
            max_age=_REMEMBER_SECONDS,
            httponly=True,
            samesite="lax",
            secure=secure,
            path="/",
        )
