"""Languages: English, Traditional Chinese (Hong Kong) and Simplified Chinese (Shenzhen).

The language comes from `?lang=` (remembered in a cookie), else the cookie, else the
browser's Accept-Language. Each service keeps its catalogues in its own `translations/`
folder (`make translations` extracts and compiles them).
"""

from pathlib import Path

from flask import Flask, request
from flask_babel import Babel

ENGLISH, TRADITIONAL, SIMPLIFIED = "en", "zh_Hant_HK", "zh_Hans_CN"
LOCALES = (ENGLISH, TRADITIONAL, SIMPLIFIED)
LANGUAGE_NAMES = {ENGLISH: "English", TRADITIONAL: "繁體中文", SIMPLIFIED: "简体中文"}
LANGUAGE_COOKIE = "loopgate_lang"

# Browser language tags and the catalogue each one reads.
_BROWSER_TAGS = {
    "en": ENGLISH,
    "zh-hk": TRADITIONAL,
    "zh-mo": TRADITIONAL,
    "zh-tw": TRADITIONAL,
    "zh-hant": TRADITIONAL,
    "zh-cn": SIMPLIFIED,
    "zh-sg": SIMPLIFIED,
    "zh-hans": SIMPLIFIED,
    "zh": SIMPLIFIED,
}
_OWN_TAGS = {locale.replace("_", "-").lower(): locale for locale in LOCALES}


def locale_from_tag(tag: str | None) -> str | None:
    """Our locale for a language tag as a browser or a user writes it, or None."""
    if not tag:
        return None
    normalised = tag.replace("_", "-").lower()
    return (
        _OWN_TAGS.get(normalised)
        or _BROWSER_TAGS.get(normalised)
        or _BROWSER_TAGS.get(normalised.split("-")[0])
    )


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
