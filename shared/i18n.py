"""Languages: English, Traditional Chinese (Hong Kong) and Simplified Chinese (Shenzhen).

The language comes from `?lang=` (remembered in a cookie), else the cookie, else the
browser's Accept-Language. Each service keeps its catalogues in its own `translations/`
folder (`make translations` extracts and compiles them).
"""

from pathlib import Path

from flask import Flask, request
from flask_babel import Babel

from shared.languages import ENGLISH, LANGUAGE_NAMES, LOCALES, locale_from_tag

__all__ = ["ENGLISH", "LANGUAGE_NAMES", "LOCALES", "init_i18n", "locale_from_tag"]

LANGUAGE_COOKIE = "loopgate_lang"


def select_locale() -> str:
    chosen = locale_from_tag(request.args.get("lang")) or locale_from_tag(
        request.cookies.get(LANGUAGE_COOKIE)
    )
    if chosen:
        return chosen
    for tag, _quality in request.accept_languages:
        if locale := locale_from_tag(tag):
            return locale
    return ENGLISH


def remember_chosen_language(response):
    """Keep an explicit ?lang= choice for the next pages."""
    chosen = locale_from_tag(request.args.get("lang"))
    if chosen:
        response.set_cookie(
            LANGUAGE_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
        )
    return response


def init_i18n(app: Flask, translations_dir: Path) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(translations_dir)
    app.config["BABEL_DEFAULT_LOCALE"] = ENGLISH
    Babel(app, locale_selector=select_locale)
    app.after_request(remember_chosen_language)
