"""Helpers of the funnel tests: a campaign modelled on ICBC e生活, a coupon issuer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import pendulum

from cardbenefits.funnel.campaign import DrawLimits, FunnelCampaign, OutOfStock, Prize, PrizePool
from cardbenefits.funnel.decide import Entrant
from cardbenefits.ledger.entries import EntryKind, LedgerEntry
from cardbenefits.ledger.protocol import LedgerView

START = pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai")
END = pendulum.datetime(2026, 12, 1, tz="Asia/Shanghai")
AT = pendulum.datetime(2026, 11, 23, 10, tz="Asia/Shanghai")


def issue_coupon(
    template_id: str,
    *,
    customer_id: str,
    person_id: str | None,
    programme_id: str,
    coupon_id: str,
    at: datetime,
    catalog_version: str,
    view: LedgerView,
    record: Mapping[str, object],
) -> Sequence[LedgerEntry]:
    """A minimal issuer with the coupon package's issue signature (one ``issue`` entry)."""
    return [
        LedgerEntry(
            kind=EntryKind.ISSUE,
            customer_id=customer_id,
            person_id=person_id,
            programme_id=programme_id,
            asset=f"coupon:{template_id}",
            units=1,
            at=at,
            catalog_version=catalog_version,
            reason="drawn",
            meta={"coupon_id": coupon_id},
        )
    ]


def make_pool(
    *, stock: int | None = 100, daily: int | None = 10, rule: OutOfStock = OutOfStock.BLANK, blank: int = 50
) -> PrizePool:
    return PrizePool(
        "eat-pool",
        prizes=(
            Prize("cut20", "满100减20", coupon_template="cut20", weight=10, stock=stock, daily_stock=daily,
                  name_en="¥20 off ¥100"),
            Prize("cut5", "5元立减金", coupon_template="cut5", weight=40, name_en="¥5 instant discount"),
        ),
        blank_weight=blank,
        on_out_of_stock=rule,
    )  # fmt: skip


def make_campaign(pool: PrizePool | None = None, **kwargs: object) -> FunnelCampaign:
    options: dict[str, object] = {
        "seed": "e-life-2026",
        "pool": pool or make_pool(),
        "starts_at": START,
        "ends_at": END,
        "draw_limits": DrawLimits(per_day=1, per_campaign=3),
        "name_en": "e-Life dining",
    }
    options.update(kwargs)
    return FunnelCampaign("e-life-eat", "e生活 · 餐饮美食", **options)  # type: ignore[arg-type]


def entrant(customer_id: str = "c1", person_id: str | None = None, **record: object) -> Entrant:
    return Entrant(customer_id, person_id=person_id or f"P-{customer_id}", record=record)
