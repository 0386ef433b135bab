"""The pure rewards engine: transaction rewards, refunds, limits, ladders and group rewards.

The engine owns no database and no clock: it decides from programmes, a customer, an event
and a read-only ledger view, and returns a :class:`Decision` whose batch the caller applies.

>>> sorted(__all__)[:3]
['CapHit', 'Decision', 'Earned']
"""

from __future__ import annotations

from cardbenefits.engine.core import Engine, apply_decision, counter_name, decide_and_apply
from cardbenefits.engine.decision import Decision, Grant, Refusal
from cardbenefits.engine.explain import (
    CapHit,
    Earned,
    Ineligible,
    NotQualified,
    RaceLost,
    Reversed,
    ThresholdDistance,
)
from cardbenefits.engine.index import ProgrammeIndex
from cardbenefits.engine.inputs import SimpleCustomer, SimpleRefund, SimpleTransaction
from cardbenefits.engine.ladders import LadderProgress, TierProgress, evaluate_group, progress

__all__ = [
    "CapHit",
    "Decision",
    "Earned",
    "Engine",
    "Grant",
    "Ineligible",
    "LadderProgress",
    "NotQualified",
    "ProgrammeIndex",
    "RaceLost",
    "Refusal",
    "Reversed",
    "SimpleCustomer",
    "SimpleRefund",
    "SimpleTransaction",
    "ThresholdDistance",
    "TierProgress",
    "apply_decision",
    "counter_name",
    "decide_and_apply",
    "evaluate_group",
    "progress",
]
