"""The ``simulate`` and ``explain`` subcommands (registered in :mod:`cardbenefits.cli`).

``cardbenefits simulate [CATALOG [EVENTS]] [--out DIR] [--ledger sqlite:PATH] [--as-of ISO] [--engine E]``
replays EVENTS (a directory or mixed file, see :mod:`cardbenefits.simulate.io`) through the
catalog's programmes, ladders, group rewards, funnel campaigns (with checkout), referral
programmes and risk policies (:meth:`Simulation.from_catalog`) and writes the report into DIR
(default ``report``). Without CATALOG it runs the bundled demo catalog (package data); without
EVENTS the bundled example data set (:mod:`cardbenefits.simulate.example`).
``cardbenefits explain [CATALOG [EVENTS]] --customer ID`` prints why that customer got or did not get
each benefit, with the coupons used at checkout and the funnel stages reached.

>>> import io, tempfile
>>> out = io.StringIO()
>>> run_simulate(_args(out=tempfile.mkdtemp()), out, io.StringIO())
0
>>> "index.html" in out.getvalue()
True
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import pendulum

from cardbenefits.catalog import CatalogReadError, CatalogValidationError, load_catalog
from cardbenefits.errors import CardBenefitsError
from cardbenefits.facts import Customer
from cardbenefits.ledger import Ledger, MemoryLedger, SQLiteLedger
from cardbenefits.money import Money
from cardbenefits.report.summary import build_report, write_report
from cardbenefits.simulate.example import EXAMPLE_AS_OF, example_catalog, example_data
from cardbenefits.simulate.explain import explain_customer
from cardbenefits.simulate.io import EventSource
from cardbenefits.simulate.progress import progress_reporter
from cardbenefits.simulate.replay import Simulation

if TYPE_CHECKING:
    from cardbenefits.simulate.columnar import EventChunk

__all__ = ["configure_explain", "configure_simulate", "run_explain", "run_simulate"]

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", nargs="?", help="catalog file (default: the bundled demo catalog)")
    parser.add_argument("events", nargs="?", help="event directory or mixed file (default: the example data)")
    parser.add_argument(
        "--as-of", metavar="ISO", help="segments as of this instant; earlier events are history"
    )
    parser.add_argument("--rfm", choices=("cutoffs", "quantiles"), default="cutoffs", help="RFM scoring")


def configure_simulate(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``simulate``."""
    _common(parser)
    parser.add_argument("--out", metavar="DIR", default="report", help="report directory (default: report)")
    parser.add_argument(
        "--ledger",
        metavar="SPEC",
        help="memory (default), memory:window=90d (bounded memory: history older than the window is "
        "forgotten, counters and balances kept) or sqlite:PATH (durable)",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "columnar", "events"),
        default="auto",
        help="columnar: decide transaction programmes in batch over column chunks (needs "
        "cardbenefits[polars] and an in-memory ledger; same report); events: every event one by "
        "one; auto (default): columnar when it can run",
    )
    parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    parser.add_argument("--no-html", action="store_true", help="machine-readable files only")


def configure_explain(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``explain``."""
    _common(parser)
    parser.add_argument("--customer", required=True, metavar="ID", help="the customer to explain")
    parser.add_argument("--locale", choices=("zh_CN", "en"), default="zh_CN", help="language")


def _args(**values: Any) -> argparse.Namespace:
    """Defaults of ``simulate`` (for doctests and callers building arguments in code)."""
    parser = argparse.ArgumentParser()
    configure_simulate(parser)
    args = parser.parse_args([])
    for key, value in values.items():
        setattr(args, key, value)
    args.no_progress = True
    return args


class _Setup:
    """The catalog, customers and events of one command, and the simulation over them."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.as_of: _dt.datetime | None = None
        self.catalog = example_catalog() if args.catalog is None else load_catalog(args.catalog)
        self.ref = self.catalog.ref
        self.source: EventSource | None = None
        if args.events is None:
            self.customers, self.events = example_data()
            self.as_of = EXAMPLE_AS_OF
        else:
            self.source = source = EventSource.open(args.events)
            self.customers = source.customers()
            self.events = source.events()
        if args.as_of:
            self.as_of = _instant(args.as_of, self.catalog.timezone)

    def chunks(self) -> Iterator[EventChunk]:
        """The events as column chunks (the columnar path's input)."""
        from cardbenefits.simulate.columnar import iter_chunks
        from cardbenefits.simulate.fast import chunks_of

        tz = self.catalog.timezone
        if self.source is not None:
            return iter_chunks(self.source, timezone=tz)
        return chunks_of(self.events, timezone=tz)

    def simulation(self, **options: Any) -> Simulation:
        """Everything in the catalog, replayed (:meth:`Simulation.from_catalog`)."""
        return Simulation.from_catalog(self.catalog, as_of=self.as_of, **options)


def _instant(text: str, tz: str) -> _dt.datetime:
    try:
        parsed = pendulum.parse(text, tz=tz)
    except (ValueError, pendulum.parsing.exceptions.ParserError) as exc:
        raise CardBenefitsError(f"not an ISO-8601 instant: {exc}", path="--as-of", value=text) from None
    if not isinstance(parsed, _dt.datetime):
        parsed = pendulum.datetime(parsed.year, parsed.month, parsed.day, tz=tz)  # type: ignore[union-attr]
    return parsed


def _columnar(args: argparse.Namespace) -> bool:
    """Whether ``simulate`` takes the columnar path (``--engine``; auto: polars and a memory ledger)."""
    memory = args.ledger is None or args.ledger == "memory" or args.ledger.startswith("memory:")
    if args.engine == "events":
        return False
    if args.engine == "columnar":
        if not memory:
            raise CardBenefitsError("the columnar engine needs an in-memory ledger", path="--ledger",
                                    value=args.ledger)  # fmt: skip
        return True
    return memory and importlib.util.find_spec("polars") is not None


def _ledger(spec: str | None) -> Ledger:
    if spec is None or spec == "memory":
        return MemoryLedger()
    if spec.startswith("memory:window="):
        from cardbenefits.ledger.windowed import WindowedLedger, parse_horizon

        return WindowedLedger(horizon=parse_horizon(spec[len("memory:window=") :]))
    if spec.startswith("sqlite:"):
        return SQLiteLedger(spec[len("sqlite:") :])
    raise CardBenefitsError(
        "ledger is 'memory', 'memory:window=<N>d' or 'sqlite:PATH'", path="--ledger", value=spec
    )


def run_simulate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``simulate``; returns the exit code."""
    started = time.perf_counter()
    try:
        setup = _Setup(args)
        ledger = _ledger(args.ledger)
        update, close = (
            progress_reporter(err) if not args.no_progress else ((lambda _n: None), (lambda: None))
        )
        sim = setup.simulation(ledger=ledger, rfm=args.rfm)
        try:
            # both paths pause the cyclic garbage collector for the replay itself
            if _columnar(args):
                from cardbenefits.simulate.fast import run_columnar

                result = run_columnar(sim, setup.customers, setup.chunks(), progress=update)
            else:
                result = sim.run(setup.customers, setup.events, progress=update)
        finally:
            close()
        report = build_report(result, catalog_ref=setup.ref)
        files = write_report(report, args.out, html=not args.no_html)
    except (CatalogReadError, OSError) as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    except CatalogValidationError as exc:
        print(f"INVALID {args.catalog}: {len(exc.issues)} errors", file=err)
        for issue in exc.issues:
            print(f"  {issue}", file=err)
        return EXIT_INVALID
    except CardBenefitsError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_INVALID
    elapsed = time.perf_counter() - started
    totals = report["totals"]
    replayed = sum(report["events"].values())
    print(
        f"replayed {replayed} events ({report['history_events']} history) "
        f"for {totals['customers']} customers with {setup.ref} in {elapsed:.1f}s",
        file=out,
    )
    print(
        f"reached {totals['customers_reached']} customers: {totals['grants']} grants, "
        f"issuer cost {Money.of(totals['issuer_cost']).format('zh_CN')}, {totals['clawbacks']} clawbacks, "
        f"{totals['refusals']} refusals",
        file=out,
    )
    print(
        f"coupons: {totals['coupons_issued']} issued, {totals['coupons_redeemed']} redeemed at checkout, "
        f"{totals['coupons_returned']} returned on refund",
        file=out,
    )
    for funnel in report["funnels"]:
        stages = funnel["stages"]
        print(f"funnel {funnel['campaign_id']}: follow {stages['follow']} -> draw {stages['draw']} "
              f"-> pay {stages['pay']}", file=out)  # fmt: skip
    for group in report["group_rewards"]:
        print(f"group reward {group['programme_id']}: {group['granted']} of {group['groups']} groups "
              f"reached the rate", file=out)  # fmt: skip
    html = [p for p in files if p.suffix == ".html"]
    print(f"report: {Path(args.out) / 'report.json'}" + (f", {html[0]}" if html else ""), file=out)
    return EXIT_OK


def run_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``explain``; returns the exit code."""
    try:
        setup = _Setup(args)
        customers: Mapping[str, Customer] = setup.customers
        text = explain_customer(
            setup.simulation(rfm=args.rfm), customers, setup.events, args.customer, locale=args.locale
        )
    except (CatalogReadError, OSError) as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    except CardBenefitsError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_INVALID
    print(text, file=out)
    return EXIT_OK
