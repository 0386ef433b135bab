"""The participant state machine: table-driven, errors name the event and the state."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardbenefits.errors import EngineError
from cardbenefits.funnel.state import (
    TRANSITIONS,
    FunnelEvent,
    FunnelStateError,
    ParticipantState,
    allowed,
    replay,
    transition,
)


def test_happy_path() -> None:
    assert (
        replay([FunnelEvent.FOLLOW, FunnelEvent.DRAW, FunnelEvent.DRAW, FunnelEvent.PAY])
        is ParticipantState.PAID
    )


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (ParticipantState.NEW, FunnelEvent.DRAW),
        (ParticipantState.NEW, FunnelEvent.PAY),
        (ParticipantState.FOLLOWED, FunnelEvent.FOLLOW),
        (ParticipantState.FOLLOWED, FunnelEvent.PAY),
        (ParticipantState.DREW, FunnelEvent.FOLLOW),
        (ParticipantState.PAID, FunnelEvent.FOLLOW),
    ],
)
def test_refused_events_name_event_and_state(state: ParticipantState, event: FunnelEvent) -> None:
    with pytest.raises(FunnelStateError) as info:
        transition(state, event)
    err = info.value
    assert isinstance(err, EngineError)
    assert (err.state, err.event) == (state, event)
    assert f"state {state}" in str(err)
    assert repr(str(event)) in str(err)


def test_error_pickles() -> None:
    import pickle

    err = FunnelStateError(ParticipantState.NEW, FunnelEvent.PAY)
    again = pickle.loads(pickle.dumps(err))
    assert (again.state, again.event, str(again)) == (err.state, err.event, str(err))


@given(st.lists(st.sampled_from(list(FunnelEvent)), max_size=12))
def test_any_sequence_either_follows_the_table_or_fails_on_the_first_bad_event(
    events: list[FunnelEvent],
) -> None:
    state = ParticipantState.NEW
    for event in events:
        if event in allowed(state):
            state = TRANSITIONS[(state, event)]
        else:
            with pytest.raises(FunnelStateError):
                transition(state, event)
            return
    assert replay(events) is state
    # Monotone: the funnel never goes backwards.
    order = list(ParticipantState)
    assert order.index(replay(events)) >= 0
    for (before, _event), after in TRANSITIONS.items():
        assert order.index(after) >= order.index(before)
