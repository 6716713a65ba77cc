"""API face: bearer format, JWT checks, X-Site/X-Company, 403, 404/405, resource shapes."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from .emulator_support import CANARY_KEY, DENIED, Session

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def with_auth(session: Session, value: str) -> dict[str, str]:
    return {**session.headers(token="unused"), "Authorization": value}


@pytest.fixture(scope="module")
def token(healthy: Session) -> str:
    return healthy.access_token()


# Authorization header format


@pytest.mark.parametrize(
    ("template", "status"),
    [
        ("Bearer {t}", 200),
        ("bearer {t}", 200),
        ("BEARER {t}", 200),
        ("Bearer{t}", 401),
        ("Bearer  {t}", 401),
        ("{t}", 401),
        ("Bearer", 401),
        ("Bearer {t} extra", 401),
        ("Basic {t}", 401),
        ('Bearer "{t}"', 401),
    ],
    ids=[
        "exact",
        "lowercase",
        "uppercase",
        "no-space",
        "two-spaces",
        "bare-token",
        "scheme-only",
        "trailing-word",
        "basic",
        "quoted",
    ],
)
def test_authorization_header_shapes(
    healthy: Session, token: str, template: str, status: int
) -> None:
    response = healthy.get("sites", headers=with_auth(healthy, template.format(t=token)))
    assert response.status_code == status
    if status == 401:
        assert response.json() == DENIED


def test_missing_authorization_is_denied(healthy: Session) -> None:
    headers = {"ocp-apim-subscription-key": CANARY_KEY}
    response = healthy.get("sites", headers=headers)
    assert (response.status_code, response.json()) == (401, DENIED)


def test_bearer_case_sensitivity_is_a_setting(start: Callable[..., Session]) -> None:
    session = start(bearer_scheme_case_sensitive=True)
    token = session.access_token()
    assert session.get("sites", headers=with_auth(session, f"bearer {token}")).status_code == 401
    assert session.get("sites", headers=with_auth(session, f"Bearer {token}")).status_code == 200


def test_extra_spaces_are_a_setting(start: Callable[..., Session]) -> None:
    session = start(bearer_extra_spaces_allowed=True)
    headers = with_auth(session, f"Bearer   {session.access_token()}")
    assert session.get("sites", headers=headers).status_code == 200


# JWT verification


def test_tampered_signature_is_denied(healthy: Session, token: str) -> None:
    head, payload, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    response = healthy.get(
        "sites", headers=with_auth(healthy, f"Bearer {head}.{payload}.{flipped}")
    )
    assert (response.status_code, response.json()) == (401, DENIED)


def test_token_signed_by_another_key_is_denied(healthy: Session, token: str) -> None:
    claims = jwt.decode(token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token)["kid"]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": kid})
    response = healthy.get("sites", headers=with_auth(healthy, f"Bearer {forged}"))
    assert response.status_code == 401


def test_token_from_another_issuer_is_denied(
    healthy: Session, start: Callable[..., Session]
) -> None:
    # Same process, same signing key, but a different issuer URL (port).
    foreign = start().access_token()
    response = healthy.get("sites", headers=with_auth(healthy, f"Bearer {foreign}"))
    assert response.status_code == 401


def test_expired_token_is_denied_without_leeway(start: Callable[..., Session]) -> None:
    session = start(access_token_lifetime_s=1)
    token = session.access_token()
    assert session.get("sites", headers=with_auth(session, f"Bearer {token}")).status_code == 200
    time.sleep(
        max(0.0, jwt.decode(token, options={"verify_signature": False})["exp"] - time.time())
    )
    assert session.get("sites", headers=with_auth(session, f"Bearer {token}")).status_code == 401


def test_token_for_another_audience_is_denied(start: Callable[..., Session]) -> None:
    session = start(issued_audience="s200ukish/sage200")
    response = session.get("sites")
    assert (response.status_code, response.json()) == (401, DENIED)


def test_not_a_jwt_is_denied(healthy: Session) -> None:
    response = healthy.get("sites", headers=with_auth(healthy, "Bearer opaque-legacy-token"))
    assert response.status_code == 401


# X-Site / X-Company


def test_sites_needs_no_site_headers(healthy: Session) -> None:
    assert healthy.get("sites", headers=healthy.headers(site=False)).status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        {"X-Site": None},
        {"X-Company": None},
        {"X-Site": None, "X-Company": None},
        {"X-Site": "d2a7e9f4-1b3c-4d5e-8f6a-7b8c9d0e1f2a"},
        {"X-Company": "999"},
        {"X-Company": "7"},  # a company on another site
        {"X-Company": "thirty-three"},
        {"X-Site": "not-a-guid"},
    ],
    ids=[
        "no-site",
        "no-company",
        "neither",
        "unknown-site",
        "unknown-company",
        "company-of-other-site",
        "non-numeric-company",
        "bad-guid",
    ],
)
def test_customers_need_a_listed_site_and_company(
    healthy: Session, token: str, change: dict[str, str | None]
) -> None:
    headers = healthy.headers(token=token)
    for name, value in change.items():
        headers.pop(name)
        if value is not None:
            headers[name] = value
    response = healthy.get("customers", headers=headers)
    assert (response.status_code, response.json()) == (401, DENIED)


def test_site_guid_is_case_insensitive(healthy: Session, token: str) -> None:
    headers = {**healthy.headers(token=token), "X-Site": healthy.env["SAGE200_SITE_ID"].upper()}
    assert healthy.get("customers", headers=headers, **{"$top": "1"}).status_code == 200


def test_site_denial_status_is_a_setting(start: Callable[..., Session]) -> None:
    session = start(site_denied_status=403)
    response = session.get("customers", headers=session.headers(site=False))
    assert (response.status_code, response.json()) == (403, DENIED)


def test_each_company_has_its_own_customers(healthy: Session, token: str) -> None:
    headers = {**healthy.headers(token=token), "X-Company": "13"}
    (irish,) = healthy.get(
        "customers", headers=headers, **{"$filter": "reference eq 'A1D001'"}
    ).json()
    assert irish["id"] != 27825
    assert healthy.get("customers/27825", headers=headers).status_code == 404


def test_current_user_needs_no_site_by_default(healthy: Session, token: str) -> None:
    response = healthy.get("current_user", headers=healthy.headers(token=token, site=False))
    assert response.status_code == 200
    user = response.json()
    assert set(user) == {
        "id",
        "logon_name",
        "friendly_name",
        "email_address",
        "is_web_user",
        "last_logon_date_time",
    }
    assert user["email_address"] == "api.user@example.com"


def test_current_user_site_requirement_is_a_setting(start: Callable[..., Session]) -> None:
    session = start(current_user_needs_site=True)
    assert session.get("current_user", headers=session.headers(site=False)).status_code == 401
    assert session.get("current_user").status_code == 200


# module permission


def test_customers_forbidden_without_sales_ledger(start: Callable[..., Session]) -> None:
    session = start(sales_ledger_access=False)
    headers = session.headers()
    for path in ("customers", "customers/27825"):
        response = session.get(path, headers=headers)
        assert response.status_code == 403
        assert "Sales Ledger" in response.json()["Message"]
    assert session.get("sites", headers=headers).status_code == 200


def test_site_check_comes_before_permission(start: Callable[..., Session]) -> None:
    session = start(sales_ledger_access=False)
    assert session.get("customers", headers=session.headers(site=False)).status_code == 401


# routes, verbs, edition paths


def test_unknown_resource_is_an_aspnet_404(healthy: Session, token: str) -> None:
    response = healthy.get("customerz", headers=healthy.headers(token=token))
    assert response.status_code == 404
    expected = (
        f"No HTTP resource was found that matches the request URI '{healthy.api_base}customerz'."
    )
    assert response.json() == {"Message": expected}


def test_other_edition_path_is_a_404(healthy: Session, token: str) -> None:
    url = f"{healthy.emulator.base_url}/uk/sage200/accounts/v1/sites"
    response = healthy.client.get(url, headers=healthy.headers(token=token))
    assert response.status_code == 404
    message = f"No HTTP resource was found that matches the request URI '{url}'."
    assert response.json() == {"Message": message}


@pytest.mark.parametrize("edition_path", ["sage200", "sage200extra"])
def test_both_edition_paths_can_be_served(start: Callable[..., Session], edition_path: str) -> None:
    session = start(served_editions=("standard", "professional"))
    base = f"{session.emulator.base_url}/uk/{edition_path}/accounts/v1/"
    headers = session.headers()
    assert session.client.get(base + "sites", headers=headers).status_code == 200
    missing = session.client.get(base + "nothing_here", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["Message"].endswith(f"'{base}nothing_here'.")


def test_standard_edition_serves_only_the_standard_path(start: Callable[..., Session]) -> None:
    session = start(edition="standard")
    headers = session.headers()
    standard = f"{session.emulator.base_url}/uk/sage200/accounts/v1/sites"
    assert session.client.get(standard, headers=headers).status_code == 200
    assert session.get("sites", headers=headers).status_code == 404


def test_routes_are_case_insensitive_and_allow_a_trailing_slash(
    healthy: Session, token: str
) -> None:
    headers = healthy.headers(token=token)
    assert healthy.get("Sites/", headers=headers).status_code == 200
    assert healthy.get("customers/", headers=headers, **{"$top": "1"}).status_code == 200


def test_write_verbs_are_not_emulated(healthy: Session, token: str) -> None:
    response = healthy.client.post(
        healthy.api_base + "customers", headers=healthy.headers(token=token), json={}
    )
    assert response.status_code == 405
    assert response.json() == {
        "Message": "The requested resource does not support http method 'POST'."
    }


# resource shapes


def test_sites_lists_one_entry_per_company(healthy: Session, token: str) -> None:
    sites = healthy.get("sites", headers=healthy.headers(token=token, site=False)).json()
    assert isinstance(sites, list)
    assert len(sites) == 5
    assert len({site["site_id"] for site in sites}) == 3
    for site in sites:
        assert set(site) == {
            "company_id",
            "company_name",
            "site_id",
            "site_name",
            "site_short_name",
            "tenant_id",
        }
        assert isinstance(site["company_id"], int)
        assert isinstance(site["tenant_id"], int)
        assert GUID.fullmatch(site["site_id"])
    pair = (healthy.env["SAGE200_SITE_ID"], int(healthy.env["SAGE200_COMPANY_ID"]))
    assert pair in {(site["site_id"], site["company_id"]) for site in sites}


def test_customer_by_id_is_the_seeded_record(healthy: Session, token: str) -> None:
    customer = healthy.get("customers/27825", headers=healthy.headers(token=token)).json()
    expected = {
        "id": 27825,
        "reference": "A1D001",
        "name": "A1 Design Services",
        "short_name": "A1 Desig",
        "balance": 1120.92,
        "currency_id": 2103,
        "telephone_country_code": "44",
        "telephone_area_code": "01742",
        "telephone_subscriber_number": "876234",
        "website": "www.sage.co.uk",
        "vat_number": "GB238 3839 38",
        "analysis_code_1": "Trade",
        "default_tax_code_id": 1729,
        "on_hold": False,
    }
    assert {key: customer[key] for key in expected} == expected
    assert customer["date_time_created"].endswith("Z")
    assert customer["main_address"]["customer_id"] == 27825


def test_customer_by_id_select(healthy: Session, token: str) -> None:
    response = healthy.get(
        "customers/27825", headers=healthy.headers(token=token), **{"$select": "id,name"}
    )
    assert response.json() == {"id": 27825, "name": "A1 Design Services"}


def test_absent_customer_is_a_404_message(healthy: Session, token: str) -> None:
    response = healthy.get("customers/1", headers=healthy.headers(token=token))
    assert response.status_code == 404
    assert set(response.json()) == {"Message"}


def test_non_numeric_customer_id_has_no_route(healthy: Session, token: str) -> None:
    response = healthy.get("customers/A1D001", headers=healthy.headers(token=token))
    assert response.status_code == 404
    assert response.json()["Message"].startswith("No HTTP resource was found")


def test_non_ascii_survives_as_utf8(healthy: Session, token: str) -> None:
    customers = healthy.get(
        "customers", headers=healthy.headers(token=token), **{"$filter": "reference eq 'CAFEZ01'"}
    )
    assert customers.headers["content-type"].startswith("application/json")
    assert customers.json()[0]["name"] == "Café Zürich Ltd"
