"""Catalog validation issues, collected rather than raised one at a time.

A catalog author wants every mistake of a file at once. Loading gathers each problem as a
:class:`CatalogIssue` (where, what, the bad value, a suggested fix) and raises one
:class:`CatalogValidationError` holding all of them.

>>> issue = CatalogIssue("products[0].core[1]", "unknown benefit id", value="cash_bak", suggestion="cashback")
>>> str(issue)
"products[0].core[1]: unknown benefit id (got 'cash_bak'; did you mean 'cashback'?)"
>>> err = CatalogValidationError([issue])
>>> isinstance(err, CatalogError), len(err.issues)
(True, 1)
>>> print(err)
catalog has 1 error:
  products[0].core[1]: unknown benefit id (got 'cash_bak'; did you mean 'cashback'?)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from cardbenefits.errors import MISSING, CatalogError

__all__ = ["CatalogIssue", "CatalogReadError", "CatalogValidationError", "closest", "format_path"]


def format_path(parts: Iterable[str | int]) -> str:
    """Join location parts into ``products[2].modules[5].requires[0]``.

    >>> format_path(["products", 2, "modules", 5, "requires", 0])
    'products[2].modules[5].requires[0]'
    >>> format_path([])
    ''
    """
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def closest(value: object, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``value`` (difflib), or None when nothing is close.

    >>> closest("gamng_pack", ["gaming_pack", "travel_pack"])
    'gaming_pack'
    >>> closest("zzz", ["gaming_pack"]) is None
    True
    """
    if not isinstance(value, str):
        return None
    found = difflib.get_close_matches(value, sorted(set(candidates)), n=1, cutoff=0.6)
    return found[0] if found else None


@attrs.frozen
class CatalogIssue:
    """One problem found in a catalog.

    ``path`` locates it (``products[2].modules[5].requires[0]``); ``position`` is the
    ``line:column`` inside a rule text (rule errors only); ``value`` is the refused value
    (``MISSING`` when there is none); ``suggestion`` the closest valid id, if any.
    """

    path: str
    message: str
    value: Any = attrs.field(default=MISSING, eq=False)
    suggestion: str | None = None
    position: str | None = None

    @property
    def location(self) -> str:
        """``path`` plus the rule position, e.g. ``products[0].modules[1].eligibility:1:5``."""
        if self.position:
            return f"{self.path}:{self.position}" if self.path else self.position
        return self.path

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        extras = []
        if self.value is not MISSING:
            extras.append(f"got {self.value!r}")
        if self.suggestion is not None:
            extras.append(f"did you mean {self.suggestion!r}?")
        if extras:
            text += f" ({'; '.join(extras)})"
        return text


class CatalogValidationError(CatalogError):
    """A catalog failed validation; ``issues`` lists every problem found, in file order."""

    def __init__(self, issues: Sequence[CatalogIssue], *, source: str | None = None) -> None:
        self.issues: tuple[CatalogIssue, ...] = tuple(issues)
        self.source = source
        count = len(self.issues)
        head = f"{source}: " if source else ""
        lines = [f"{head}catalog has {count} error{'s' if count != 1 else ''}:"]
        lines.extend(f"  {issue}" for issue in self.issues)
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_validation_error, (type(self), self.issues, self.source))


def _rebuild_validation_error(
    cls: type[CatalogValidationError], issues: Sequence[CatalogIssue], source: str | None
) -> CatalogValidationError:
    return cls(issues, source=source)


class CatalogReadError(CatalogError):
    """A catalog file could not be read at all (missing, unreadable, not UTF-8)."""
