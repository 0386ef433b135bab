"""The engine's answer to one event: grants, refusals, their reasons, and the ledger batch.

>>> from cardbenefits.engine.explain import NotQualified
>>> refusal = Refusal("cashback50", (NotQualified("min_amount", "49.99 < 50"),))
>>> refusal.render("en")
'cashback50: below the minimum single amount (49.99 < 50)'
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from cardbenefits.engine.explain import Reason
from cardbenefits.ledger.entries import EntryBatch, EntryKind

__all__ = ["Decision", "Grant", "Refusal"]


@attrs.frozen
class Grant:
    """One movement the decision makes: a grant, or a clawback (``kind``) of ``quantity``."""

    programme_id: str
    asset: str
    quantity: Decimal
    kind: EntryKind = EntryKind.GRANT
    reasons: tuple[Reason, ...] = ()
    tier_id: str | None = None

    def render(self, locale: str = "zh_CN") -> str:
        """One line per reason, prefixed by the programme."""
        head = f"{self.programme_id}: {self.kind.value} {self.quantity} {self.asset}"
        return "\n".join([head, *(f"  {r.render(locale)}" for r in self.reasons)])


@attrs.frozen
class Refusal:
    """A programme (or tier) that gave nothing for this event, and why."""

    programme_id: str
    reasons: tuple[Reason, ...]
    tier_id: str | None = None

    def render(self, locale: str = "zh_CN") -> str:
        """``programme: reason; reason``."""
        name = f"{self.programme_id}/{self.tier_id}" if self.tier_id else self.programme_id
        return f"{name}: " + "; ".join(r.render(locale) for r in self.reasons)


@attrs.frozen
class Decision:
    """Everything the engine decided for one event.

    ``batch`` goes to :meth:`cardbenefits.ledger.Ledger.apply`; its idempotency key is derived
    from the event id and the catalog id, so applying the same decision twice changes nothing.
    ``replayed`` is true when the ledger had already applied this event: ``batch`` then holds
    the stored entries and ``grants`` is empty.
    """

    event_id: str
    catalog_version: str
    batch: EntryBatch
    grants: tuple[Grant, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    replayed: bool = False

    def refusal(self, programme_id: str) -> Refusal | None:
        """The refusal of ``programme_id``, if any."""
        for refusal in self.refusals:
            if refusal.programme_id == programme_id:
                return refusal
        return None

    def granted(self, programme_id: str) -> Decimal:
        """Net quantity granted by ``programme_id`` in this decision (clawbacks negative)."""
        total = Decimal(0)
        for grant in self.grants:
            if grant.programme_id == programme_id:
                total += grant.quantity * grant.kind.sign
        return total

    def render(self, locale: str = "zh_CN") -> str:
        """A readable account of the decision."""
        lines = [f"{self.event_id} @ {self.catalog_version}"]
        lines += [g.render(locale) for g in self.grants]
        lines += [r.render(locale) for r in self.refusals]
        return "\n".join(lines)
