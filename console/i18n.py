"""Which language a console request is answered in, and where a choice is remembered.

Signed in: the person's own choice (`console_users.language`), then a `?lang=`, then the
browser's Accept-Language (the page scripts send the page's language), then
HOTLINE_LOCALE. A `?lang=` on a signed-in page becomes the person's choice
(`console.runtime.remember_choice`), so it wins from then on in any browser. Before log-in
a `?lang=` is kept in a cookie for the log-in page, whose form hands the language to the
log-in, where it becomes the choice of a person who has none yet. The cookie never decides
a signed-in page: on a shared desk it may be someone else's. Times on pages are
`YYYY-MM-DD HH:MM` in HOTLINE_TIMEZONE.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.responses import Response

from translations import LANGUAGES, check_language, negotiate, translator

LANGUAGE_COOKIE = "hotline_lang"
_REMEMBER_SECONDS = 400 * 24 * 3600  # the longest a browser keeps a cookie


@dataclass(frozen=True, slots=True)
class RequestLanguage:
    """The language of one answer; `chosen` when the request asked for it by `?lang=`,
    `remembered` when the browser's cookie of an earlier `?lang=` decided it."""

    language: str
    chosen: bool
    translations: gettext.NullTranslations
    remembered: bool = False

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)


def asked_language(conn: HTTPConnection) -> str | None:
    """The `?lang=` of the request when it names a language of the product."""
    asked = conn.query_params.get("lang")
    return asked if asked in LANGUAGES else None


def language_of(
    conn: HTTPConnection,
    default: str,
    *,
    signed_in: bool = False,
    preferred: str | None = None,
) -> RequestLanguage:
    """The answer's language; `preferred` is the signed-in person's stored choice (for an
    API request whose session was resolved, `note_person` left it on the request)."""
    if not signed_in and hasattr(conn.state, "person_language"):
        signed_in, preferred = True, conn.state.person_language
    chosen = asked_language(conn)
    cookie = None if signed_in else conn.cookies.get(LANGUAGE_COOKIE)
    if preferred is not None and (found := _supported(preferred)) is not None:
        return RequestLanguage(found, chosen is not None, translator(found))
    language = negotiate(
        chosen=chosen,
        remembered=cookie,
        accept_language=conn.headers.get("accept-language"),
        default=default,
    )
    from_cookie = chosen is None and cookie is not None and language == _supported(cookie)
    return RequestLanguage(language, chosen is not None, translator(language), from_cookie)


def note_person(conn: HTTPConnection, language: str | None) -> None:
    """Record the signed-in person's language choice on the request, so its answers (API
    errors included) follow the person before the browser's Accept-Language."""
    conn.state.person_language = language


def _supported(tag: str) -> str | None:
    try:
        return check_language(tag)
    except ValueError:
        return None


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
