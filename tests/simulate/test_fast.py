"""The columnar fast path reports exactly what the event-by-event replay reports."""

from __future__ import annotations

from typing import Any

import pytest

from cardbenefits.facts import Event
from cardbenefits.report.summary import build_report
from cardbenefits.simulate.example import EXAMPLE_AS_OF, example_data, example_simulation
from cardbenefits.simulate.fast import chunks_of, run_columnar
from cardbenefits.simulate.io import SimulationError
from cardbenefits.synth import SynthConfig, generate_customers, generate_events


def both(customers: Any, events: list[Event], chunk_rows: int = 500, **options: Any) -> tuple[Any, Any]:
    slow = example_simulation(**options).run(customers, events)
    fast = run_columnar(example_simulation(**options), customers, chunks_of(events, chunk_rows=chunk_rows))
    return build_report(slow), build_report(fast)


@pytest.mark.parametrize("chunk_rows", [97, 100_000])
def test_demo_data_gives_the_same_report(chunk_rows: int) -> None:
    customers, events = example_data()
    slow, fast = both(customers, list(events), chunk_rows, as_of=EXAMPLE_AS_OF)
    assert fast == slow
    assert slow["totals"]["grants"] > 1000
    assert slow["funnels"]
    assert slow["group_rewards"]


@pytest.mark.parametrize("seed", [1, 7])
def test_random_data_without_history_gives_the_same_report(seed: int) -> None:
    config = SynthConfig(seed=seed, customers=300, months=3, start="2026-09-01", follow_rate="0.2")
    people = list(generate_customers(config))
    events = list(generate_events(config, people))
    slow, fast = both({c.id: c for c in people}, events, 311)
    assert fast == slow
    assert slow["totals"]["clawbacks"] > 0


def test_an_unknown_customer_is_the_same_error_on_both_paths() -> None:
    customers, stream = example_data()
    events = list(stream)
    some = dict(list(customers.items())[: len(customers) // 2])
    errors = []
    for run in (
        lambda: example_simulation(as_of=EXAMPLE_AS_OF).run(some, events),
        lambda: run_columnar(example_simulation(as_of=EXAMPLE_AS_OF), some, chunks_of(events)),
    ):
        with pytest.raises(SimulationError, match="names an unknown customer") as caught:
            run()
        errors.append((str(caught.value), caught.value.path, caught.value.value))
    assert errors[0] == errors[1]


def test_watching_needs_the_event_by_event_replay() -> None:
    customers, events = example_data()
    with pytest.raises(SimulationError, match="watch"):
        run_columnar(example_simulation(watch="c1"), customers, chunks_of(events))


def test_simulate_command_writes_the_same_report_with_either_engine(tmp_path: Any) -> None:
    import io
    import json

    from cardbenefits.simulate.commands import _args, run_simulate
    from cardbenefits.simulate.example import write_example

    events = write_example(tmp_path / "data", "jsonl")
    reports = {}
    for engine in ("events", "columnar"):
        out = tmp_path / engine
        assert (
            run_simulate(_args(events=str(events), out=str(out), engine=engine), io.StringIO(), io.StringIO())
            == 0
        )
        reports[engine] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert reports["columnar"] == reports["events"]
    assert reports["events"]["totals"]["grants"] > 1000


def test_columnar_engine_refuses_a_durable_ledger(tmp_path: Any) -> None:
    import io

    from cardbenefits.simulate.commands import _args, run_simulate

    err = io.StringIO()
    args = _args(out=str(tmp_path), engine="columnar", ledger=f"sqlite:{tmp_path / 'l.db'}")
    assert run_simulate(args, io.StringIO(), err) == 1
    assert "in-memory ledger" in err.getvalue()


@pytest.mark.parametrize("rfm", ["cutoffs", "quantiles"])
def test_segmenting_gives_each_customer_what_segment_attributes_gives(rfm: str) -> None:
    from cardbenefits.facts import Transaction
    from cardbenefits.segments import LifecycleAt, RFMAccumulator, segment_attributes

    customers, events = example_data()
    sim = example_simulation(as_of=EXAMPLE_AS_OF, rfm=rfm)
    history = RFMAccumulator(at=EXAMPLE_AS_OF, currency="CNY")
    for event in events:
        if isinstance(event, Transaction) and event.transacted_at < EXAMPLE_AS_OF:
            history.add_transaction(event)
    segmented = sim._segment(dict(customers), history, EXAMPLE_AS_OF)
    stats = [history.stats(cid) for cid in customers]
    if rfm == "quantiles":
        from cardbenefits.segments import score_by_quantiles

        scores = score_by_quantiles(stats)
    else:
        scores = {s.customer_id: sim.cutoffs.score(s) for s in stats}
    clock = LifecycleAt.of(EXAMPLE_AS_OF, sim.lifecycle)
    for cid, customer in customers.items():
        expected = customer.with_attributes(
            **segment_attributes(scores[cid], customer.approved_at, EXAMPLE_AS_OF, sim.lifecycle, clock=clock)
        )
        assert segmented[cid] == expected
    assert len({c.attributes["rfm"]["score"] for c in segmented.values()}) > 3


@pytest.mark.parametrize("mixed", [True, False])
def test_parquet_event_files_keep_every_column_whatever_comes_first(tmp_path: Any, mixed: bool) -> None:
    from cardbenefits.facts import Follow, Referral, Transaction
    from cardbenefits.money import Money
    from cardbenefits.simulate.io import read_events, write_events

    buys = [
        Transaction(
            f"t{i}",
            "c1",
            "k1",
            Money.of(60),
            "m1",
            "5411",
            "pos",
            "purchase",
            f"2026-11-0{i + 1}T10:00+08:00",
        )
        for i in range(3)
    ]
    late = [
        Transaction(
            "r1",
            "c1",
            "k1",
            Money.of(10),
            "m1",
            "5411",
            "pos",
            "refund",
            "2026-11-05T10:00+08:00",
            refund_of="t0",
            region="310000",
            device_id="d1",
        ),
    ]
    others = [
        Follow("f1", "c1", "e", "app", "2026-11-06T10:00+08:00"),
        Referral("x1", "share", "c1", "c2", "joined", "2026-11-07T10:00+08:00"),
    ]
    events: list[Event] = [*buys, *late, *(others if mixed else [])]
    path = tmp_path / ("events.parquet" if mixed else "transactions.parquet")
    write_events(path, events, mixed=mixed)
    assert list(read_events(path, None if mixed else "transactions")) == events


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_a_mixed_event_file_of_every_kind_reads_back(tmp_path: Any, suffix: str) -> None:
    from cardbenefits.simulate.columnar import iter_chunks
    from cardbenefits.simulate.io import EventSource, read_events, write_customers, write_events

    config = SynthConfig(seed=3, customers=40, months=2, start="2026-10-01", follow_rate="0.5")
    people = list(generate_customers(config))
    events = list(generate_events(config, people))
    assert {e.event_type for e in events} == {"transaction", "follow", "draw_request", "referral"}
    path = tmp_path / f"events{suffix}"
    write_events(path, events, mixed=True)
    assert list(read_events(path)) == events
    write_customers(tmp_path / "customers.jsonl", people)
    source = EventSource(tmp_path / "customers.jsonl", ((path, None),))
    assert [e for chunk in iter_chunks(source, chunk_rows=50) for e in chunk.events()] == events
