"""Localized text: one message in several locales, with Babel locale negotiation.

Benefit names, descriptions and explanations are shown to customers in Simplified Chinese
(``zh_CN``), Traditional Chinese (``zh_Hant_TW``, ``zh_Hant_HK``) and English (``en``).
A :class:`LocalizedText` holds the texts it has and picks the best one for a requested locale:
the exact locale, then its Babel parents (``zh_Hant_HK`` → ``zh_Hant`` → ``zh``;
``en_GB`` → ``en``), then a text in the same language and script from another territory
(a Hong Kong reader gets the Taiwan text), and finally the default text.

Catalogs write a plain string (the default locale, ``zh_CN``) or a mapping of locales:

>>> name = LocalizedText.from_value({"zh_CN": "视频会员月卡", "zh_Hant": "影音會員月卡", "en": "Video pass"})
>>> name.get("zh_Hant_HK")
'影音會員月卡'
>>> name.get("en_GB"), name.get("fr"), str(name)
('Video pass', '视频会员月卡', '视频会员月卡')
>>> LocalizedText.from_value("返现").to_value()
'返现'
>>> negotiate("zh_TW", ["zh_CN", "zh_Hant"])
'zh_Hant'
>>> LocalizedText.from_value({"klingon": "Qapla'"})
Traceback (most recent call last):
  ...
cardbenefits.i18n.LocalizationError: text.klingon: unknown locale (got 'klingon')
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Final

import attrs
from babel import Locale, UnknownLocaleError

from cardbenefits.errors import CardBenefitsError

__all__ = [
    "DEFAULT_LOCALE",
    "SUPPORTED_LOCALES",
    "LocalizationError",
    "LocalizedText",
    "canonical_locale",
    "fallback_chain",
    "negotiate",
]

SUPPORTED_LOCALES: Final = ("zh_CN", "zh_Hant_TW", "zh_Hant_HK", "en")
"""The locales cardbenefits ships texts for; others are accepted and negotiated."""

DEFAULT_LOCALE: Final = "zh_CN"
"""The locale of a plain-string text in a catalog."""

_DEFAULT_KEY: Final = "default"


class LocalizationError(CardBenefitsError, ValueError):
    """A locale identifier is unknown or a localized text is malformed."""


_Key = tuple[str, str | None, str | None]


@functools.lru_cache(maxsize=512)
def _parse(identifier: str) -> _Key:
    sep = "-" if "-" in identifier else "_"
    locale = Locale.parse(identifier, sep=sep)
    return (locale.language, locale.script, locale.territory)


def _key(identifier: object, path: str) -> _Key:
    if isinstance(identifier, Locale):
        return (identifier.language, identifier.script, identifier.territory)
    if not isinstance(identifier, str) or not identifier.strip():
        raise LocalizationError(
            "a locale must be a non-empty identifier such as 'zh_CN'", path=path, value=identifier
        )
    try:
        return _parse(identifier.strip())
    except (UnknownLocaleError, ValueError, TypeError):
        raise LocalizationError("unknown locale", path=path, value=identifier) from None


@functools.cache
def _supported_keys() -> dict[_Key, str]:
    return {_parse(loc): loc for loc in SUPPORTED_LOCALES}


def _identifier(key: _Key) -> str:
    supported = _supported_keys().get(key)
    if supported is not None:
        return supported
    return "_".join(part for part in key if part)


def canonical_locale(identifier: str | Locale, path: str = "locale") -> str:
    """The canonical spelling of a locale identifier, refusing unknown locales.

    Spellings of a supported locale map to it (``zh-CN``, ``zh_Hans_CN`` → ``zh_CN``;
    ``zh_TW`` → ``zh_Hant_TW``); others get Babel's ``language_Script_TERRITORY`` form.

    >>> canonical_locale("zh-Hans-CN"), canonical_locale("zh_HK"), canonical_locale("EN-gb")
    ('zh_CN', 'zh_Hant_HK', 'en_GB')
    """
    return _identifier(_key(identifier, path))


def fallback_chain(identifier: str | Locale) -> tuple[str, ...]:
    """The locales tried for ``identifier``, most specific first (without the default).

    >>> fallback_chain("zh_Hant_HK")
    ('zh_Hant_HK', 'zh_Hant', 'zh')
    >>> fallback_chain("zh_TW")
    ('zh_Hant_TW', 'zh_Hant', 'zh')
    >>> fallback_chain("en_GB")
    ('en_GB', 'en')
    """
    return tuple(_identifier(k) for k in _chain(_key(identifier, "locale")))


def _chain(key: _Key) -> list[_Key]:
    language, script, territory = key
    chain: list[_Key] = [key]
    if script and territory:
        chain.append((language, script, None))
    if script or territory:
        chain.append((language, None, None))
    return chain


def _negotiate_keys(requested: Iterable[_Key], available: Mapping[_Key, str]) -> str | None:
    requested = list(requested)
    for key in requested:
        for candidate in _chain(key):
            if candidate in available:
                return available[candidate]
    # No ancestor: a sibling in the same language and script (zh_Hant_TW for zh_Hant_HK).
    # A locale parsed without a script gets Babel's likely script, so "zh_HK" still matches.
    for language, script, _territory in requested:
        for (lang, scr, _terr), ident in available.items():
            if lang == language and scr == script and script is not None:
                return ident
    return None


def negotiate(requested: str | Locale | Iterable[str | Locale], available: Iterable[str]) -> str | None:
    """The best of ``available`` for ``requested`` (one locale or a preference list), or None.

    Each requested locale is tried with its fallback chain before the next one; then a
    same-language, same-script sibling. The answer is spelled as in ``available``.

    >>> negotiate("zh_Hant_HK", ["zh_CN", "zh_Hant_TW", "en"])
    'zh_Hant_TW'
    >>> negotiate(["fr", "en_GB"], ["zh_CN", "en"])
    'en'
    >>> negotiate("de", ["zh_CN", "en"]) is None
    True
    """
    wanted = [requested] if isinstance(requested, str | Locale) else list(requested)
    keys = [_key(r, f"requested[{i}]") for i, r in enumerate(wanted)]
    table: dict[_Key, str] = {}
    for i, ident in enumerate(available):
        table.setdefault(_key(ident, f"available[{i}]"), ident)
    return _negotiate_keys(keys, table)


@attrs.frozen(init=False, repr=False)
class LocalizedText:
    """A text in one or more locales, with a default (``zh_CN`` when present).

    Keys are validated with Babel and stored in canonical spelling; equal texts compare
    and hash equal whatever the order they were given in.

    >>> text = LocalizedText({"zh-CN": "返现", "en": "Cashback"})
    >>> text
    LocalizedText({'zh_CN': '返现', 'en': 'Cashback'})
    >>> text.locales, text.default
    (('zh_CN', 'en'), 'zh_CN')
    >>> text.get("zh_Hant_TW"), text.get("en_US")
    ('返现', 'Cashback')
    >>> LocalizedText({"en": "Cashback", "zh_CN": "返现"}, default="en").to_value()
    {'en': 'Cashback', 'zh_CN': '返现', 'default': 'en'}
    """

    _entries: tuple[tuple[str, str], ...]
    default: str

    def __init__(self, texts: Mapping[str, str], default: str | None = None, *, path: str = "text") -> None:
        if not isinstance(texts, Mapping):
            raise LocalizationError("expected a mapping of locale to text", path=path, value=texts)
        if not texts:
            raise LocalizationError("at least one text is required", path=path, value=dict(texts))
        entries: dict[str, str] = {}
        for raw, text in texts.items():
            where = f"{path}.{raw}"
            ident = canonical_locale(raw, where)
            if not isinstance(text, str):
                raise LocalizationError("text must be a string", path=where, value=text)
            if ident in entries:
                raise LocalizationError(f"locale given twice (as {ident})", path=where, value=raw)
            entries[ident] = text
        if default is None:
            chosen = DEFAULT_LOCALE if DEFAULT_LOCALE in entries else next(iter(entries))
        else:
            chosen = canonical_locale(default, f"{path}.default")
            if chosen not in entries:
                raise LocalizationError(
                    "the default locale has no text", path=f"{path}.default", value=default
                )
        # Default first, the rest sorted: a canonical order for equality, hashing and output.
        ordered = ((chosen, entries[chosen]), *sorted((k, v) for k, v in entries.items() if k != chosen))
        self.__attrs_init__(ordered, chosen)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_value(cls, value: object, *, path: str = "text") -> LocalizedText:
        """Build from a catalog value: a plain string (the default locale) or a mapping.

        A mapping may name its default under the reserved key ``"default"``; otherwise the
        default is ``zh_CN`` when present, else the first locale given.

        >>> LocalizedText.from_value("积分").get("en")
        '积分'
        >>> LocalizedText.from_value({"en": "Points", "zh_Hant": "積分"}).default
        'en'
        >>> LocalizedText.from_value(3)
        Traceback (most recent call last):
          ...
        cardbenefits.i18n.LocalizationError: text: expected a string or a mapping of locale to text (got 3)
        """
        if isinstance(value, LocalizedText):
            return value
        if isinstance(value, str):
            return cls({DEFAULT_LOCALE: value}, path=path)
        if isinstance(value, Mapping):
            texts = dict(value)
            default = texts.pop(_DEFAULT_KEY, None)
            if default is not None and not isinstance(default, str):
                raise LocalizationError("default must be a locale", path=f"{path}.default", value=default)
            return cls(texts, default, path=path)
        raise LocalizationError("expected a string or a mapping of locale to text", path=path, value=value)

    def to_value(self) -> str | dict[str, str]:
        """The catalog form: a plain string when only the default locale has a text.

        ``LocalizedText.from_value(t.to_value()) == t`` for every text.
        """
        if len(self._entries) == 1 and self.default == DEFAULT_LOCALE:
            return self._entries[0][1]
        out = dict(self._entries)
        implied = DEFAULT_LOCALE if DEFAULT_LOCALE in out else self._entries[0][0]
        if implied != self.default:
            out[_DEFAULT_KEY] = self.default
        return out

    # -- lookup ---------------------------------------------------------------------------
    @property
    def texts(self) -> dict[str, str]:
        """A copy of the texts by canonical locale, default first."""
        return dict(self._entries)

    @property
    def locales(self) -> tuple[str, ...]:
        """The locales that have a text, default first."""
        return tuple(k for k, _ in self._entries)

    def resolve(self, locale: str | Locale | None = None) -> str:
        """The locale whose text :meth:`get` returns for ``locale``."""
        if locale is None:
            return self.default
        table = {_parse(k): k for k, _ in self._entries}
        found = _negotiate_keys([_key(locale, "locale")], table)
        return self.default if found is None else found

    def get(self, locale: str | Locale | None = None) -> str:
        """The best text for ``locale`` (the default text when None or nothing matches).

        Unknown locale identifiers raise :class:`LocalizationError`.
        """
        wanted = self.resolve(locale)
        for key, text in self._entries:
            if key == wanted:
                return text
        raise AssertionError("unreachable: resolve returns a stored locale")  # pragma: no cover

    def __str__(self) -> str:
        return self._entries[0][1]

    def __repr__(self) -> str:
        shown = self.to_value()
        if isinstance(shown, dict) and _DEFAULT_KEY in shown:
            del shown[_DEFAULT_KEY]
            return f"LocalizedText({shown!r}, default={self.default!r})"
        return f"LocalizedText({dict(self._entries)!r})"
