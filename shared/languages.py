"""The languages Loopgate speaks: English, Traditional Chinese (Hong Kong) and Simplified
Chinese (Shenzhen), and which one a language tag means. No Flask, so domain rules and mail
may use it; shared/i18n.py picks a request's language with it."""

ENGLISH, TRADITIONAL, SIMPLIFIED = "en", "zh_Hant_HK", "zh_Hans_CN"
LOCALES = (ENGLISH, TRADITIONAL, SIMPLIFIED)
LANGUAGE_NAMES = {ENGLISH: "English", TRADITIONAL: "繁體中文", SIMPLIFIED: "简体中文"}

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
