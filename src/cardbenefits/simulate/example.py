"""The bundled example: the demo catalog and a seeded synthetic data set to replay it on.

``cardbenefits simulate`` with no arguments runs this. The catalog is package data,
``cardbenefits/data/demo.yaml`` (a copy of ``examples/catalogs/demo.yaml``); the data set is
**generated at run time** by :mod:`cardbenefits.synth` with a fixed seed (:data:`EXAMPLE_CONFIG`:
400 customers, Sept–Nov 2026, about 20k events), so nothing large ships with the package and
every run is identical. September and October are history (they feed RFM and lifecycle);
November is replayed (:data:`EXAMPLE_AS_OF`). :func:`write_example` writes the same data as
files (CSV, JSON lines or Parquet) for trying the readers.

The catalog (:func:`example_catalog`), modelled on the domain's examples:

- ``cashback_small`` 小额多笔返现: each purchase ≥ ¥50 returns ¥5, at most 5 times per customer
  per calendar month, within a campaign budget of ¥20,000;
- ``points_basic``: 1 point per ¥20, floored per transaction, ¥0.01 issuer cost per point;
- ``welcome`` 阶梯式激活: first calendar month after approval spend ≥ ¥1,000 → video membership
  month card (¥12 cost); qualifying spend in each of three consecutive months → health check
  (¥260 cost), 300 in stock;
- ``team80`` 团队达标奖: ¥2,000 team-building funds to each employer group with ≥ 80 % of its
  members (at least 5) activated by 30 November;
- funnel ``e_life`` (工银e生活-style follow → draw → pay) with a pool of ¥20-off (60 in stock,
  5 a day) and ¥5 coupons and a 谢谢参与 blank, guarded by the risk policy ``e_life_risk``;
  a purchase paid with a drawn coupon completes the pay stage;
- ``share_and_invite`` 分享裂变: ¥20 to the inviter, a ¥10 coupon to the invitee on activation.

>>> customers, events = example_data()
>>> len(customers)
400
>>> engine = example_engine()
>>> [p.id for p in engine.programmes], [x.id for x in engine.ladders], [g.id for g in engine.group_rewards]
(['cashback_small', 'points_basic'], ['welcome'], ['team80'])
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import attrs
import pendulum

from cardbenefits.catalog import Catalog
from cardbenefits.catalog.loader import loads
from cardbenefits.engine import Engine
from cardbenefits.facts import Customer, Event, customer_record
from cardbenefits.funnel.campaign import FunnelCampaign
from cardbenefits.funnel.decide import WalletIssuer
from cardbenefits.simulate.io import write_customers, write_events
from cardbenefits.simulate.replay import Simulation
from cardbenefits.synth import SynthConfig, generate_customers, generate_events

__all__ = [
    "EXAMPLE_AS_OF",
    "EXAMPLE_CATALOG",
    "EXAMPLE_CONFIG",
    "example_catalog",
    "example_data",
    "example_engine",
    "example_funnels",
    "example_issuer",
    "example_simulation",
    "write_example",
]

EXAMPLE_CATALOG = "data/demo.yaml"
"""Where the demo catalog lives inside the ``cardbenefits`` package."""

EXAMPLE_CONFIG = SynthConfig(
    seed=2026, customers=400, months=3, start="2026-09-01", campaigns=("e_life",), follow_rate="0.5"
)
"""The synthetic data set of the example (fixed seed)."""

EXAMPLE_AS_OF = pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai")
"""Segments are computed as of this instant; earlier events are history, later ones replayed."""


def example_catalog() -> Catalog:
    """The demo catalog, read from the installed package (works from any directory).

    >>> example_catalog().ref
    'cardbenefits-demo-all@2026.11.1'
    """
    text = resources.files("cardbenefits").joinpath(EXAMPLE_CATALOG).read_text(encoding="utf-8")
    return loads(text, "yaml", source=f"cardbenefits/{EXAMPLE_CATALOG}")


def example_engine() -> Engine:
    """The engine of the demo catalog (programmes, ladders, group rewards)."""
    return Engine.from_catalog(example_catalog(), record_of=customer_record)


def example_issuer() -> WalletIssuer:
    """The coupon issuer of the demo catalog (its templates, issued from its pools)."""
    issuer = Simulation.from_catalog(example_catalog()).coupon_issuer
    assert isinstance(issuer, WalletIssuer)
    return issuer


def example_funnels() -> dict[str, FunnelCampaign]:
    """The demo catalog's funnel campaigns (``e_life``, November 2026)."""
    return dict(example_catalog().section("campaigns"))


def example_simulation(**options: Any) -> Simulation:
    """A :class:`~cardbenefits.simulate.replay.Simulation` of the whole demo catalog, segments as
    of :data:`EXAMPLE_AS_OF` unless ``options`` say otherwise."""
    options.setdefault("as_of", EXAMPLE_AS_OF)
    return Simulation.from_catalog(example_catalog(), **options)


def example_data() -> tuple[dict[str, Customer], Iterator[Event]]:
    """The example's customers (by id) and its events in replay order (a lazy stream)."""
    customers = {c.id: c for c in generate_customers(EXAMPLE_CONFIG)}
    return customers, generate_events(EXAMPLE_CONFIG, customers.values())


def write_example(folder: str | Path, fmt: Literal["csv", "jsonl", "parquet"] = "csv") -> Path:
    """Write the example data set as an event-set directory (see :mod:`cardbenefits.simulate.io`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    customers, events = example_data()
    # CSV and Parquet customers are flat (no attributes); the replay recomputes rfm/lifecycle anyway.
    people = [attrs.evolve(c, attributes={}) if fmt != "jsonl" else c for c in customers.values()]
    write_customers(folder / f"customers.{fmt}", people)
    by_kind: dict[str, list[Event]] = {"transactions": [], "follows": [], "draws": [], "referrals": []}
    names = {
        "transaction": "transactions",
        "follow": "follows",
        "draw_request": "draws",
        "referral": "referrals",
    }
    for event in events:
        by_kind[names[event.event_type]].append(event)
    for stem, items in by_kind.items():
        if items:
            write_events(folder / f"{stem}.{fmt}", items)
    return folder
