"""Texts people read: the organiser's texts in each language, and the rules' own messages.

The rules (no Flask) give their messages in English, marked with N_ so that `make
translations` extracts them; the API answers them as they are, the pages look each one up in
the reader's language.
"""

from shared.errors import N_
from shared.languages import ENGLISH, LOCALES

LANGUAGES = LOCALES
DEFAULT_LANGUAGE = ENGLISH

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "N_", "localised"]


def localised(default: str, translations: dict, locale: str, key: str) -> str:
    """The organiser's text `key` in `locale`, else the one they wrote first."""
    return (translations or {}).get(locale, {}).get(key) or default
