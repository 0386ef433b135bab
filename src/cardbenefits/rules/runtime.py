"""Runtime helpers shared by the interpreter, the compiler and the batch path.

Missing-value semantics (documented once, used everywhere): a field is *missing* when its
key is absent, its value is ``None``, or a group on its path (``card`` for ``card.tier``)
is absent, ``None`` or empty. A clause over a missing field is UNKNOWN (except
``is missing`` / ``is present``, which are always true or false); ``and``/``or``/``not``
follow Kleene's three-valued logic; a rule whose final value is UNKNOWN is *not eligible*.

>>> from datetime import datetime, timezone
>>> at = datetime(2026, 3, 31, 12, tzinfo=timezone.utc)
>>> window_start(at, 1, "months").isoformat()
'2026-02-28T12:00:00+00:00'
>>> window_start(at, 30, "days").isoformat()
'2026-03-01T12:00:00+00:00'
>>> lookup_value({"card": {"tier": "gold"}}, "card.tier"), lookup_value({"card": None}, "card.tier")
('gold', None)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

import pendulum

from cardbenefits.errors import RuleError

__all__ = ["check_instant", "is_present", "lookup_value", "window_start"]

_FIXED: Final = {
    "minutes": timedelta(minutes=1),
    "hours": timedelta(hours=1),
    "days": timedelta(days=1),
    "weeks": timedelta(weeks=1),
}


def window_start(at: datetime, amount: int, unit: str) -> datetime:
    """``at`` minus ``amount`` ``unit`` (months and years are calendar arithmetic, day clamped)."""
    if unit in _FIXED:
        return at - _FIXED[unit] * amount
    moment = pendulum.instance(at)
    if unit == "months":
        return moment.subtract(months=amount)
    return moment.subtract(years=amount)


def check_instant(at: object) -> datetime:
    """Refuse a naive or non-datetime evaluation instant."""
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise RuleError("the evaluation instant must be an aware datetime", path="at", value=at)
    return at


def lookup_value(record: Mapping[str, object], name: str) -> object:
    """The value of dotted ``name`` in ``record``, ``None`` when missing."""
    current: object = record
    parts = name.split(".")
    for part in parts[:-1]:
        current = current.get(part)  # type: ignore[attr-defined]
        if not current:
            return None
        if not isinstance(current, Mapping):
            raise RuleError("expected a group of fields (a mapping)", path=part, value=current)
    value = current.get(parts[-1])  # type: ignore[attr-defined]
    return None if isinstance(value, Mapping) and not value else value


def is_present(value: object) -> bool:
    """Presence as ``is present`` sees it: not ``None`` and not an empty group.

    >>> is_present(0), is_present(None), is_present({})
    (True, False, False)
    """
    return value is not None and not (isinstance(value, Mapping) and not value)
