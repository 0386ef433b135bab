"""The pure rewards engine: transaction rewards, refunds, limits, ladders and group rewards.

The engine owns no database and no clock: it decides from programmes, a customer, an event
and a read-only ledger view, and returns a :class:`Decision` whose batch the caller applies.
Importing this package also registers the catalog sections ``programmes``, ``ladders`` and
``group_rewards`` (:mod:`cardbenefits.engine.files`).

>>> sorted(__all__)[:3]
['CapHit', 'Decision', 'Earned']
"""

from __future__ import annotations

from cardbenefits.engine.calendar import LocalCalendar, LocalDay
from cardbenefits.engine.core import Engine, RecordOf, apply_decision, counter_name, decide_and_apply
from cardbenefits.engine.decision import Decision, Grant, Refusal
from cardbenefits.engine.explain import (
    CapHit,
    Earned,
    GroupRate,
    Ineligible,
    NotQualified,
    OnePerPerson,
    RaceLost,
    Reason,
    Reversed,
    ThresholdDistance,
)
from cardbenefits.engine.files import ProgrammeItem as _ProgrammeItem  # noqa: F401  (registers sections)
from cardbenefits.engine.index import ProgrammeIndex
from cardbenefits.engine.ladders import LadderProgress, TierProgress, evaluate_group, progress

__all__ = [
    "CapHit",
    "Decision",
    "Earned",
    "Engine",
    "Grant",
    "GroupRate",
    "Ineligible",
    "LadderProgress",
    "LocalCalendar",
    "LocalDay",
    "NotQualified",
    "OnePerPerson",
    "ProgrammeIndex",
    "RaceLost",
    "Reason",
    "RecordOf",
    "Refusal",
    "Reversed",
    "ThresholdDistance",
    "TierProgress",
    "apply_decision",
    "counter_name",
    "decide_and_apply",
    "evaluate_group",
    "progress",
]
