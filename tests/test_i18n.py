"""Tests of localized text and locale negotiation."""

from __future__ import annotations

import pickle

import pytest
from babel import Locale
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.errors import CardBenefitsError
from cardbenefits.i18n import (
    DEFAULT_LOCALE,
    SUPPORTED_LOCALES,
    LocalizationError,
    LocalizedText,
    canonical_locale,
    fallback_chain,
    negotiate,
)

FULL = LocalizedText(
    {
        "zh_CN": "机场贵宾厅",
        "zh_Hant": "機場貴賓廳",
        "zh_Hant_HK": "機場貴賓室",
        "zh": "贵宾厅",
        "en": "Airport lounge",
    }
)


def test_supported_locales_are_canonical() -> None:
    assert SUPPORTED_LOCALES == ("zh_CN", "zh_Hant_TW", "zh_Hant_HK", "en")
    for loc in SUPPORTED_LOCALES:
        assert canonical_locale(loc) == loc
        Locale.parse(loc)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("zh_Hant_HK", "機場貴賓室"),  # exact
        ("zh_HK", "機場貴賓室"),  # Babel adds the likely script
        ("zh_Hant_TW", "機場貴賓廳"),  # → zh_Hant
        ("zh_TW", "機場貴賓廳"),
        ("zh_Hant_MO", "機場貴賓廳"),
        ("zh_CN", "机场贵宾厅"),
        ("zh_Hans_SG", "贵宾厅"),  # → zh_Hans → zh
        ("en_GB", "Airport lounge"),  # → en
        ("en", "Airport lounge"),
        ("fr", "机场贵宾厅"),  # → default
        ("ja_JP", "机场贵宾厅"),
        (None, "机场贵宾厅"),
    ],
)
def test_fallback_chain_lookup(requested: str | None, expected: str) -> None:
    assert FULL.get(requested) == expected


def test_chain_steps_one_by_one() -> None:
    text = {"zh_Hant_HK": "hk", "zh_Hant": "hant", "zh": "zh", "en": "en"}
    t = LocalizedText(text, default="en")
    assert t.get("zh_Hant_HK") == "hk"
    t = LocalizedText({k: v for k, v in text.items() if k != "zh_Hant_HK"}, default="en")
    assert t.get("zh_Hant_HK") == "hant"
    t = LocalizedText({"zh": "zh", "en": "en"}, default="en")
    assert t.get("zh_Hant_HK") == "zh"
    t = LocalizedText({"en": "en", "fr": "fr"}, default="fr")
    assert t.get("zh_Hant_HK") == "fr"
    assert t.get("en_GB") == "en"


def test_sibling_territory_same_script() -> None:
    t = LocalizedText({"zh_CN": "简", "zh_Hant_TW": "繁"})
    assert t.get("zh_Hant_HK") == "繁"
    assert t.resolve("zh_Hant_HK") == "zh_Hant_TW"
    # A Simplified reader does not get Traditional text before the default.
    t = LocalizedText({"en": "en", "zh_Hant_TW": "繁"})
    assert t.get("zh_CN") == "en"


def test_fallback_chain_function() -> None:
    assert fallback_chain("zh_Hant_HK") == ("zh_Hant_HK", "zh_Hant", "zh")
    assert fallback_chain("en_GB") == ("en_GB", "en")
    assert fallback_chain("en") == ("en",)
    assert fallback_chain(Locale.parse("zh_CN")) == ("zh_CN", "zh_Hans", "zh")


def test_negotiate() -> None:
    assert negotiate("zh_Hant_HK", ["zh_CN", "zh_Hant", "en"]) == "zh_Hant"
    assert negotiate(["de", "en_US"], ["zh_CN", "en"]) == "en"
    assert negotiate("de", ["zh_CN"]) is None
    # The answer keeps the spelling of ``available``.
    assert negotiate("zh_CN", ["zh-Hans-CN"]) == "zh-Hans-CN"
    with pytest.raises(LocalizationError) as info:
        negotiate("zh", ["en", "xx_YY"])
    assert info.value.path == "available[1]"


def test_canonical_spelling_and_equality() -> None:
    a = LocalizedText({"zh-CN": "返现", "EN": "Cashback"})
    b = LocalizedText({"en": "Cashback", "zh_Hans_CN": "返现"})
    assert a == b
    assert hash(a) == hash(b)
    assert a.locales == ("zh_CN", "en")
    assert a.texts == {"zh_CN": "返现", "en": "Cashback"}
    assert canonical_locale("zh_TW") == "zh_Hant_TW"


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({}, "text"),
        ({"xx_QQ": "a"}, "text.xx_QQ"),
        ({"": "a"}, "text."),
        ({"zh_CN": 3}, "text.zh_CN"),
        ({"zh_CN": "a", "zh_Hans_CN": "b"}, "text.zh_Hans_CN"),
        ({"zh_CN": "a", "default": "en"}, "text.default"),
        ({"zh_CN": "a", "default": 5}, "text.default"),
        (12, "text"),
        (None, "text"),
    ],
)
def test_rejects_bad_values(value: object, path: str) -> None:
    with pytest.raises(LocalizationError) as info:
        LocalizedText.from_value(value, path="text")
    assert info.value.path == path
    assert isinstance(info.value, CardBenefitsError)
    assert isinstance(info.value, ValueError)


def test_unknown_requested_locale_is_an_error() -> None:
    with pytest.raises(LocalizationError) as info:
        FULL.get("not a locale")
    assert info.value.value == "not a locale"


def test_plain_string_is_default_locale() -> None:
    t = LocalizedText.from_value("返现")
    assert t.default == DEFAULT_LOCALE
    assert str(t) == "返现"
    assert t.to_value() == "返现"
    assert LocalizedText.from_value(t) is t


def test_default_rules() -> None:
    assert LocalizedText.from_value({"en": "a", "zh_CN": "b"}).default == "zh_CN"
    assert LocalizedText.from_value({"en": "a", "zh_Hant": "b"}).default == "en"
    explicit = LocalizedText.from_value({"en": "a", "zh_CN": "b", "default": "en"})
    assert explicit.default == "en"
    assert str(explicit) == "a"
    assert explicit.to_value() == {"en": "a", "zh_CN": "b", "default": "en"}
    assert repr(explicit) == "LocalizedText({'en': 'a', 'zh_CN': 'b'}, default='en')"
    assert LocalizedText({"en": "x"}).to_value() == {"en": "x"}


def test_pickle() -> None:
    assert pickle.loads(pickle.dumps(FULL)) == FULL


_LOCALES = st.sampled_from(["zh_CN", "zh_Hant_TW", "zh_Hant_HK", "zh_Hant", "zh", "en", "en_GB", "fr", "ja"])


@settings(max_examples=150)
@given(
    texts=st.dictionaries(_LOCALES, st.text(max_size=8), min_size=1, max_size=6),
    data=st.data(),
)
def test_round_trip_and_get_returns_a_stored_text(texts: dict[str, str], data: st.DataObject) -> None:
    default = data.draw(st.sampled_from(sorted(texts)))
    t = LocalizedText(texts, default=default)
    assert LocalizedText.from_value(t.to_value()) == t
    assert str(t) == texts[default]
    requested = data.draw(_LOCALES)
    assert t.get(requested) in texts.values()
    if requested in texts:
        assert t.get(requested) == texts[requested]
    if negotiate(requested, texts) is None:
        assert t.get(requested) == texts[default]
