"""Coupon catalog sections: the example catalog at checkout, round trips, error paths, schema."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any, get_args

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.catalog import (
    CatalogValidationError,
    catalog_json_schema,
    dumps,
    load_catalog,
    loads,
    parse_catalog,
)
from cardbenefits.coupons import (
    CouponTemplate,
    InstantDiscount,
    Payment,
    PercentOff,
    StackingRules,
    ThresholdDiscount,
    Validity,
    Wallet,
    best_combination,
    coupon_pools,
    coupon_templates,
    exhaustive_combination,
    issue_coupon,
    redeem_coupon,
    return_coupon,
    stacking_rules,
)
from cardbenefits.coupons.catalog_file import ChannelName, RoundingName
from cardbenefits.errors import CatalogError
from cardbenefits.facts import Channel, Transaction
from cardbenefits.ledger import MemoryLedger
from cardbenefits.money import Money, Rounding
from cardbenefits.windows import RecurringWindow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "catalogs" / "coupons.yaml"
WEDNESDAY = pendulum.datetime(2026, 11, 4, 9, tz="Asia/Shanghai")


@pytest.fixture(scope="module")
def catalog() -> Any:
    return load_catalog(EXAMPLE)


def fill_wallet(catalog: Any, ledger: MemoryLedger, customer: str, at: pendulum.DateTime) -> Wallet:
    templates, pools = coupon_templates(catalog), coupon_pools(catalog)
    record = {"age": 30, "delinquent": False}
    for pool in pools.values():
        decision = issue_coupon(
            pool,
            templates[pool.template_id],
            customer_id=customer,
            request_id="claim-1",
            at=at,
            view=ledger,
            record=record,
        )
        assert decision.ok, (pool.id, decision.refusal)
        assert ledger.apply(decision.batch).applied
    return Wallet.from_ledger(ledger, customer, templates)


# -- the example catalog at checkout ------------------------------------------------------------
def test_example_has_the_domain_coupons(catalog: Any) -> None:
    templates = coupon_templates(catalog)
    assert set(templates) == {"mj100-20", "ljj10", "wed50", "cb5", "miles3x", "video-gift"}
    assert templates["mj100-20"].effect == ThresholdDiscount(Money.of(100), Money.of(20))
    assert templates["ljj10"].effect == InstantDiscount(Money.of(10), Money.of(50))
    assert templates["ljj10"].validity == Validity(days=7)
    assert templates["ljj10"].stacking.alone
    assert templates["wed50"].effect == PercentOff(50, Money.of(30))
    assert templates["wed50"].windows == (RecurringWindow(frozenset({3}), "00:00", "24:00"),)
    assert templates["wed50"].scope.mccs == {"5812", "5814"}
    assert templates["miles3x"].scope.card_products == {"travel"}
    assert str(templates["video-gift"].name) == "视频会员月卡"
    pools = coupon_pools(catalog)
    assert pools["ljj10-daily"].daily_stock == 2000
    assert (pools["mj100-nov"].total_stock, pools["mj100-nov"].per_customer_daily) == (10000, 1)
    assert catalog.benefit("welcome_ljj").coupon_template == "ljj10"
    assert stacking_rules(catalog).limit("merchant") == 1
    assert stacking_rules(catalog, "single").max_coupons == 1


def test_wednesday_lunch_takes_the_best_combination_and_redeems_it(catalog: Any) -> None:
    ledger = MemoryLedger()
    wallet = fill_wallet(catalog, ledger, "c42", WEDNESDAY)
    assert len(wallet) == 6
    txn = Transaction(
        "t1", "c42", "k1", Money.of("128.00"), "noodle-house", "5812", "wechat_pay", "purchase",
        WEDNESDAY.add(hours=3),
    )  # fmt: skip
    payment = Payment.for_transaction(txn, card_product="dining")
    rules = stacking_rules(catalog)
    plan = best_combination(wallet.available(payment.at), payment, rules)
    # 满100减20 first (priority 10), then half of the remaining ¥108 capped at ¥30, then ¥5 back.
    assert [a.template_id for a in plan.coupons] == ["mj100-20", "wed50", "cb5"]
    assert (plan.discount, plan.cashback, plan.payable) == (Money.of(50), Money.of(5), Money.of(78))
    assert (
        plan.without_search_stats()
        == exhaustive_combination(wallet.available(payment.at), payment, rules).without_search_stats()
    )
    assert {r.coupon_id.split(":")[0]: r.reason for r in plan.refused} == {
        "miles3x-pool": "MCC '5812' not in scope",
        "video-gift-pool": "minimum spend 200.00 not reached",
    }
    for applied in plan.coupons:
        coupon = wallet.get(applied.coupon_id)
        assert coupon is not None
        used = redeem_coupon(coupon.coupon, payment_id="t1", at=payment.at, view=ledger)
        assert ledger.apply(used.batch).applied
    # Refund: cb5 says on_refund: never; the others come back while still valid.
    for applied in plan.coupons:
        coupon = wallet.get(applied.coupon_id)
        assert coupon is not None
        back = return_coupon(
            coupon.coupon, refund_id="r1", payment_id="t1", at=payment.at.add(hours=2), view=ledger
        )
        if back.ok:
            assert ledger.apply(back.batch).applied
    after = Wallet.from_ledger(ledger, "c42", coupon_templates(catalog))
    states = {c.coupon.template_id: c.state.value for c in after}
    assert states["cb5"] == "redeemed"
    assert states["mj100-20"] == states["wed50"] == "returned"


def test_thursday_and_small_payments_use_other_coupons(catalog: Any) -> None:
    ledger = MemoryLedger()
    wallet = fill_wallet(catalog, ledger, "c7", WEDNESDAY)
    thursday = WEDNESDAY.add(days=1, hours=3)
    payment = Payment(Money.of("60.00"), thursday, mcc="5812", channel=Channel.ALIPAY)
    plan = best_combination(wallet.available(thursday), payment, stacking_rules(catalog))
    assert ("wed50-nov:claim-1", "outside usage window (Thu 12:00 Asia/Shanghai)") in {
        (r.coupon_id, r.reason) for r in plan.refused
    }
    # ¥10 立减金 alone beats ¥5 cashback; 满100减20 needs ¥100.
    assert [a.template_id for a in plan.coupons] == ["ljj10"]
    assert plan.payable == Money.of(50)
    # At a POS terminal the 立减金 (WeChat Pay / Alipay only) is out of scope.
    pos = Payment(Money.of("60.00"), thursday, mcc="5812", channel=Channel.POS)
    assert [a.template_id for a in best_combination(wallet.available(thursday), pos).coupons] == ["cb5"]


def test_miles_coupon_only_on_the_travel_card_at_airlines(catalog: Any) -> None:
    ledger = MemoryLedger()
    wallet = fill_wallet(catalog, ledger, "c9", WEDNESDAY)
    at = WEDNESDAY.add(days=2)
    flight = Payment(Money.of("1880.00"), at, mcc="4511", channel="online", card_product="travel")
    plan = best_combination(wallet.available(at), flight, stacking_rules(catalog))
    assert {a.template_id for a in plan.coupons} == {"mj100-20", "miles3x", "video-gift"}
    other_card = attrs_evolve(flight, card_product="dining")
    plan = best_combination(wallet.available(at), other_card, stacking_rules(catalog))
    assert "miles3x" not in {a.template_id for a in plan.coupons}


def attrs_evolve(payment: Payment, **changes: Any) -> Payment:
    import attrs

    return attrs.evolve(payment, **changes)


def test_stacking_rules_lookup() -> None:
    doc = {"id": "x", "version": "1"}
    assert stacking_rules(parse_catalog(doc)) == StackingRules()
    with_rules = parse_catalog({**doc, "checkout_rules": [{"id": "default", "max_coupons": 2}]})
    with pytest.raises(CatalogError, match="did you mean 'default'"):
        stacking_rules(with_rules, "defualt")


# -- round trip ---------------------------------------------------------------------------------
amounts = st.integers(1, 100000).map(lambda fen: str(Money.from_minor(fen).amount))
ids = st.from_regex(r"[a-z][a-z0-9_\-]{0,8}", fullmatch=True)
instants = st.sampled_from(["2026-11-01", "2026-11-01T08:30:00+08:00", "2026-12-24T23:59:59Z"])

EFFECTS: list[st.SearchStrategy[dict[str, Any]]] = [
    st.integers(2, 1000).flatmap(
        lambda t: st.fixed_dictionaries(
            {
                "kind": st.just("threshold_discount"),
                "threshold": st.just(str(t)),
                "discount": st.integers(1, t).map(str),
            }
        )
    ),
    st.fixed_dictionaries(
        {"kind": st.just("instant_discount"), "discount": amounts}, optional={"min_spend": amounts}
    ),
    st.fixed_dictionaries(
        {"kind": st.just("percent_off"), "percent": st.sampled_from([5, "12.5", 50, 100])},
        optional={
            "cap": amounts,
            "min_spend": amounts,
            "rounding": st.sampled_from([r.value for r in Rounding]),
        },
    ),
    st.fixed_dictionaries({"kind": st.just("cashback"), "amount": amounts}, optional={"min_spend": amounts}),
    st.fixed_dictionaries(
        {
            "kind": st.just("multiplier"),
            "asset": st.sampled_from(["points", "miles"]),
            "factor": st.sampled_from([2, "1.5", 3]),
        },
        optional={"min_spend": amounts, "estimated_value": amounts},
    ),
    st.fixed_dictionaries(
        {"kind": st.just("gift"), "description": st.sampled_from(["视频会员月卡", "体检套餐"])},
        optional={"min_spend": amounts, "estimated_value": amounts},
    ),
]
times = st.sampled_from(["00:00", "09:30", "11:30", "14:00", "22:00", "02:00", "24:00", "23:59:30"])

template_extras = st.fixed_dictionaries(
    {},
    optional={
        "scope": st.fixed_dictionaries(
            {},
            optional={
                "merchants": st.lists(ids, max_size=2),
                "mccs": st.lists(st.sampled_from(["5812", "5814", "5411"]), max_size=2),
                "exclude_mccs": st.lists(st.sampled_from(["6513", "9311"]), max_size=2),
                "channels": st.lists(st.sampled_from([c.value for c in Channel]), max_size=3),
                "card_products": st.lists(st.just("card"), max_size=1),
                "regions": st.lists(st.sampled_from(["310000", "110000"]), max_size=2),
            },
        ),
        "windows": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "weekdays": st.lists(st.integers(1, 7), min_size=1, max_size=7, unique=True),
                    "start": times,
                    "end": times,
                    "timezone": st.sampled_from(["Asia/Shanghai", "Asia/Hong_Kong"]),
                },
            ),
            max_size=2,
        ),
        "stacking": st.fixed_dictionaries(
            {},
            optional={
                "group": st.sampled_from(["default", "bank", "merchant"]),
                "priority": st.integers(-5, 200),
                "alone": st.booleans(),
                "max_per_payment": st.integers(1, 3),
            },
        ),
        "threshold_basis": st.sampled_from(["remaining", "original"]),
        "on_refund": st.sampled_from(["return_if_valid", "always", "never"]),
        "eligibility": st.sampled_from(["age >= 18", '"gamer" in tags and not delinquent']),
        "timezone": st.sampled_from(["Asia/Shanghai", "Asia/Hong_Kong", "Europe/London"]),
        "name": st.just({"zh_CN": "券", "en": "Coupon", "zh_Hant": "券"}),
    },
)
validities = st.one_of(
    st.fixed_dictionaries({"days": st.integers(1, 90)}, optional={"starts_at": instants}),
    st.just({"starts_at": "2026-11-01", "ends_at": "2026-12-01T00:00:00+08:00"}),
    st.just({"ends_at": "2027-01-01", "days": 7}),
)


@st.composite
def coupon_documents(draw: st.DrawFn) -> dict[str, Any]:
    template_ids = draw(st.lists(ids, min_size=1, max_size=5, unique=True))
    templates = [
        {
            "id": tid,
            "name": "券",
            "effect": draw(st.one_of(*EFFECTS)),
            "validity": draw(validities),
            **draw(template_extras),
        }
        for tid in template_ids
    ]
    limits = st.one_of(st.none(), st.integers(1, 10**6))
    pools = []
    for pid in draw(st.lists(ids, max_size=4, unique=True)):
        pool: dict[str, Any] = {"id": pid, "template": draw(st.sampled_from(template_ids))}
        for key in ("total_stock", "daily_stock", "per_customer", "per_customer_daily"):
            value = draw(limits)
            if value is not None:
                pool[key] = value
        if draw(st.booleans()):
            pool.update(opens_at="2026-11-01", closes_at="2026-12-01")
        if draw(st.booleans()):
            pool["timezone"] = draw(st.sampled_from(["Asia/Shanghai", "Asia/Hong_Kong"]))
        pools.append(pool)
    groups = sorted({t.get("stacking", {}).get("group", "default") for t in templates})
    rules = [
        {
            "id": rid,
            **draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "max_coupons": st.integers(1, 5),
                        "group_limits": st.dictionaries(st.sampled_from(groups), st.integers(1, 3)),
                        "default_group_limit": st.integers(1, 3),
                    },
                )
            ),
        }
        for rid in draw(st.lists(ids, max_size=2, unique=True))
    ]
    return {
        "id": "coupons",
        "version": "1",
        "currency": draw(st.sampled_from(["CNY", "HKD"])),
        "timezone": draw(st.sampled_from(["Asia/Shanghai", "Asia/Hong_Kong"])),
        "benefits": [{"id": "v", "kind": "voucher", "name": "券", "coupon_template": template_ids[0]}],
        "products": [{"id": "card", "name": "卡"}],
        "coupon_templates": templates,
        "coupon_pools": pools,
        "checkout_rules": rules,
    }


@settings(max_examples=60, deadline=None)
@given(coupon_documents())
def test_load_dump_load_is_identity(document: dict[str, Any]) -> None:
    catalog = parse_catalog(document)
    dumped = catalog.dump()
    again = parse_catalog(dumped)
    assert again == catalog
    assert again.dump() == dumped
    assert again.digest == catalog.digest
    assert loads(dumps(catalog)) == catalog
    assert loads(dumps(catalog, "json"), "json") == catalog
    for template in coupon_templates(catalog).values():
        # Amounts without a currency are in the catalog's, including "no minimum spend".
        assert template.min_spend.currency == document["currency"]
        assert template.timezone in ("Asia/Shanghai", "Asia/Hong_Kong", "Europe/London")


def test_example_round_trips_and_defaults_are_left_out(catalog: Any) -> None:
    dumped = catalog.dump()
    assert parse_catalog(dumped) == catalog
    ljj = next(t for t in dumped["coupon_templates"] if t["id"] == "ljj10")
    assert ljj == {
        "id": "ljj10",
        "name": {"zh_CN": "10元立减金", "en": "¥10 instant discount"},
        "effect": {"kind": "instant_discount", "discount": "10", "min_spend": "50"},
        "scope": {"channels": ["alipay", "wechat_pay"]},
        "validity": {"days": 7},
        "stacking": {"group": "bank", "alone": True},
    }


# -- errors -------------------------------------------------------------------------------------
BASE: dict[str, Any] = {
    "id": "t",
    "version": "1",
    "benefits": [{"id": "v", "kind": "voucher", "name": "券", "coupon_template": "mj100"}],
    "products": [{"id": "youth", "name": "青春卡"}],
    "coupon_templates": [
        {
            "id": "mj100",
            "name": "满减",
            "effect": {"kind": "threshold_discount", "threshold": "100", "discount": "20"},
            "validity": {"days": 7},
        }
    ],
    "coupon_pools": [{"id": "p", "template": "mj100"}],
    "checkout_rules": [{"id": "default", "group_limits": {"default": 1}}],
}


def issues(change: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    doc = copy.deepcopy(BASE)
    for path, value in change.items():
        target: Any = doc
        *head, last = path.split("/")
        for part in head:
            target = target[int(part)] if part.isdigit() else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    with pytest.raises(CatalogValidationError) as info:
        parse_catalog(doc)
    return {(i.path, i.message, i.suggestion) for i in info.value.issues}


def test_base_document_is_valid() -> None:
    assert parse_catalog(copy.deepcopy(BASE)).summary()["coupon_templates"] == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"coupon_templates/0/effect/discount": "120"},
            ("coupon_templates[0].effect.off", "discount larger than the threshold", None),
        ),
        (
            {"coupon_templates/0/effect/discont": "5"},
            ("coupon_templates[0].effect.discont", "unknown key", None),
        ),
        (
            {"coupon_templates/0/effect/kind": "threshold_discont"},
            ("coupon_templates[0].effect.kind", "unknown kind", "threshold_discount"),
        ),
        (
            {"coupon_templates/0/effect/discount": 20.5},
            (
                "coupon_templates[0].effect.discount",
                'write amounts as text such as "20.5" (a float cannot hold fen exactly)',
                None,
            ),
        ),
        (
            {"coupon_templates/0/effect/discount": "0.001"},
            ("coupon_templates[0].effect.off", "amount must be a whole number of minor units (fen)", None),
        ),
        (
            {"coupon_templates/0/validity": {}},
            ("coupon_templates[0].validity", "validity needs ends_at or days", None),
        ),
        (
            {"coupon_templates/0/validity": {"starts_at": "2026-12-01", "ends_at": "2026-11-01"}},
            ("coupon_templates[0].validity.ends_at", "validity ends before it starts", None),
        ),
        (
            {"coupon_templates/0/windows": [{"start": "9:30"}]},
            (
                "coupon_templates[0].windows[0].start",
                "expected a local time such as '09:30' or '24:00'",
                None,
            ),
        ),
        (
            {"coupon_templates/0/windows": [{"weekdays": [0]}]},
            (
                "coupon_templates[0].windows[0].weekdays[0]",
                "Input should be greater than or equal to 1",
                None,
            ),
        ),
        (
            {"coupon_templates/0/scope": {"card_products": ["yuoth"]}},
            ("coupon_templates[0].scope.card_products[0]", "unknown product id", "youth"),
        ),
        (
            {"coupon_templates/0/scope": {"mccs": ["58120"]}},
            ("coupon_templates[0].scope.mccs[0]", "an MCC is 4 digits such as '5812'", None),
        ),
        (
            {
                "coupon_templates/0/id": "m:j",
                "benefits/0/coupon_template": "m:j",
                "coupon_pools/0/template": "m:j",
            },
            ("coupon_templates[0].id", "not a valid id (ASCII letters, digits, '_', '-', '.')", None),
        ),
        (
            {"coupon_templates/0/timezone": "Asia/Beijing"},
            ("coupon_templates[0].timezone", "unknown time zone", None),
        ),
        (
            {"coupon_templates/0/stacking": {"max_per_payment": 0}},
            ("coupon_templates[0].stacking.max_per_payment", "Input should be greater than 0", None),
        ),
        (
            {"coupon_pools/0/template": "mj10"},
            ("coupon_pools[0].template", "unknown coupon_template id", "mj100"),
        ),
        (
            {
                "coupon_pools/0": {
                    "id": "p",
                    "template": "mj100",
                    "opens_at": "2026-12-01",
                    "closes_at": "2026-11-01",
                }
            },
            ("coupon_pools[0].closes_at", "pool closes before it opens", None),
        ),
        (
            {"benefits/0/coupon_template": "mj1OO"},
            ("benefits[0].coupon_template", "unknown coupon_template id", "mj100"),
        ),
        (
            {"checkout_rules/0/group_limits": {"defualt": 1}},
            ("checkout_rules[0].group_limits.defualt", "no template uses this stacking group", "default"),
        ),
    ],
)
def test_errors_name_the_path(change: dict[str, Any], expected: tuple[str, str, str | None]) -> None:
    assert expected in issues(change)


def test_a_rule_error_carries_its_position() -> None:
    doc = copy.deepcopy(BASE)
    doc["coupon_templates"][0]["eligibility"] = 'age >= 18 and segmnt == "x"'
    with pytest.raises(CatalogValidationError) as info:
        parse_catalog(doc)
    (issue,) = info.value.issues
    assert (issue.path, issue.position) == ("coupon_templates[0].eligibility", "1:15")
    assert "did you mean 'segment'" in issue.message


def test_yaml_off_would_be_false_so_the_key_is_discount() -> None:
    text = (
        "id: t\nversion: '1'\ncoupon_templates:\n"
        "  - {id: a, name: a, validity: {days: 1}, effect: {kind: instant_discount, off: '5'}}\n"
    )
    with pytest.raises(CatalogValidationError) as info:
        loads(text)
    assert "coupon_templates[0].effect.discount" in {i.path for i in info.value.issues}


# -- schema and shared vocabularies ---------------------------------------------------------------
def test_json_schema_describes_the_coupon_sections() -> None:
    schema = catalog_json_schema()
    for key in ("coupon_templates", "coupon_pools", "checkout_rules"):
        assert key in schema["properties"]
    text = str(schema)
    for kind in ("threshold_discount", "instant_discount", "percent_off", "cashback", "multiplier", "gift"):
        assert kind in text


def test_file_vocabularies_match_the_library_enums() -> None:
    assert set(get_args(ChannelName)) == {c.value for c in Channel}
    assert set(get_args(RoundingName)) == {r.value for r in Rounding}


def test_a_transaction_channel_matches_a_coupon_scope_directly() -> None:
    tpl = CouponTemplate(id="qp", name="云闪付立减", effect=InstantDiscount(Money.of(5)))
    scope = tpl.scope.__class__(channels=frozenset({Channel.UNIONPAY_QUICKPASS}))
    txn = Transaction("t", "c", "k", Money.of(30), "m", "5411", "unionpay_quickpass", "purchase", WEDNESDAY)
    payment = Payment.for_transaction(txn)
    assert payment.channel is Channel.UNIONPAY_QUICKPASS
    assert (
        scope.refusal(merchant="m", mcc="5411", channel=payment.channel, card_product=None, region=None)
        is None
    )
    refund = Transaction(
        "t2", "c", "k", Money.of(30), "m", "5411", "pos", "refund", WEDNESDAY.add(hours=1), refund_of="t"
    )
    with pytest.raises(Exception, match="only a purchase"):
        Payment.for_transaction(refund)


# -- validity and windows (shared window types) -------------------------------------------------
@given(st.integers(0, 24 * 60 - 1), st.integers(1, 60), st.sampled_from(["Asia/Shanghai", "Europe/London"]))
def test_relative_validity_runs_through_the_last_local_day(minute: int, days: int, tz: str) -> None:
    issued = pendulum.datetime(2026, 11, 1, tz=tz).add(minutes=minute)
    start, end = Validity(days=days).window(issued, tz)
    assert start == issued
    expected_day = dt.date(2026, 11, 1) + dt.timedelta(days=days)
    assert end == pendulum.datetime(expected_day.year, expected_day.month, expected_day.day, tz=tz)


def test_overnight_window_belongs_to_the_day_it_starts() -> None:
    friday_night = RecurringWindow(frozenset({5}), "22:00", "02:00")
    tpl = CouponTemplate(id="late", name="夜宵", effect=InstantDiscount(Money.of(5)), windows=(friday_night,))
    assert tpl.window_refusal(pendulum.datetime(2026, 11, 7, 1, tz="Asia/Shanghai")) is None  # Saturday 01:00
    assert tpl.window_refusal(pendulum.datetime(2026, 11, 7, 2, tz="Asia/Shanghai")) == (
        "outside usage window (Sat 02:00 Asia/Shanghai)"
    )
    with pytest.raises(CatalogError, match="RecurringWindow"):
        CouponTemplate(id="x", name="x", effect=InstantDiscount(Money.of(5)), windows=("Wed",))  # type: ignore[arg-type]
