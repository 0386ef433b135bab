"""Load -> dump -> load gives an equal catalog, for generated catalogs of every kind."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from cardbenefits.catalog import (
    CatalogValidationError,
    Ref,
    Section,
    catalog_json_schema,
    dumps,
    loads,
    parse_catalog,
)
from cardbenefits.catalog import sections as sections_module

# Control and line-separator characters are left out: PyYAML writes U+0085 raw and reads it back
# as a line break.
chars = st.characters(exclude_categories=["Cc", "Cs", "Zl", "Zp"])
ids = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
amounts = st.decimals(min_value=0, max_value=100000, places=2).map(str)
names = st.one_of(
    st.text(chars, min_size=1, max_size=8),
    st.fixed_dictionaries(
        {"zh_CN": st.text(chars, min_size=1, max_size=6)},
        optional={
            "en": st.text(chars, min_size=1, max_size=6),
            "zh_Hant": st.text(chars, min_size=1, max_size=6),
        },
    ),
)
rates = st.one_of(st.integers(1, 100), st.decimals(min_value="0.01", max_value=100, places=2).map(str))

KIND_FIELDS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "cashback": st.one_of(
        st.fixed_dictionaries({"rate": rates}, optional={"cap": amounts}),
        st.fixed_dictionaries({"amount": amounts}, optional={"min_spend": amounts}),
    ),
    "points": st.fixed_dictionaries({"points": st.integers(1, 10**6)}, optional={"multiplier": rates}),
    "miles": st.fixed_dictionaries({"multiplier": rates}, optional={"airlines": st.lists(ids, max_size=3)}),
    "voucher": st.fixed_dictionaries({"amount": amounts}, optional={"min_spend": amounts}),
    "membership": st.fixed_dictionaries({"membership": ids}, optional={"months": st.integers(1, 24)}),
    "service": st.fixed_dictionaries({"service": ids}, optional={"uses": st.integers(1, 50)}),
    "insurance": st.fixed_dictionaries({"insurance": ids, "coverage": amounts}),
    "fee_waiver": st.fixed_dictionaries({"fee": ids}, optional={"percent": st.integers(1, 100)}),
    "instalment_discount": st.fixed_dictionaries(
        {"percent": st.integers(1, 100)}, optional={"max_periods": st.integers(1, 36)}
    ),
    "gift": st.fixed_dictionaries({"item": st.text(chars, min_size=1, max_size=8)}),
}

common = st.fixed_dictionaries(
    {"name": names},
    optional={
        "description": names,
        "face_value": amounts,
        "cost": amounts,
        "provider": st.text(chars, min_size=1, max_size=8),
        "stock": st.integers(0, 10**6),
        "daily_stock": st.integers(0, 10**4),
        "tags": st.lists(ids, max_size=3),
        "validity": st.one_of(
            st.fixed_dictionaries({"days": st.integers(1, 365)}),
            st.just({"start": "2026-01-01", "end": "2026-12-31T23:59:59+08:00"}),
        ),
    },
)

RULES = ["age >= 18", '"gamer" in tags and not delinquent', 'spend.month >= ¥3000 or card.tier == "gold"']


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    benefit_ids = draw(st.lists(ids, min_size=1, max_size=6, unique=True))
    benefits = []
    for bid in benefit_ids:
        kind = draw(st.sampled_from(sorted(KIND_FIELDS)))
        benefits.append({"id": bid, "kind": kind, **draw(common), **draw(KIND_FIELDS[kind])})
    products = []
    for pid in draw(st.lists(ids, max_size=3, unique=True)):
        module_ids = draw(st.lists(ids, max_size=5, unique=True))
        modules = []
        for i, mid in enumerate(module_ids):
            module: dict[str, Any] = {
                "id": mid,
                "name": draw(names),
                "benefits": draw(st.lists(st.sampled_from(benefit_ids), min_size=1, max_size=2)),
            }
            if i and draw(st.booleans()):
                module["requires"] = [module_ids[draw(st.integers(0, i - 1))]]
            if draw(st.booleans()):
                module["eligibility"] = draw(st.sampled_from(RULES))
            if draw(st.booleans()):
                module["price"] = draw(
                    st.fixed_dictionaries({}, optional={"fee": amounts, "points": st.integers(0, 5000)})
                )
            if draw(st.booleans()):
                module["affinity"] = draw(st.dictionaries(ids, st.integers(-5, 5), max_size=3))
            module["shareable"] = draw(st.booleans())
            module["base_score"] = draw(st.integers(-3, 3))
            modules.append(module)
        product: dict[str, Any] = {
            "id": pid,
            "name": draw(names),
            "core": draw(st.lists(st.sampled_from(benefit_ids), max_size=3)),
            "modules": modules,
        }
        for key in ("slots", "points_budget", "max_shared"):
            if draw(st.booleans()):
                product[key] = draw(st.integers(0, 10))
        products.append(product)
    return {
        "id": draw(ids),
        "version": draw(st.from_regex(r"[0-9]{1,4}(\.[0-9]{1,2}){0,2}", fullmatch=True)),
        "currency": draw(st.sampled_from(["CNY", "HKD", "USD"])),
        "benefits": benefits,
        "products": products,
    }


@settings(max_examples=60, deadline=None)
@given(documents())
def test_load_dump_load_is_identity(document: dict[str, Any]) -> None:
    catalog = parse_catalog(document)
    dumped = catalog.dump()
    again = parse_catalog(dumped)
    assert again == catalog
    assert again.digest == catalog.digest
    assert again.dump() == dumped
    assert loads(dumps(catalog)) == catalog
    assert loads(dumps(catalog, "json"), "json") == catalog


# -- a later section slots in -------------------------------------------------------------------
class TemplateFile(BaseModel):
    """A stand-in for a section a later module registers."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    id: str
    benefit: Annotated[str, Ref("benefits")]


@pytest.fixture
def coupon_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    # Load the plug-in sections first, so the stand-in replaces the real one for this test
    # instead of being refused when the real one registers later.
    sections_module.sections()
    section = Section(
        key="coupon_templates",
        item_type=TemplateFile,
        to_domain=lambda model: model,
        to_file=lambda item: item,
        order=30,
    )
    monkeypatch.setitem(sections_module._SECTIONS, "coupon_templates", section)


@pytest.mark.usefixtures("coupon_templates")
def test_a_registered_section_is_validated_checked_dumped_and_in_the_schema(doc: dict[str, Any]) -> None:
    doc["coupon_templates"] = [{"id": "t1", "benefit": "cashback"}]
    doc["benefits"].append({"id": "v", "kind": "voucher", "name": "券", "coupon_template": "t1"})
    catalog = parse_catalog(doc)
    assert catalog.section("coupon_templates")["t1"].benefit == "cashback"
    assert parse_catalog(catalog.dump()) == catalog
    assert catalog.summary()["coupon_templates"] == 1
    assert "coupon_templates" in catalog_json_schema()["properties"]
    doc["coupon_templates"].append({"id": "t1", "benefit": "cashbak"})
    doc["benefits"][-1]["coupon_template"] = "t_1"
    with pytest.raises(CatalogValidationError) as info:
        parse_catalog(doc)
    found = {(i.path, i.message, i.suggestion) for i in info.value.issues}
    assert found == {
        ("benefits[3].coupon_template", "unknown coupon_template id", "t1"),
        ("coupon_templates[1].id", "duplicate id (first at coupon_templates[0])", None),
        ("coupon_templates[1].benefit", "unknown benefit id", "cashback"),
    }


def test_without_the_section_a_coupon_template_reference_is_unknown(doc: dict[str, Any]) -> None:
    doc["benefits"].append({"id": "v", "kind": "voucher", "name": "券", "coupon_template": "t1"})
    with pytest.raises(CatalogValidationError) as info:
        parse_catalog(doc)
    assert [i.path for i in info.value.issues] == ["benefits[3].coupon_template"]
