"""The catalogued collections over real HTTP: served, paged, denied by role, absent by edition
or version."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from sage200_doctor import catalogue
from sage200_doctor.emulator import EmulatorConfig

from .emulator_support import DENIED, Session

NOT_FOUND_PREFIX = "No HTTP resource was found that matches the request URI"


def _names() -> list[str]:
    return [entry.name for entry in catalogue.all_resources()]


def test_every_catalogued_collection_answers_a_list_of_records(healthy: Session) -> None:
    headers = healthy.headers()
    sizes = set()
    for entry in catalogue.all_resources():
        response = healthy.get(entry.name, headers=headers)
        assert response.status_code == 200, entry.name
        body = response.json()
        if entry.returns == "object":  # current_user and licence
            assert isinstance(body.get("id"), int), entry.name
            continue
        assert isinstance(body, list), entry.name
        key = "site_id" if entry.name == "sites" else "id"
        assert all(row.get(key) for row in body), entry.name
        sizes.add(len(body))
    assert 0 in sizes  # some are empty ...
    assert max(sizes) > 1  # ... and some have several records


def test_top_is_honoured_and_answers_are_deterministic(healthy: Session) -> None:
    headers = healthy.headers()
    full = healthy.get("stock_settings", headers=headers).json()
    several = next(
        name for name in _names()[:40] if len(healthy.get(name, headers=headers).json()) >= 2
    )
    everything = healthy.get(several, headers=headers).json()
    assert healthy.get(several, headers=headers, **{"$top": "1"}).json() == everything[:1]
    assert healthy.get(several, headers=headers, **{"$top": "0"}).json() == []
    assert healthy.get("stock_settings", headers=headers).json() == full


def test_query_options_are_validated_as_on_customers(healthy: Session) -> None:
    response = healthy.get("sop_orders", headers=healthy.headers(), **{"$top": "lots"})
    assert response.status_code == 400
    assert "$top" in response.json()["Message"]


def test_catalogued_collections_need_a_listed_site(healthy: Session) -> None:
    response = healthy.get("sop_orders", headers=healthy.headers(site=False))
    assert (response.status_code, response.json()) == (401, DENIED)


def test_denied_modules_answer_403_naming_the_module(start: Callable[..., Session]) -> None:
    session = start(denied_modules=("sop", "stock"))
    headers = session.headers()
    for name, area in (
        ("sop_orders", "Sales Order Processing"),
        ("sop_quotes", "Sales Order Processing"),
        ("products", "Stock Control"),
    ):
        response = session.get(name, headers=headers)
        assert response.status_code == 403
        assert response.json() == {
            "Message": f"The user's role does not have access to the {area} module."
        }
    for allowed in ("customers", "nominal_codes", "sites", "current_user"):
        assert session.get(allowed, headers=headers).status_code == 200, allowed


def test_the_site_check_comes_before_the_module_permission(start: Callable[..., Session]) -> None:
    session = start(denied_modules=("sop",))
    assert session.get("sop_orders", headers=session.headers(site=False)).status_code == 401


def test_sales_ledger_access_off_denies_the_whole_sales_module(
    start: Callable[..., Session],
) -> None:
    session = start(sales_ledger_access=False)
    headers = session.headers()
    assert session.get("customer_views", headers=headers).status_code == 403
    assert session.get("sop_orders", headers=headers).status_code == 200


def test_denying_sales_is_the_same_fault_as_no_sales_ledger_access(
    start: Callable[..., Session],
) -> None:
    by_module = start(denied_modules=("sales",))
    by_flag = start(sales_ledger_access=False)
    for session in (by_module, by_flag):
        headers = session.headers()
        for path in ("customers", "customers/27825", "customer_views"):
            response = session.get(path, headers=headers)
            assert response.status_code == 403
            assert "Sales Ledger" in response.json()["Message"]


def test_sites_and_current_user_are_not_company_data_so_no_role_denies_them(
    start: Callable[..., Session],
) -> None:
    session = start(denied_modules=("general",))
    headers = session.headers()
    assert session.get("sites", headers=headers).status_code == 200
    assert session.get("current_user", headers=headers).status_code == 200
    assert session.get("company_details", headers=headers).status_code == 403


def test_professional_only_endpoints_are_absent_on_a_standard_site(
    start: Callable[..., Session],
) -> None:
    session = start(edition="standard")
    base = f"{session.emulator.base_url}/uk/sage200/accounts/v1/"
    headers = session.headers()
    missing = session.client.get(base + "finance_charges", headers=headers)
    assert missing.status_code == 404
    assert missing.json() == {"Message": f"{NOT_FOUND_PREFIX} '{base}finance_charges'."}
    assert session.client.get(base + "customer_views", headers=headers).status_code == 200


def test_professional_only_endpoints_are_served_on_professional(healthy: Session) -> None:
    for name in ("finance_charges", "sales_trading_periods", "purchase_trading_periods"):
        assert healthy.get(name, headers=healthy.headers()).status_code == 200


@pytest.mark.parametrize(
    ("version", "status"),
    [(date(2021, 11, 7), 404), (date(2021, 11, 8), 200), (None, 200)],
    ids=["day-before-added", "day-added", "current"],
)
def test_endpoints_newer_than_the_site_version_are_absent(
    start: Callable[..., Session], version: date | None, status: int
) -> None:
    session = start(site_version=version)
    headers = session.headers()
    response = session.get("sop_quotes", headers=headers)  # added 2021-11-08
    assert response.status_code == status
    if status == 404:
        assert response.json()["Message"].startswith(NOT_FOUND_PREFIX)
    # Endpoints the changelog does not date are older than it: every version has them.
    assert session.get("sop_orders", headers=headers).status_code == 200
    assert session.get("customers", headers=headers).status_code == 200


def test_an_absent_endpoint_is_a_404_even_for_a_denied_module(
    start: Callable[..., Session],
) -> None:
    session = start(denied_modules=("sop",), site_version=date(2020, 12, 31))
    assert session.get("sop_quotes", headers=session.headers()).status_code == 404
    assert session.get("sop_orders", headers=session.headers()).status_code == 403


def test_unknown_modules_are_a_config_error() -> None:
    with pytest.raises(ValueError, match=r"unknown module\(s\) in denied_modules: \['ledger'\]"):
        EmulatorConfig(denied_modules=("ledger",))


def test_the_config_view_shows_the_new_settings(start: Callable[..., Session]) -> None:
    session = start(denied_modules=("sop",), site_version=date(2020, 12, 31))
    view = session.client.get(f"{session.emulator.base_url}/_emulator/config").json()
    assert view["settings"]["denied_modules"] == ["sop"]
    assert view["settings"]["site_version"] == "2020-12-31"
