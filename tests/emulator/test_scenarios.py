"""Each named scenario: its env() alone, used the way a diagnostic run would, hits its fault."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

import httpx
import jwt
import pytest

from sage200_doctor.emulator import SCENARIOS, RunningEmulator, running_emulator, scenario_config

from .emulator_support import DENIED, INVALID_KEY, MISSING_KEY

Env = dict[str, str]
ALWAYS = {
    "SAGE200_EDITION",
    "SAGE200_API_BASE_URL",
    "SAGE200_AUTH_URL",
    "SAGE200_TOKEN_URL",
    "SAGE200_AUDIENCE",
    "SAGE200_CLIENT_ID",
    "SAGE200_CLIENT_SECRET",
    "SAGE200_CLIENT_AUTH",
    "SAGE200_SCOPE",
    "SAGE200_REDIRECT_URI",
    "SAGE200_SITE_ID",
    "SAGE200_COMPANY_ID",
    "SAGE200_CUSTOMER_REFERENCE",
}


def refresh(client: httpx.Client, env: Env) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": env["SAGE200_REFRESH_TOKEN"]}
    credentials = (env["SAGE200_CLIENT_ID"], env["SAGE200_CLIENT_SECRET"])
    if env["SAGE200_CLIENT_AUTH"] == "basic":
        return client.post(env["SAGE200_TOKEN_URL"], data=data, auth=credentials)
    data.update(client_id=credentials[0], client_secret=credentials[1])
    return client.post(env["SAGE200_TOKEN_URL"], data=data)


def access_token(client: httpx.Client, env: Env) -> str:
    if "SAGE200_ACCESS_TOKEN" in env:
        return env["SAGE200_ACCESS_TOKEN"]
    response = refresh(client, env)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def api(
    client: httpx.Client,
    env: Env,
    path: str,
    *,
    authorization: str | None = None,
    **params: str,
) -> httpx.Response:
    headers = {"Authorization": authorization or f"Bearer {access_token(client, env)}"}
    if "SAGE200_SUBSCRIPTION_KEY" in env:
        headers["ocp-apim-subscription-key"] = env["SAGE200_SUBSCRIPTION_KEY"]
    if path != "sites":
        headers["X-Site"] = env["SAGE200_SITE_ID"]
        headers["X-Company"] = env["SAGE200_COMPANY_ID"]
    return client.get(env["SAGE200_API_BASE_URL"] + path, headers=headers, params=params)


def by_reference(client: httpx.Client, env: Env) -> httpx.Response:
    reference = env["SAGE200_CUSTOMER_REFERENCE"].replace("'", "''")
    return api(client, env, "customers", **{"$filter": f"reference eq '{reference}'"})


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert (response.status_code, response.json()["error"]) == (status, error)


def listed_pairs(client: httpx.Client, env: Env) -> set[tuple[str, str]]:
    sites = api(client, env, "sites").json()
    return {(site["site_id"], str(site["company_id"])) for site in sites}


# one check per scenario


def check_healthy(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    token = refresh(client, env).json()
    assert "offline_access" in token["scope"].split()
    assert (env["SAGE200_SITE_ID"], env["SAGE200_COMPANY_ID"]) in listed_pairs(client, env)
    (customer,) = by_reference(client, env).json()
    assert customer["reference"] == "A1D001"
    assert api(client, env, f"customers/{customer['id']}").json() == customer


def check_key_missing(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert "SAGE200_SUBSCRIPTION_KEY" not in env
    response = api(client, env, "sites")
    assert (response.status_code, response.json()) == (401, MISSING_KEY)


def check_key_invalid(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    response = api(client, env, "sites")
    assert (response.status_code, response.json()) == (401, INVALID_KEY)


def check_key_optional(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert "SAGE200_SUBSCRIPTION_KEY" not in env
    assert api(client, env, "sites").status_code == 200
    assert len(by_reference(client, env).json()) == 1


def check_token_expired(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert "SAGE200_REFRESH_TOKEN" not in env
    claims = jwt.decode(env["SAGE200_ACCESS_TOKEN"], options={"verify_signature": False})
    assert claims["exp"] < time.time()
    response = api(client, env, "sites")
    assert (response.status_code, response.json()) == (401, DENIED)


def check_wrong_audience(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    token = refresh(client, env).json()["access_token"]
    audiences = jwt.decode(token, options={"verify_signature": False})["aud"]
    assert "s200ukish/sage200" in audiences
    assert env["SAGE200_AUDIENCE"] not in audiences
    response = api(client, env, "sites")
    assert (response.status_code, response.json()) == (401, DENIED)


def check_no_offline_access(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert "SAGE200_REFRESH_TOKEN" not in env
    assert "offline_access" not in env["SAGE200_SCOPE"].split()
    claims = jwt.decode(env["SAGE200_ACCESS_TOKEN"], options={"verify_signature": False})
    assert "offline_access" not in claims["scope"].split()
    assert api(client, env, "sites").status_code == 200


def check_refresh_revoked(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert_oauth_error(refresh(client, env), 403, "invalid_grant")


def check_refresh_revoked_access_valid(
    client: httpx.Client, env: Env, emulator: RunningEmulator
) -> None:
    assert_oauth_error(refresh(client, env), 403, "invalid_grant")
    token = env["SAGE200_ACCESS_TOKEN"]
    assert api(client, env, "sites", authorization=f"Bearer {token}").status_code == 200


def check_user_not_api_enabled(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    response = api(client, env, "sites")
    assert (response.status_code, response.json()) == (401, DENIED)


def check_bad_client_secret(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert env["SAGE200_CLIENT_SECRET"] != emulator.config.client_secret
    assert_oauth_error(refresh(client, env), 401, "invalid_client")


def check_basic_auth_rejected(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert env["SAGE200_CLIENT_AUTH"] == "basic"
    assert_oauth_error(refresh(client, env), 401, "invalid_client")
    assert refresh(client, {**env, "SAGE200_CLIENT_AUTH": "body"}).status_code == 200


def check_grant_not_allowed(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert_oauth_error(refresh(client, env), 403, "unauthorized_client")


def check_rotating_refresh(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    rotated = refresh(client, env).json()["refresh_token"]
    assert rotated != env["SAGE200_REFRESH_TOKEN"]
    assert_oauth_error(refresh(client, env), 403, "invalid_grant")
    assert refresh(client, {**env, "SAGE200_REFRESH_TOKEN": rotated}).status_code == 200


def check_refresh_reuse_detection(
    client: httpx.Client, env: Env, emulator: RunningEmulator
) -> None:
    first = refresh(client, env).json()["refresh_token"]
    second = refresh(client, {**env, "SAGE200_REFRESH_TOKEN": first}).json()["refresh_token"]
    # The newest token works until a rotated-away one is presented again ...
    assert_oauth_error(refresh(client, env), 403, "invalid_grant")
    # ... which revokes the whole family: the newest token is dead too (Auth0's reuse detection).
    assert_oauth_error(
        refresh(client, {**env, "SAGE200_REFRESH_TOKEN": second}), 403, "invalid_grant"
    )


def check_no_space_bearer(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    supplied = env["SAGE200_AUTHORIZATION"]
    assert supplied.startswith("Bearer")
    assert supplied[len("Bearer")] != " "
    response = api(client, env, "sites", authorization=supplied)
    assert (response.status_code, response.json()) == (401, DENIED)
    fixed = "Bearer " + supplied[len("Bearer") :]
    assert api(client, env, "sites", authorization=fixed).status_code == 200


def check_sites_empty(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    response = api(client, env, "sites")
    assert (response.status_code, response.json()) == (200, [])
    assert api(client, env, "customers").json() == DENIED


def check_site_not_listed(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    listed_sites = {site for site, _ in listed_pairs(client, env)}
    assert env["SAGE200_SITE_ID"] not in listed_sites
    response = api(client, env, "customers")
    assert (response.status_code, response.json()) == (401, DENIED)


def check_company_not_listed(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    pairs = listed_pairs(client, env)
    assert env["SAGE200_SITE_ID"] in {site for site, _ in pairs}
    assert (env["SAGE200_SITE_ID"], env["SAGE200_COMPANY_ID"]) not in pairs
    assert api(client, env, "customers").status_code == 401


def check_customers_forbidden(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert api(client, env, "sites").status_code == 200
    response = api(client, env, "customers")
    assert response.status_code == 403
    assert response.json()["Message"]


def check_modules_denied(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    for path, area in (("sop_orders", "Sales Order Processing"), ("products", "Stock Control")):
        response = api(client, env, path, **{"$top": "1"})
        assert response.status_code == 403
        assert area in response.json()["Message"]
    assert api(client, env, "customers", **{"$top": "1"}).status_code == 200
    assert api(client, env, "nominal_codes", **{"$top": "1"}).status_code == 200


def check_old_professional_site(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert env["SAGE200_EDITION"] == "professional"
    assert api(client, env, "sop_orders").status_code == 200  # older than Sage's changelog
    assert api(client, env, "customer_price_bands").status_code == 200  # added 2020-09-16
    newer = api(client, env, "sop_quotes")  # added 2021-11-08
    assert newer.status_code == 404
    assert newer.json()["Message"].startswith("No HTTP resource was found")


def check_edition_mismatch(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert env["SAGE200_EDITION"] == "standard"
    assert env["SAGE200_API_BASE_URL"].endswith("/uk/sage200/accounts/v1/")
    response = api(client, env, "sites")
    assert response.status_code == 404
    assert response.json()["Message"].startswith("No HTTP resource was found")
    professional = env["SAGE200_API_BASE_URL"].replace("/sage200/", "/sage200extra/")
    assert api(client, {**env, "SAGE200_API_BASE_URL": professional}, "sites").status_code == 200


def check_reference_missing(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    response = by_reference(client, env)
    assert (response.status_code, response.json()) == (200, [])


def check_filter_ignored(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    rows = by_reference(client, env).json()
    assert len(rows) > 1
    assert any(row["reference"] != env["SAGE200_CUSTOMER_REFERENCE"] for row in rows)


def check_orderby_ignored(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    rows = api(client, env, "customers", **{"$orderby": "name desc", "$top": "20"}).json()
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)


def check_schema_drift(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    sites = api(client, env, "sites").json()
    assert all(isinstance(site["company_id"], str) for site in sites)
    assert len(by_reference(client, env).json()) == 1


def check_tunnel_down(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert refresh(client, env).status_code == 200
    for path in ("sites", "customers"):
        assert api(client, env, path).status_code == 504


def check_rate_limited(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    token = access_token(client, env)
    responses = [api(client, env, "sites", authorization=f"Bearer {token}") for _ in range(8)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429] * 2
    assert responses[3].headers["retry-after"] == "1"
    assert responses[3].json() == {
        "statusCode": 429,
        "message": "Rate limit is exceeded. Try again in 1 seconds.",
    }


QUOTA = {
    "statusCode": 403,
    "message": "Out of call volume quota. Quota will be replenished in 01:00:00.",
}


def check_gateway_rate_limit(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert client.get(env["SAGE200_API_BASE_URL"]).status_code == 401  # the root: not limited
    for path in ("sites", "customers"):
        response = api(client, env, path)
        assert (response.status_code, response.headers["retry-after"]) == (429, "1")
        assert response.json() == {
            "statusCode": 429,
            "message": "Rate limit is exceeded. Try again in 1 seconds.",
        }


def check_gateway_quota(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    for path in ("sites", "customers", "sop_orders"):
        response = api(client, env, path)
        assert (response.status_code, response.json()) == (403, QUOTA)
        assert response.headers["retry-after"] == "3600"


def check_customers_quota(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert api(client, env, "sites").status_code == 200
    response = api(client, env, "customers")
    assert (response.status_code, response.json()) == (403, QUOTA)


def check_proxy_error_page(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    for url in (env["SAGE200_API_BASE_URL"], f"{emulator.base_url}/uk/anything-at-all"):
        response = client.get(url)
        assert response.status_code == 502
        assert response.headers["content-type"].startswith("text/html")
    assert refresh(client, env).status_code == 200  # the identity host is not behind it


def check_clock_ahead(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    token = access_token(client, env)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] < time.time()  # expired by this machine's clock ...
    response = api(client, env, "sites", authorization=f"Bearer {token}")
    assert response.status_code == 200  # ... accepted by the API's
    dated = email.utils.parsedate_to_datetime(response.headers["date"]).timestamp()
    assert 7000 < time.time() - dated < 7400


def _ids(client: httpx.Client, env: Env, **params: str) -> list[int]:
    response = api(client, env, "customers", **params)
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()]


def check_filter_case_sensitive(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert _ids(client, env, **{"$filter": "reference eq 'A1D001'"}) == [27825]
    assert _ids(client, env, **{"$filter": "reference eq 'a1d001'"}) == []
    assert _ids(client, env, **{"$filter": "contains(name, 'design')"}) == []


def check_top_capped_at_100(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert len(_ids(client, env)) == 100
    assert len(_ids(client, env, **{"$top": "5000"})) == 100


def check_skip_without_orderby_allowed(
    client: httpx.Client, env: Env, emulator: RunningEmulator
) -> None:
    assert _ids(client, env, **{"$skip": "1", "$top": "2"}) == [27826, 27827]


def check_string_functions_unsupported(
    client: httpx.Client, env: Env, emulator: RunningEmulator
) -> None:
    for function in ("contains", "startswith", "endswith"):
        response = api(client, env, "customers", **{"$filter": f"{function}(name, 'A')"})
        assert response.status_code == 400
        assert f"unknown function with name '{function}'" in response.json()["Message"]
    assert len(by_reference(client, env).json()) == 1


def check_filter_and_as_or(client: httpx.Client, env: Env, emulator: RunningEmulator) -> None:
    assert _ids(client, env, **{"$filter": "id eq 27825 and id eq 27826"}) == [27825, 27826]
    assert _ids(client, env, **{"$filter": "reference eq 'A1D001'"}) == [27825]


def check_filter_datetime_as_date(
    client: httpx.Client, env: Env, emulator: RunningEmulator
) -> None:
    # A1D001 was updated at 2016-02-24T11:52:11Z: a later time the same day still matches.
    later = {"$filter": "date_time_updated ge 2016-02-24T23:00:00Z and id eq 27825"}
    assert _ids(client, env, **later) == [27825]


CHECKS: dict[str, Callable[[httpx.Client, Env, RunningEmulator], None]] = {
    "healthy": check_healthy,
    "key-missing": check_key_missing,
    "key-invalid": check_key_invalid,
    "key-optional": check_key_optional,
    "token-expired": check_token_expired,
    "wrong-audience": check_wrong_audience,
    "no-offline-access": check_no_offline_access,
    "refresh-revoked": check_refresh_revoked,
    "bad-client-secret": check_bad_client_secret,
    "basic-auth-rejected": check_basic_auth_rejected,
    "grant-not-allowed": check_grant_not_allowed,
    "rotating-refresh": check_rotating_refresh,
    "refresh-reuse-detection": check_refresh_reuse_detection,
    "no-space-bearer": check_no_space_bearer,
    "sites-empty": check_sites_empty,
    "site-not-listed": check_site_not_listed,
    "company-not-listed": check_company_not_listed,
    "customers-forbidden": check_customers_forbidden,
    "modules-denied": check_modules_denied,
    "refresh-revoked-access-valid": check_refresh_revoked_access_valid,
    "user-not-api-enabled": check_user_not_api_enabled,
    "old-professional-site": check_old_professional_site,
    "edition-mismatch": check_edition_mismatch,
    "reference-missing": check_reference_missing,
    "filter-ignored": check_filter_ignored,
    "orderby-ignored": check_orderby_ignored,
    "schema-drift": check_schema_drift,
    "tunnel-down": check_tunnel_down,
    "rate-limited": check_rate_limited,
    "gateway-rate-limit": check_gateway_rate_limit,
    "gateway-quota": check_gateway_quota,
    "customers-quota": check_customers_quota,
    "proxy-error-page": check_proxy_error_page,
    "clock-ahead": check_clock_ahead,
    "filter-case-sensitive": check_filter_case_sensitive,
    "top-capped-at-100": check_top_capped_at_100,
    "skip-without-orderby-allowed": check_skip_without_orderby_allowed,
    "string-functions-unsupported": check_string_functions_unsupported,
    "filter-and-as-or": check_filter_and_as_or,
    "filter-datetime-as-date": check_filter_datetime_as_date,
}


def test_every_scenario_has_a_check() -> None:
    assert set(CHECKS) == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_scenario_env_drives_its_fault(name: str) -> None:
    with running_emulator(name) as emulator, httpx.Client(timeout=10.0) as client:
        CHECKS[name](client, emulator.env(), emulator)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_env_keys(name: str) -> None:
    with running_emulator(name) as emulator:
        env = emulator.env()
    assert set(env) >= ALWAYS
    assert set(env) <= ALWAYS | {
        "SAGE200_REFRESH_TOKEN",
        "SAGE200_ACCESS_TOKEN",
        "SAGE200_SUBSCRIPTION_KEY",
        "SAGE200_AUTHORIZATION",
    }
    assert ("SAGE200_AUTHORIZATION" in env) == (name == "no-space-bearer")
    assert ("SAGE200_SUBSCRIPTION_KEY" in env) == (name not in ("key-missing", "key-optional"))
    only_access = name in ("token-expired", "no-offline-access")
    both = name == "refresh-revoked-access-valid"
    assert ("SAGE200_ACCESS_TOKEN" in env) == (only_access or both)
    assert ("SAGE200_REFRESH_TOKEN" in env) == (not only_access)
    assert env["SAGE200_REDIRECT_URI"] == "http://127.0.0.1:8765/callback"
    assert env["SAGE200_AUTH_URL"] == f"{emulator.base_url}/authorize"
    assert env["SAGE200_TOKEN_URL"] == f"{emulator.base_url}/oauth/token"


def test_healthy_env_values() -> None:
    with running_emulator("healthy") as emulator:
        env = emulator.env()
    assert env["SAGE200_EDITION"] == "professional"
    assert env["SAGE200_API_BASE_URL"] == f"{emulator.base_url}/uk/sage200extra/accounts/v1/"
    assert env["SAGE200_CLIENT_AUTH"] == "basic"
    assert env["SAGE200_AUDIENCE"] == "s200ukipd/sage200"
    assert "offline_access" in env["SAGE200_SCOPE"].split()
    assert env["SAGE200_COMPANY_ID"] == "33"
    assert env["SAGE200_CUSTOMER_REFERENCE"] == "A1D001"
    assert env["SAGE200_SUBSCRIPTION_KEY"] == emulator.config.subscription_key


def test_descriptions_are_one_sentence() -> None:
    for scenario in SCENARIOS.values():
        assert scenario.config.scenario == scenario.name
        assert scenario.description.endswith(".")
        assert scenario.description.count(". ") == 0


def test_unknown_scenario_names_the_valid_ones() -> None:
    with pytest.raises(KeyError, match="healthy") as info:
        scenario_config("no-such-scenario")
    assert "rate-limited" in str(info.value)


def test_smoke_like_curl() -> None:
    """What a person would do by hand: refresh, GET sites, GET customers by reference."""
    with running_emulator("healthy") as emulator, httpx.Client(timeout=10.0) as http:
        env = emulator.env()
        token = http.post(
            env["SAGE200_TOKEN_URL"],
            data={"grant_type": "refresh_token", "refresh_token": env["SAGE200_REFRESH_TOKEN"]},
            auth=(env["SAGE200_CLIENT_ID"], env["SAGE200_CLIENT_SECRET"]),
        ).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "ocp-apim-subscription-key": env["SAGE200_SUBSCRIPTION_KEY"],
        }
        sites = http.get(env["SAGE200_API_BASE_URL"] + "sites", headers=headers)
        assert sites.status_code == 200
        headers.update({"X-Site": env["SAGE200_SITE_ID"], "X-Company": env["SAGE200_COMPANY_ID"]})
        url = env["SAGE200_API_BASE_URL"] + "customers?$filter=reference eq 'A1D001'"
        customers = http.get(url, headers=headers)
        assert customers.status_code == 200
        assert [c["reference"] for c in customers.json()] == ["A1D001"]
        faces = [(entry.face, entry.status) for entry in emulator.request_log]
        assert faces == [("identity", 200), ("api", 200), ("api", 200)]
