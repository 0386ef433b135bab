"""The public API: every exported name exists, is documented, and the package is typed."""

from __future__ import annotations

import importlib.resources
import inspect

import cardbenefits


def test_every_exported_name_exists_and_is_documented() -> None:
    for name in cardbenefits.__all__:
        obj = getattr(cardbenefits, name)
        if name.startswith("__") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        assert inspect.getdoc(obj), f"{name} has no docstring"


def test_all_is_sorted_and_unique() -> None:
    assert len(set(cardbenefits.__all__)) == len(cardbenefits.__all__)


def test_package_ships_py_typed() -> None:
    assert importlib.resources.files("cardbenefits").joinpath("py.typed").is_file()


def test_errors_share_one_base() -> None:
    for name in cardbenefits.__all__:
        obj = getattr(cardbenefits, name)
        if inspect.isclass(obj) and issubclass(obj, Exception):
            assert issubclass(obj, cardbenefits.CardBenefitsError)
