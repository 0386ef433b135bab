"""The catalog: the benefit library (权益库) and card products built from building blocks (权益积木).

A bank's product team writes a catalog file (YAML or JSON); :func:`load_catalog` validates
it completely (every error, with its path) and returns an immutable :class:`Catalog`.
:func:`compose` checks a customer's choice of modules; :func:`recommend` proposes the best
bundle for a customer.

>>> catalog = load_catalog("examples/catalogs/benefits.yaml")
>>> catalog.ref, sorted(catalog.products)
('cardbenefits-demo@2026.11.1', ['black', 'city_roots', 'mid_career', 'silver_care', 'youth'])
>>> catalog.product("silver_care").name.get("en")
'Silver Care Card'
"""

from __future__ import annotations

from cardbenefits.catalog.benefits import (
    Benefit,
    BenefitKind,
    Cashback,
    FeeWaiver,
    Gift,
    InstalmentDiscount,
    Insurance,
    Membership,
    Miles,
    Points,
    Service,
    Validity,
    Voucher,
)
from cardbenefits.catalog.compose import (
    BundleSelection,
    CompositionRefusal,
    CompositionResult,
    Violation,
    ViolationCode,
    compose,
)
from cardbenefits.catalog.eligibility import Eligibility
from cardbenefits.catalog.issues import CatalogIssue, CatalogReadError, CatalogValidationError
from cardbenefits.catalog.loader import (
    catalog_json_schema,
    dumps,
    load_catalog,
    loads,
    parse_catalog,
    write_json_schema,
)
from cardbenefits.catalog.model import Catalog, dump_catalog
from cardbenefits.catalog.products import BenefitModule, CardProduct, ModulePrice
from cardbenefits.catalog.recommend import Recommendation, ScoredModule, recommend
from cardbenefits.catalog.sections import CheckContext, Ref, Section, register_check, register_section

__all__ = [
    "Benefit",
    "BenefitKind",
    "BenefitModule",
    "BundleSelection",
    "CardProduct",
    "Cashback",
    "Catalog",
    "CatalogIssue",
    "CatalogReadError",
    "CatalogValidationError",
    "CheckContext",
    "CompositionRefusal",
    "CompositionResult",
    "Eligibility",
    "FeeWaiver",
    "Gift",
    "InstalmentDiscount",
    "Insurance",
    "Membership",
    "Miles",
    "ModulePrice",
    "Points",
    "Recommendation",
    "Ref",
    "ScoredModule",
    "Section",
    "Service",
    "Validity",
    "Violation",
    "ViolationCode",
    "Voucher",
    "catalog_json_schema",
    "compose",
    "dump_catalog",
    "dumps",
    "load_catalog",
    "loads",
    "parse_catalog",
    "recommend",
    "register_check",
    "register_section",
    "write_json_schema",
]
