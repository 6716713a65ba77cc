"""The resource catalogue: the shipped data, its API, and that it is what the generator makes."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from datetime import date
from importlib.resources import files
from pathlib import Path
from types import ModuleType

import pytest

from sage200_doctor import catalogue
from sage200_doctor.catalogue import access as access_table

REPO = Path(__file__).resolve().parents[2]
SPEC_DIR = REPO.parent / "shared" / "reference" / "sage-openapi-professional"
PACKAGE = files("sage200_doctor.catalogue")
# GET collection endpoints per spec file, counted from Sage's OpenAPI files (267 in all; one,
# customer_price_bands, is described both in price-book.json and in sales.json).
PER_MODULE = {
    "cash-book": 8,
    "commercials": 4,
    "financials": 28,
    "general": 18,
    "nominal": 20,
    "pop": 23,
    "price-book": 11,
    "purchases": 26,
    "sales": 34,
    "sop": 40,
    "stock": 55,
}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_catalogue", REPO / "tools" / "generate_catalogue.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the shipped data (always runs: no spec files needed) -----------------------------------


def test_counts_per_module_including_endpoints_described_twice() -> None:
    counts = Counter(r.module for r in catalogue.all_resources())
    counts.update(m for r in catalogue.all_resources() for m in r.also_in)
    assert dict(counts) == PER_MODULE
    assert sum(counts.values()) == 267
    assert len(catalogue.all_resources()) == 266


def test_every_module_has_a_title_an_access_area_and_a_representative_of_its_own() -> None:
    assert set(catalogue.modules()) == set(PER_MODULE)
    for key, module in catalogue.modules().items():
        assert module.title
        assert module.access_area
        assert catalogue.resource(module.representative).module == key
    reps = catalogue.representatives()
    assert [r.module for r in reps] == list(catalogue.modules())


def test_representatives_exist_in_every_version_the_changelog_knows() -> None:
    assert all(r.added is None and not r.professional_only for r in catalogue.representatives())


def test_only_sales_ledger_is_documented_as_a_fact() -> None:
    documented = [key for key, m in catalogue.modules().items() if m.access_documented]
    assert documented == ["sales"]
    assert catalogue.module("sales").access_area == "Sales Ledger"
    assert "System Administration" in access_table.ROLE_SETTING


@pytest.mark.parametrize(
    ("name", "module", "title"),
    [
        ("customers", "sales", "Customers"),
        ("sop_orders", "sop", "Sales orders"),
        ("products", "stock", "Products"),
        ("nominal_codes", "nominal", "Nominal codes"),
        ("pop_orders", "pop", "Purchase orders"),
        ("suppliers", "purchases", "Suppliers"),
        ("banks", "cash-book", "Banks"),
        ("sites", "general", "Sites"),
    ],
)
def test_known_entries(name: str, module: str, title: str) -> None:
    found = catalogue.resource(name)
    assert (found.module, found.title, found.path) == (module, title, f"/{name}")
    assert found.module_title == catalogue.module(module).title


def test_professional_only_collections_are_the_three_flagged_ones() -> None:
    flagged = {r.name for r in catalogue.all_resources() if r.professional_only}
    assert flagged == {"finance_charges", "purchase_trading_periods", "sales_trading_periods"}


def test_added_is_the_new_endpoint_date_not_the_first_change() -> None:
    # customers' changelog starts with an "Extended operation" in 2017: it existed before.
    customers = catalogue.resource("customers")
    assert customers.added is None
    assert customers.changelog[0] == date(2017, 1, 21)
    assert catalogue.resource("sop_quotes").added == date(2021, 11, 8)
    assert catalogue.resource("pop_document_types").added == date(2024, 2, 5)


def test_every_added_date_is_in_its_changelog_and_changelogs_are_sorted() -> None:
    for entry in catalogue.all_resources():
        assert list(entry.changelog) == sorted(set(entry.changelog)), entry.name
        assert entry.added is None or entry.added == entry.changelog[0], entry.name


def test_two_endpoints_answer_one_object_the_others_a_list() -> None:
    objects = {r.name for r in catalogue.all_resources() if r.returns == "object"}
    assert objects == {"current_user", "licence"}
    assert {r.returns for r in catalogue.all_resources()} == {"list", "object"}


def test_an_endpoint_in_two_modules_is_one_entry() -> None:
    bands = catalogue.resource("customer_price_bands")
    assert (bands.module, bands.also_in) == ("price-book", ("sales",))


def test_unknown_names_get_a_did_you_mean() -> None:
    with pytest.raises(KeyError, match="did you mean sop_orders"):
        catalogue.resource("sop_order")
    assert catalogue.did_you_mean("qqqqqqqq") is None
    with pytest.raises(KeyError, match="modules: sales"):
        catalogue.module("ledger")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/uk/sage200extra/accounts/v1/sop_orders/123?$select=id", "sop_orders"),
        ("/uk/sage200/accounts/v1/customers", "customers"),
        ("https://api.columbus.sage.com/uk/sage200/accounts/v1/Products?$top=1", "products"),
        ("/uk/sage200/accounts/v1/customers/27825/customer_contacts", "customers"),
        ("sop_orders", "sop_orders"),
        ("{{baseUrl}}/nominal_codes/7", "nominal_codes"),
        ("/uk/sage200/accounts/v1/nothing_here/customers", None),
        ("/uk/sage200/accounts/v1/", None),
        ("", None),
    ],
)
def test_module_of_path(path: str, expected: str | None) -> None:
    found = catalogue.module_of_path(path)
    assert (found.name if found else None) == expected


def test_the_data_carries_the_licence_notice_and_the_licence_ships_beside_it() -> None:
    data = json.loads(PACKAGE.joinpath("resources.json").read_text(encoding="utf-8"))
    assert "MIT licence" in data["NOTICE"]
    assert "Copyright (c) 2024 SelectCo" in data["NOTICE"]
    licence = PACKAGE.joinpath("LICENSE-sage-openapi.txt").read_text(encoding="utf-8")
    assert licence.startswith("MIT License")


# --- the generator (needs Sage's spec files next to the repository) --------------------------


@pytest.fixture
def spec_dir() -> Path:
    if not SPEC_DIR.is_dir():
        pytest.skip(
            f"Sage's OpenAPI files are not at {SPEC_DIR} (a clean clone or an installed wheel): "
            "the shipped catalogue cannot be compared with its source here"
        )
    return SPEC_DIR


def test_shipped_files_are_what_the_generator_makes_from_the_specs(spec_dir: Path) -> None:
    for name, text in _generator().outputs(spec_dir).items():
        assert PACKAGE.joinpath(name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: run python tools/generate_catalogue.py {spec_dir}"
        )


def test_generator_check_mode_reports_a_stale_file(spec_dir: Path, tmp_path: Path) -> None:
    generator = _generator()
    assert generator.main([str(spec_dir), "--out", str(tmp_path)]) == 0
    assert generator.main([str(spec_dir), "--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "resources.json").write_text("{}", encoding="utf-8")
    assert generator.main([str(spec_dir), "--out", str(tmp_path), "--check"]) == 1
