"""An index of programmes by trigger, so each event meets only programmes that can apply.

Programmes are bucketed by transaction kind, then by designated MCC (or "any MCC"), then by
channel; excluded MCCs and amounts are still checked by the qualifier. This is the speed-up the
benchmark measures against a naive evaluator that checks every programme for every event.

>>> from cardbenefits.programmes import Qualifier, TransactionProgramme
>>> miles = TransactionProgramme("miles3x", Qualifier(mccs={"3000", "4511"}))
>>> any_ = TransactionProgramme("any", Qualifier())
>>> idx = ProgrammeIndex([miles, any_])
>>> [p.id for p in idx.candidates("purchase", "4511", "pos")]
['miles3x', 'any']
>>> [p.id for p in idx.candidates("purchase", "5812", "pos")]
['any']
>>> idx.candidates("cash_advance", "6011", "atm")
()
"""

from __future__ import annotations

from collections.abc import Iterable

from cardbenefits.programmes import TransactionProgramme

__all__ = ["ProgrammeIndex"]

_ANY = "*"


class ProgrammeIndex:
    """Programmes by (kind, mcc, channel); lookups keep catalog order and are cached."""

    def __init__(self, programmes: Iterable[TransactionProgramme]) -> None:
        self._programmes = tuple(programmes)
        self._order = {p.id: i for i, p in enumerate(self._programmes)}
        self._buckets: dict[tuple[str, str, str], list[TransactionProgramme]] = {}
        for p in self._programmes:
            q = p.qualifier
            for kind in q.kinds:
                for mcc in sorted(q.mccs) if q.mccs is not None else [_ANY]:
                    for channel in sorted(q.channels) if q.channels is not None else [_ANY]:
                        self._buckets.setdefault((kind, mcc, channel), []).append(p)
        self._cache: dict[tuple[str, str | None, str | None], tuple[TransactionProgramme, ...]] = {}

    def candidates(self, kind: str, mcc: str | None, channel: str | None) -> tuple[TransactionProgramme, ...]:
        """Programmes whose kind, MCC and channel triggers can match, in catalog order."""
        key = (kind, mcc, channel)
        found = self._cache.get(key)
        if found is not None:
            return found
        seen: dict[str, TransactionProgramme] = {}
        for m in (mcc, _ANY) if mcc is not None else (_ANY,):
            for c in (channel, _ANY) if channel is not None else (_ANY,):
                for p in self._buckets.get((kind, m, c), ()):
                    seen[p.id] = p
        result = tuple(sorted(seen.values(), key=lambda p: self._order[p.id]))
        if len(self._cache) < 100_000:
            self._cache[key] = result
        return result
