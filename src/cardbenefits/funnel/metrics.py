"""Funnel metrics (运行监测): participants per stage, conversion rates, by channel and by day.

Metrics are folded from the ledger's stage markers (see :mod:`cardbenefits.funnel.decide`),
so any ledger — a live one or a simulation's — gives the same numbers. A participant is
counted once per stage, on the day (campaign zone) they first reached it, under the channel
they followed through. Conversion rates are exact :class:`~decimal.Decimal` ratios rounded
half-even to 4 places (``0.3333``); ``None`` when the earlier stage is empty.

>>> counts = StageCounts(follow=120, draw=90, pay=30)
>>> counts.draw_rate, counts.pay_rate, counts.overall_rate
(Decimal('0.7500'), Decimal('0.3333'), Decimal('0.2500'))
>>> StageCounts().draw_rate is None
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

import attrs

from cardbenefits.funnel.campaign import FunnelCampaign, Stage
from cardbenefits.ledger.entries import EntryKind, LedgerEntry

__all__ = ["FunnelMetrics", "StageCounts", "funnel_metrics"]

_PLACES: Final = Decimal("0.0001")
UNKNOWN_CHANNEL: Final = "unknown"


def _rate(numerator: int, denominator: int) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(_PLACES, rounding=ROUND_HALF_EVEN)


@attrs.frozen
class StageCounts:
    """Participants who reached each stage."""

    follow: int = 0
    draw: int = 0
    pay: int = 0

    def __getitem__(self, stage: Stage) -> int:
        return int(getattr(self, str(stage)))

    @property
    def draw_rate(self) -> Decimal | None:
        """关注→抽奖 conversion: drew / followed."""
        return _rate(self.draw, self.follow)

    @property
    def pay_rate(self) -> Decimal | None:
        """抽奖→支付 conversion: paid / drew."""
        return _rate(self.pay, self.draw)

    @property
    def overall_rate(self) -> Decimal | None:
        """关注→支付 conversion: paid / followed."""
        return _rate(self.pay, self.follow)

    def add(self, stage: Stage) -> StageCounts:
        """These counts with one more participant at ``stage``."""
        return attrs.evolve(self, **{str(stage): self[stage] + 1})


@attrs.frozen
class FunnelMetrics:
    """A campaign's funnel: totals, per channel, per day and per (day, channel); draw results.

    ``draws`` counts every draw (a participant may draw several times), ``wins`` by prize id,
    ``blanks`` the draws that gave 谢谢参与 and ``fallbacks`` the draws changed by the
    out-of-stock rule.
    """

    campaign_id: str
    total: StageCounts
    by_channel: Mapping[str, StageCounts]
    by_day: Mapping[str, StageCounts]
    by_day_channel: Mapping[tuple[str, str], StageCounts]
    draws: int
    wins: Mapping[str, int]
    blanks: int
    fallbacks: int

    def rows(self) -> list[dict[str, object]]:
        """One row per (day, channel): counts and rates, sorted (for reports and CSV)."""
        rows: list[dict[str, object]] = []
        for (day, channel), counts in sorted(self.by_day_channel.items()):
            rows.append(
                {
                    "day": day,
                    "channel": channel,
                    "follow": counts.follow,
                    "draw": counts.draw,
                    "pay": counts.pay,
                    "draw_rate": counts.draw_rate,
                    "pay_rate": counts.pay_rate,
                }
            )
        return rows


def funnel_metrics(campaign: FunnelCampaign, entries: Iterable[LedgerEntry]) -> FunnelMetrics:
    """Fold ``entries`` (any order; e.g. ``view.entries(programme_id=campaign.id)``) into metrics."""
    assets = {f"funnel:{campaign.id}:{stage}": stage for stage in Stage}
    markers = sorted(
        (
            e
            for e in entries
            if e.programme_id == campaign.id and e.kind is EntryKind.GRANT and e.asset in assets
        ),
        key=lambda e: (e.at, e.entry_id),
    )
    channel_of: dict[str, str] = {}
    reached: set[tuple[str, Stage]] = set()
    total = StageCounts()
    by_channel: dict[str, StageCounts] = {}
    by_day: dict[str, StageCounts] = {}
    by_day_channel: dict[tuple[str, str], StageCounts] = {}
    draws = blanks = fallbacks = 0
    wins: dict[str, int] = {}
    for entry in markers:
        stage = assets[entry.asset]
        customer = entry.customer_id
        if stage is Stage.FOLLOW:
            channel_of.setdefault(customer, entry.meta.get("funnel.channel") or UNKNOWN_CHANNEL)
        if stage is Stage.DRAW:
            draws += 1
            prize = entry.meta.get("draw.prize", "")
            if prize:
                wins[prize] = wins.get(prize, 0) + 1
            else:
                blanks += 1
            if entry.meta.get("draw.fallback", "none") != "none":
                fallbacks += 1
        if (customer, stage) in reached:
            continue
        reached.add((customer, stage))
        channel = channel_of.get(customer, UNKNOWN_CHANNEL)
        day = campaign.day(entry.at)
        total = total.add(stage)
        by_channel[channel] = by_channel.get(channel, StageCounts()).add(stage)
        by_day[day] = by_day.get(day, StageCounts()).add(stage)
        by_day_channel[(day, channel)] = by_day_channel.get((day, channel), StageCounts()).add(stage)
    return FunnelMetrics(
        campaign.id,
        total,
        dict(sorted(by_channel.items())),
        dict(sorted(by_day.items())),
        dict(sorted(by_day_channel.items())),
        draws,
        dict(sorted(wins.items())),
        blanks,
        fallbacks,
    )
