"""The registration pages' catalogues: every text translated for Hong Kong and Shenzhen, the
compiled .mo files in step with the .po files, and the placeholders kept."""

import re
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).parents[2] / "services" / "registration" / "translations"


@pytest.mark.parametrize("locale", ["zh_Hant_HK", "zh_Hans_CN"])
def test_every_text_is_translated_and_compiled(locale):
    folder = TRANSLATIONS / locale / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as handle:
        catalogue = read_po(handle, locale=locale)
    with open(folder / "messages.mo", "rb") as handle:
        compiled = {
            _hashable(message.id): _hashable(message.string)
            for message in read_mo(handle)
            if message.id
        }
    with open(TRANSLATIONS / "messages.pot", "rb") as handle:
        extracted = {message.id for message in read_po(handle) if message.id}

    translated = {message.id: message.string for message in catalogue if message.id}
    assert set(translated) == extracted
    for msgid, text in translated.items():
        texts = text if isinstance(text, tuple) else (text,)
        assert all(texts), f"{msgid!r} is not translated"
        source = msgid if isinstance(msgid, str) else msgid[0]
        assert set(re.findall(r"%\(\w+\)s|%\(\w+\)d", source)) == set(
            re.findall(r"%\(\w+\)s|%\(\w+\)d", texts[0])
        ), msgid
        assert compiled[msgid] == text, f"{msgid!r}: messages.mo is older than messages.po"
    assert not any("fuzzy" in message.flags for message in catalogue if message.id)


def _hashable(text):
    """A plural's texts come as a list from .mo files and as a tuple from .po files."""
    return tuple(text) if isinstance(text, list) else text
