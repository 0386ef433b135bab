"""``Simulation.run`` pauses the cyclic collector for the replay and restores it, also on errors."""

from __future__ import annotations

import gc

import pytest

from cardbenefits.simulate.example import example_data, example_simulation
from cardbenefits.simulate.replay import SimulationError


def test_the_collector_is_paused_during_the_run_and_restored() -> None:
    customers, events = example_data()
    seen: list[bool] = []
    assert gc.isenabled()
    result = example_simulation().run(customers, events, progress=lambda _n: seen.append(gc.isenabled()))
    assert seen
    assert not any(seen)
    assert gc.isenabled()
    again_customers, again_events = example_data()
    same = example_simulation().run(again_customers, again_events, pause_gc=False)
    assert same.metrics == result.metrics


def test_the_collector_is_restored_after_an_error_and_left_off_when_it_was_off() -> None:
    customers, events = example_data()
    with pytest.raises(SimulationError):
        example_simulation().run({}, events)  # every event names an unknown customer
    assert gc.isenabled()
    gc.disable()
    try:
        example_simulation().run(customers, iter(()))
        assert not gc.isenabled()
    finally:
        gc.enable()
