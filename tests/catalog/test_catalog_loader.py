"""Loading catalogs: every error collected with its path, value and suggestion."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from cardbenefits.catalog import (
    Catalog,
    CatalogReadError,
    CatalogValidationError,
    catalog_json_schema,
    dumps,
    load_catalog,
    loads,
    parse_catalog,
    write_json_schema,
)
from cardbenefits.catalog.benefits import Cashback, Membership, Service
from cardbenefits.errors import MISSING, CatalogError
from cardbenefits.money import Money

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "catalogs"
EXAMPLE_FILES = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".yaml", ".yml", ".json"))


def issues_of(doc: Any) -> list[tuple[str, str, Any, str | None, str | None]]:
    with pytest.raises(CatalogValidationError) as info:
        parse_catalog(doc)
    return [(i.path, i.message, i.value, i.suggestion, i.position) for i in info.value.issues]


def paths_of(doc: Any) -> list[str]:
    return [i[0] for i in issues_of(doc)]


# -- the example catalogs ---------------------------------------------------------------------
def test_there_are_yaml_and_json_examples() -> None:
    suffixes = {p.suffix for p in EXAMPLE_FILES}
    assert {".yaml", ".json"} <= suffixes
    assert (EXAMPLES / "benefits.yaml") in EXAMPLE_FILES


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.name for p in EXAMPLE_FILES])
def test_example_catalog_loads_and_round_trips(path: Path) -> None:
    catalog = load_catalog(path)
    assert catalog.benefits
    # Every example defines something besides its benefits (products, programmes, coupons...).
    assert any(n for key, n in catalog.summary().items() if key not in ("benefits", "rules"))
    for fmt in ("yaml", "json"):
        again = loads(dumps(catalog, fmt), fmt)  # type: ignore[arg-type]
        assert again == catalog
        assert again.digest == catalog.digest
        assert dumps(again, fmt) == dumps(catalog, fmt)  # type: ignore[arg-type]


def test_default_catalog_has_the_five_products_in_two_languages() -> None:
    catalog = load_catalog(EXAMPLES / "benefits.yaml")
    assert set(catalog.products) == {"youth", "mid_career", "black", "city_roots", "silver_care"}
    for product in catalog.products.values():
        assert product.name.get("en") != product.name.get("zh_CN")
    assert catalog.product("city_roots").name.get("zh_CN") == "城市扎根卡"
    assert catalog.product("silver_care").name.get("zh_CN") == "银发安心卡"
    assert catalog.benefit("miles_3x").multiplier == 3
    assert catalog.ref == "cardbenefits-demo@2026.11.1"
    summary = catalog.summary()
    assert {k: summary[k] for k in ("benefits", "products", "modules")} == {
        "benefits": 34,
        "products": 5,
        "modules": 25,
    }
    # Sections registered by later layers (programmes, coupons...) add their own counts.
    assert summary["rules"] >= 7


def test_json_example_has_the_issue_ref() -> None:
    assert load_catalog(EXAMPLES / "youth.json").ref == "youth-card@2026.11.1"


# -- building ---------------------------------------------------------------------------------
def test_domain_objects(doc: dict[str, Any]) -> None:
    catalog = parse_catalog(doc)
    assert isinstance(catalog, Catalog)
    assert isinstance(catalog.benefit("cashback"), Cashback)
    assert isinstance(catalog.benefit("lounge"), Service)
    assert isinstance(catalog.benefit("video"), Membership)
    assert catalog.timezone == "Asia/Shanghai"
    assert catalog.currency == "CNY"
    product = catalog.product("card")
    assert product.module("m_video").requires == ("m_lounge",)
    assert product.name.get("en") == "Test card"


def test_money_in_the_catalog_currency_and_with_a_code(doc: dict[str, Any]) -> None:
    doc["currency"] = "HKD"
    doc["benefits"][0] = {
        "id": "cashback",
        "kind": "cashback",
        "name": "x",
        "amount": "5.50",
        "cap": "10 USD",
    }
    catalog = parse_catalog(doc)
    benefit = catalog.benefit("cashback")
    assert isinstance(benefit, Cashback)
    assert benefit.amount == Money.of("5.50", "HKD")
    assert benefit.cap == Money.of("10", "USD")
    assert parse_catalog(catalog.dump()) == catalog
    assert catalog.dump()["benefits"][0]["cap"] == "10 USD"


def test_validity_dates_are_read_in_the_catalog_zone(doc: dict[str, Any]) -> None:
    doc["benefits"][2]["validity"] = {"start": "2026-01-01", "end": "2026-12-31T23:59:59"}
    validity = parse_catalog(doc).benefit("video").validity
    assert validity is not None
    assert validity.start is not None
    assert validity.start.isoformat() == "2026-01-01T00:00:00+08:00"


def test_digest_changes_with_content_and_ref_with_version(doc: dict[str, Any]) -> None:
    first = parse_catalog(doc)
    doc["benefits"][0]["rate"] = 2
    second = parse_catalog(doc)
    assert first.digest != second.digest
    assert first.ref == second.ref == "test@1.0"
    doc["version"] = "1.1"
    assert parse_catalog(doc).ref == "test@1.1"


def test_catalog_lookup_errors_suggest(doc: dict[str, Any]) -> None:
    catalog = parse_catalog(doc)
    with pytest.raises(CatalogError, match="did you mean 'cashback'"):
        catalog.benefit("cashbak")
    with pytest.raises(CatalogError, match="did you mean 'm_video'"):
        catalog.product("card").module("m_vdeo")


# -- error paths ------------------------------------------------------------------------------
def test_unknown_keys_suggest_the_closest(doc: dict[str, Any]) -> None:
    doc["prodcts"] = []
    doc["products"][0]["modules"][0]["pricee"] = {"points": 1}
    doc["benefits"][0]["rat"] = 1
    found = issues_of(doc)
    assert ("prodcts", "unknown key", "prodcts", "products", None) in found
    assert ("products[0].modules[0].pricee", "unknown key", "pricee", "price", None) in found
    assert ("benefits[0].rat", "unknown key", "rat", "rate", None) in found


def test_unknown_kind_and_missing_kind(doc: dict[str, Any]) -> None:
    doc["benefits"][0]["kind"] = "cashbak"
    del doc["benefits"][1]["kind"]
    found = issues_of(doc)
    assert found[0][:4] == ("benefits[0].kind", "unknown kind", "cashbak", "cashback")
    assert found[1][0] == "benefits[1].kind"
    assert "missing 'kind'" in found[1][1]


def test_float_money_is_refused_with_the_text_to_write(doc: dict[str, Any]) -> None:
    doc["benefits"][0] = {"id": "cashback", "kind": "cashback", "name": "x", "amount": 5.5}
    [(path, message, value, _, _)] = issues_of(doc)
    assert path == "benefits[0].amount"
    assert '"5.5"' in message
    assert value == 5.5


def test_references_to_unknown_ids_suggest_the_closest(doc: dict[str, Any]) -> None:
    doc["products"][0]["core"] = ["cashbak"]
    doc["products"][0]["modules"][1]["requires"] = ["m_lounge", "m_lunge"]
    doc["products"][0]["modules"][0]["benefits"] = ["lounge", "nothing_like_it"]
    found = issues_of(doc)
    assert ("products[0].core[0]", "unknown benefit id", "cashbak", "cashback", None) in found
    assert ("products[0].modules[1].requires[1]", "unknown module id", "m_lunge", "m_lounge", None) in found
    assert (
        "products[0].modules[0].benefits[1]",
        "unknown benefit id",
        "nothing_like_it",
        None,
        None,
    ) in found


def test_module_tiers_must_be_tiers_of_the_product(doc: dict[str, Any]) -> None:
    doc["products"][0]["modules"][0]["tiers"] = ["gld"]
    assert issues_of(doc) == [("products[0].modules[0].tiers[0]", "unknown tier id", "gld", "gold", None)]


def test_rule_errors_carry_the_catalog_path_and_rule_position(doc: dict[str, Any]) -> None:
    doc["products"][0]["modules"][0]["eligibility"] = "age >= 18 and\n  rfm.scor > 3"
    doc["products"][0]["modules"][1]["eligibility"] = "age >= "
    found = issues_of(doc)
    assert found[0][0] == "products[0].modules[0].eligibility"
    assert found[0][4] == "2:3"
    assert "rfm.score" in found[0][1]
    assert found[1][0] == "products[0].modules[1].eligibility"
    assert found[1][4] is not None
    assert found[1][4].startswith("1:")
    with pytest.raises(CatalogValidationError) as info:
        parse_catalog(doc)
    assert info.value.issues[0].location == "products[0].modules[0].eligibility:2:3"


def test_catalog_fields_extend_the_rule_schema(doc: dict[str, Any]) -> None:
    doc["products"][0]["modules"][0]["eligibility"] = 'residence_months <= 36 and household == "family"'
    with pytest.raises(CatalogValidationError):
        parse_catalog(doc)
    doc["fields"] = {
        "residence_months": "int",
        "household": {"type": "enum", "choices": ["single", "family"]},
    }
    catalog = parse_catalog(doc)
    assert catalog.fields["residence_months"].type.value == "int"
    assert parse_catalog(catalog.dump()) == catalog
    doc["products"][0]["modules"][0]["eligibility"] = 'household == "famly"'
    [(path, message, *_)] = issues_of(doc)
    assert path == "products[0].modules[0].eligibility"
    assert "family" in message


def test_bad_field_declarations(doc: dict[str, Any]) -> None:
    doc["fields"] = {"x": "intt", "y": {"type": "enum"}}
    paths = paths_of(doc)
    assert "fields.x" in paths
    assert "fields.y" in paths


def test_duplicate_ids_per_section_and_per_product(doc: dict[str, Any]) -> None:
    doc["benefits"].append({"id": "lounge", "kind": "gift", "name": "x", "item": "mug"})
    doc["products"][0]["modules"].append({"id": "m_lounge", "name": "x", "benefits": ["lounge"]})
    found = issues_of(doc)
    assert ("benefits[3].id", "duplicate id (first at benefits[1])", "lounge", None, None) in found
    assert found[-1][:3] == (
        "products[0].modules[2].id",
        "duplicate module id (first at modules[0])",
        "m_lounge",
    )


def test_same_id_in_different_sections_is_fine(doc: dict[str, Any]) -> None:
    doc["products"][0]["id"] = "lounge"
    assert parse_catalog(doc).product("lounge")


def test_prerequisite_cycles_and_self_requirements(doc: dict[str, Any]) -> None:
    modules = doc["products"][0]["modules"]
    modules[0]["requires"] = ["m_video"]
    modules.append({"id": "m_self", "name": "x", "benefits": ["video"], "requires": ["m_self"]})
    found = issues_of(doc)
    assert (
        "products[0].modules[0].requires[0]",
        "prerequisites form a cycle",
        "m_video",
        None,
        None,
    ) in found
    assert (
        "products[0].modules[1].requires[0]",
        "prerequisites form a cycle",
        "m_lounge",
        None,
        None,
    ) in found
    assert (
        "products[0].modules[2].requires[0]",
        "a module cannot require itself",
        "m_self",
        None,
        None,
    ) in found


def test_prerequisite_in_the_same_exclusive_group_is_refused(doc: dict[str, Any]) -> None:
    for module in doc["products"][0]["modules"]:
        module["exclusive_group"] = "g"
    [(path, message, value, _, _)] = issues_of(doc)
    assert path == "products[0].modules[1].requires[0]"
    assert "exclusive group 'g'" in message
    assert value == "m_lounge"


def test_domain_validation_errors_are_reported_with_the_item_path(doc: dict[str, Any]) -> None:
    doc["benefits"][0] = {"id": "cashback", "kind": "cashback", "name": "x"}
    [(path, message, *_)] = issues_of(doc)
    assert path == "benefits[0]"
    assert "exactly one of rate or amount" in message


def test_every_error_is_collected_in_file_order(doc: dict[str, Any]) -> None:
    doc["version"] = 1
    doc["benefits"][0]["rate"] = "abc"
    doc["benefits"][1]["stock"] = -1
    doc["products"][0]["slots"] = "two"
    doc["products"][0]["core"] = ["nope"]
    paths = paths_of(doc)
    assert paths == [
        "version",
        "benefits[0].rate",
        "benefits[1].stock",
        "products[0].slots",
        "products[0].core[0]",
    ]


def test_references_are_checked_even_in_items_that_fail(doc: dict[str, Any]) -> None:
    doc["products"][0]["slots"] = -1
    doc["products"][0]["core"] = ["cashbak"]
    assert paths_of(doc) == ["products[0].slots", "products[0].core[0]"]


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ([], ""),
        ({"id": "x", "version": "1", "benefits": {"a": 1}}, "benefits"),
        ({"version": "1"}, "id"),
        ({"id": "bad id", "version": "1"}, "id"),
        ({"id": "x", "version": "1", "timezone": "Mars/Olympus"}, "timezone"),
        ({"id": "x", "version": "1", "currency": "yuan"}, "currency"),
        ({"id": "x", "version": "1", "name": {"klingon": "x"}}, "name"),
    ],
)
def test_header_errors(document: Any, path: str) -> None:
    assert path in paths_of(document)


def test_yaml_syntax_errors_have_a_position() -> None:
    with pytest.raises(CatalogValidationError) as info:
        loads("id: x\nversion: [1\n")
    [issue] = info.value.issues
    assert issue.position is not None
    assert issue.message.startswith("not valid YAML")


def test_duplicate_yaml_keys_are_refused() -> None:
    with pytest.raises(CatalogValidationError) as info:
        loads("id: x\nversion: '1'\nid: y\n")
    [issue] = info.value.issues
    assert "duplicate key 'id'" in issue.message
    assert issue.position == "3:1"


def test_json_errors_have_a_position() -> None:
    with pytest.raises(CatalogValidationError) as info:
        loads('{"id": "x",\n "version": }', "json")
    assert info.value.issues[0].position == "2:13"


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(CatalogReadError):
        load_catalog(tmp_path / "missing.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"id: \xff\n")
    with pytest.raises(CatalogReadError):
        load_catalog(bad)


def test_validation_error_is_a_catalog_error_and_pickles(doc: dict[str, Any]) -> None:
    doc["products"][0]["core"] = ["cashbak"]
    with pytest.raises(CatalogError) as info:
        parse_catalog(doc)
    err = info.value
    assert isinstance(err, CatalogValidationError)
    again = pickle.loads(pickle.dumps(err))
    assert again.issues == err.issues
    assert str(again) == str(err)
    assert err.issues[0].value == "cashbak"


def test_issue_without_value_says_nothing_about_it(doc: dict[str, Any]) -> None:
    del doc["products"][0]["name"]
    with pytest.raises(CatalogValidationError) as info:
        parse_catalog(doc)
    [issue] = info.value.issues
    assert issue.value is MISSING
    assert str(issue) == "products[0].name: missing required key"


# -- JSON Schema --------------------------------------------------------------------------------
def test_json_schema_covers_every_section_and_kind(tmp_path: Path) -> None:
    schema = catalog_json_schema()
    assert {"benefits", "products", "id", "version", "fields"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False
    text = json.dumps(schema)
    for kind in ("cashback", "fee_waiver", "instalment_discount", "gift"):
        assert f'"{kind}"' in text
    out = write_json_schema(tmp_path / "catalog.schema.json")
    assert json.loads(out.read_text(encoding="utf-8")) == schema


def test_summary_counts_the_rules_of_later_sections() -> None:
    # Programmes and ladders keep parsed rules, coupons too; the summary counts them all.
    rewards = load_catalog(EXAMPLES / "rewards.yaml")
    texts = [e.text for e in rewards.rules()]
    assert len(texts) == rewards.summary()["rules"]
    assert texts
    assert all(isinstance(t, str) and t for t in texts)
    assert load_catalog(EXAMPLES / "coupons.yaml").summary()["rules"] >= 1
