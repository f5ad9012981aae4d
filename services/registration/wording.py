"""Texts people read: the organiser's texts in each language, and the rules' own messages.

The rules (no Flask) give their messages in English, marked with N_ so that `make
translations` extracts them; the API answers them as they are, the pages look each one up in
the reader's language.
"""

# The languages of shared/i18n.py (which needs Flask, so the rules cannot import it); a test
# holds the two lists together.
LANGUAGES = ("en", "zh_Hant_HK", "zh_Hans_CN")
DEFAULT_LANGUAGE = LANGUAGES[0]


def N_(message: str) -> str:  # noqa: N802 (the gettext convention for "translate later")
    return message


def localised(default: str, translations: dict, locale: str, key: str) -> str:
    """The organiser's text `key` in `locale`, else the one they wrote first."""
    return (translations or {}).get(locale, {}).get(key) or default
