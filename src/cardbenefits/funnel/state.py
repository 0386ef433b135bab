"""The participant state machine of a funnel campaign: a small explicit transition table.

Like h11's connection states, a participant's state changes only through the table below;
an event the table does not allow raises :class:`FunnelStateError`, which names the event and
the state (the engine turns that into a refusal before anything reaches the ledger).

=========  ==========  ==========
state      event       next state
=========  ==========  ==========
new        follow      followed
followed   draw        drew
drew       draw        drew
drew       pay         paid
paid       draw        paid
paid       pay         paid
=========  ==========  ==========

A draw that lands on the blank (谢谢参与) still moves ``followed`` to ``drew``: the
participant took part in the draw stage. ``pay`` can only follow a win, because it is
completed by redeeming a coupon won in the campaign.

>>> state = ParticipantState.NEW
>>> for event in (FunnelEvent.FOLLOW, FunnelEvent.DRAW, FunnelEvent.PAY):
...     state = transition(state, event)
>>> state
<ParticipantState.PAID: 'paid'>
>>> transition(ParticipantState.NEW, FunnelEvent.DRAW)
Traceback (most recent call last):
  ...
cardbenefits.funnel.state.FunnelStateError: state new: event 'draw' is not allowed (allowed: follow) ...
>>> allowed(ParticipantState.FOLLOWED)
(<FunnelEvent.DRAW: 'draw'>,)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from cardbenefits.errors import EngineError

__all__ = [
    "TRANSITIONS",
    "FunnelEvent",
    "FunnelStateError",
    "ParticipantState",
    "allowed",
    "replay",
    "transition",
]


class ParticipantState(enum.StrEnum):
    """Where a participant is in the funnel."""

    NEW = "new"
    """Not yet taken part (未参与)."""
    FOLLOWED = "followed"
    """Followed / opted in (已关注)."""
    DREW = "drew"
    """Has drawn at least once (已抽奖)."""
    PAID = "paid"
    """Has paid with a coupon won in the campaign (已支付消费): converted."""


class FunnelEvent(enum.StrEnum):
    """What a participant does; each event completes one stage."""

    FOLLOW = "follow"
    """客户关注."""
    DRAW = "draw"
    """抽奖领券."""
    PAY = "pay"
    """支付消费 (a qualifying redemption)."""


#: The whole state machine: (state, event) -> next state. Anything missing is refused.
TRANSITIONS: Final[Mapping[tuple[ParticipantState, FunnelEvent], ParticipantState]] = MappingProxyType(
    {
        (ParticipantState.NEW, FunnelEvent.FOLLOW): ParticipantState.FOLLOWED,
        (ParticipantState.FOLLOWED, FunnelEvent.DRAW): ParticipantState.DREW,
        (ParticipantState.DREW, FunnelEvent.DRAW): ParticipantState.DREW,
        (ParticipantState.DREW, FunnelEvent.PAY): ParticipantState.PAID,
        (ParticipantState.PAID, FunnelEvent.DRAW): ParticipantState.PAID,
        (ParticipantState.PAID, FunnelEvent.PAY): ParticipantState.PAID,
    }
)


class FunnelStateError(EngineError):
    """An event is not allowed in the participant's state; names both.

    ``path`` is ``state <state>``, ``value`` the event; ``.state`` and ``.event`` hold them.
    """

    def __init__(self, state: ParticipantState, event: FunnelEvent) -> None:
        self.state = state
        self.event = event
        names = ", ".join(str(e) for e in allowed(state)) or "none"
        super().__init__(
            f"event {str(event)!r} is not allowed (allowed: {names})", path=f"state {state}", value=str(event)
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (FunnelStateError, (self.state, self.event))


def allowed(state: ParticipantState) -> tuple[FunnelEvent, ...]:
    """The events allowed in ``state``, in funnel order.

    >>> allowed(ParticipantState.PAID)
    (<FunnelEvent.DRAW: 'draw'>, <FunnelEvent.PAY: 'pay'>)
    """
    return tuple(event for event in FunnelEvent if (state, event) in TRANSITIONS)


def transition(state: ParticipantState, event: FunnelEvent) -> ParticipantState:
    """The state after ``event``; :class:`FunnelStateError` when the table does not allow it."""
    try:
        return TRANSITIONS[(ParticipantState(state), FunnelEvent(event))]
    except KeyError:
        raise FunnelStateError(ParticipantState(state), FunnelEvent(event)) from None


def replay(events: Iterable[FunnelEvent], start: ParticipantState = ParticipantState.NEW) -> ParticipantState:
    """Fold ``events`` through the table from ``start``.

    >>> replay([FunnelEvent.FOLLOW, FunnelEvent.DRAW, FunnelEvent.DRAW])
    <ParticipantState.DREW: 'drew'>
    """
    state = start
    for event in events:
        state = transition(state, event)
    return state
