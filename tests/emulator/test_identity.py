"""Identity face: discovery, JWKS, /authorize + consent, /oauth/token and its every error."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from sage200_doctor.emulator import scenario_config

from .emulator_support import CANARY_SECRET, Session

REDIRECT = "http://127.0.0.1:8765/callback"
VERIFIER = "a" * 20 + "-verifier-" + "b" * 20  # 50 unreserved characters


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_params(session: Session, **overrides: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": session.emulator.config.client_id,
        "redirect_uri": REDIRECT,
        "audience": "s200ukipd/sage200",
        "scope": "openid profile email offline_access",
        "state": "xyz-state",
    }
    return {**params, **overrides}


def open_consent(session: Session, **overrides: str) -> httpx.Response:
    url = f"{session.emulator.base_url}/authorize"
    return session.client.get(url, params=authorize_params(session, **overrides))


def decide(
    session: Session,
    page: httpx.Response,
    decision: str = "allow",
    password: str = "sage200-demo",
) -> httpx.Response:
    match = re.search(r'name="transaction" value="([^"]+)"', page.text)
    assert match is not None, page.text
    form = {
        "transaction": match.group(1),
        "username": "api.user@example.com",
        "password": password,
        "decision": decision,
    }
    return session.client.post(f"{session.emulator.base_url}/authorize/decision", data=form)


def redirect_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def get_code(session: Session, **overrides: str) -> str:
    query = redirect_query(decide(session, open_consent(session, **overrides)))
    assert query["state"] == "xyz-state"
    return query["code"]


def exchange(session: Session, code: str, **extra: str) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **extra}
    return session.token_request(data)


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert body["error_description"]


# discovery and keys


def test_discovery_document_describes_the_emulator(healthy: Session) -> None:
    base = healthy.emulator.base_url
    doc = healthy.client.get(f"{base}/.well-known/openid-configuration").json()
    assert doc["issuer"] == f"{base}/"
    assert doc["authorization_endpoint"] == f"{base}/authorize"
    assert doc["token_endpoint"] == f"{base}/oauth/token"
    assert doc["jwks_uri"] == f"{base}/.well-known/jwks.json"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["grant_types_supported"]) == {"authorization_code", "refresh_token"}
    assert set(doc["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    assert "offline_access" in doc["scopes_supported"]


def test_discovery_reflects_the_accepted_auth_methods(start: Callable[..., Session]) -> None:
    session = start(client_auth_methods=("client_secret_post",))
    doc = session.client.get(f"{session.emulator.base_url}/.well-known/openid-configuration")
    assert doc.json()["token_endpoint_auth_methods_supported"] == ["client_secret_post"]


def test_access_token_claims_verify_against_served_jwks(healthy: Session) -> None:
    base = healthy.emulator.base_url
    jwks = healthy.client.get(f"{base}/.well-known/jwks.json").json()
    (key,) = jwks["keys"]
    assert key["kty"] == "RSA"
    assert key["alg"] == "RS256"
    token = healthy.access_token()
    assert jwt.get_unverified_header(token)["kid"] == key["kid"]
    claims = jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=["RS256"],
        audience="s200ukipd/sage200",
        issuer=f"{base}/",
    )
    assert "s200ukipd/sage200" in claims["aud"]
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["azp"] == healthy.emulator.config.client_id
    assert claims["sub"]
    assert set(claims["scope"].split()) == {"openid", "profile", "email", "offline_access"}


def test_id_token_is_for_the_client(healthy: Session) -> None:
    body = healthy.refresh().json()
    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert claims["aud"] == healthy.emulator.config.client_id
    assert claims["email"] == "api.user@example.com"


def test_access_token_lifetime_is_a_setting(start: Callable[..., Session]) -> None:
    session = start(access_token_lifetime_s=120)
    body = session.refresh().json()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert body["expires_in"] == 120
    assert claims["exp"] - claims["iat"] == 120


# /authorize and the consent page


def test_consent_page_is_a_plain_form(healthy: Session) -> None:
    page = open_consent(healthy)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="/authorize/decision">' in page.text
    assert 'name="username"' in page.text
    assert 'name="password"' in page.text
    assert 'value="allow"' in page.text
    assert 'value="deny"' in page.text
    assert "<script" not in page.text


def test_allow_redirects_with_code_and_state_and_code_exchanges(healthy: Session) -> None:
    response = exchange(healthy, get_code(healthy))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert "offline_access" in body["scope"].split()
    assert body["refresh_token"]
    assert body["id_token"]


def test_refresh_token_only_with_offline_access(healthy: Session) -> None:
    body = exchange(healthy, get_code(healthy, scope="openid profile email")).json()
    assert "refresh_token" not in body
    assert body["scope"] == "openid profile email"


def test_refresh_token_from_code_works(healthy: Session) -> None:
    refresh_token = exchange(healthy, get_code(healthy)).json()["refresh_token"]
    assert healthy.refresh(refresh_token).status_code == 200


def test_deny_redirects_with_access_denied(healthy: Session) -> None:
    query = redirect_query(decide(healthy, open_consent(healthy), decision="deny"))
    assert query["error"] == "access_denied"
    assert query["error_description"]
    assert query["state"] == "xyz-state"
    assert "code" not in query


def test_wrong_password_shows_the_form_again(healthy: Session) -> None:
    page = open_consent(healthy)
    again = decide(healthy, page, password="wrong")
    assert again.status_code == 200
    assert "Wrong email or password." in again.text
    assert "location" not in again.headers
    assert redirect_query(decide(healthy, again))["code"]


def test_transaction_is_single_use(healthy: Session) -> None:
    page = open_consent(healthy)
    redirect_query(decide(healthy, page))
    assert decide(healthy, page).status_code == 400


@pytest.mark.parametrize(
    "overrides",
    [{"client_id": "someone-else"}, {"redirect_uri": "https://evil.example/cb"}],
    ids=["unknown-client", "unregistered-redirect"],
)
def test_bad_client_or_redirect_is_an_error_page_not_a_redirect(
    healthy: Session, overrides: dict[str, str]
) -> None:
    response = open_consent(healthy, **overrides)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"audience": ""}, "invalid_request"),
        ({"scope": ""}, "invalid_request"),
        ({"audience": "someone/else"}, "access_denied"),
        ({"code_challenge": "abc", "code_challenge_method": "plain"}, "invalid_request"),
    ],
)
def test_other_authorize_errors_redirect_with_error(
    healthy: Session, overrides: dict[str, str], error: str
) -> None:
    query = redirect_query(open_consent(healthy, **overrides))
    assert query["error"] == error
    assert query["state"] == "xyz-state"


def test_consent_page_escapes_what_it_shows(start: Callable[..., Session]) -> None:
    session = start(client_id='app<b>&"x')
    page = open_consent(session)
    assert "app&lt;b&gt;&amp;&quot;x" in page.text
    assert "app<b>" not in page.text


# PKCE and codes


def test_pkce_s256_round_trip(healthy: Session) -> None:
    code = get_code(healthy, code_challenge=challenge_of(VERIFIER), code_challenge_method="S256")
    assert exchange(healthy, code, code_verifier=VERIFIER).status_code == 200


def test_pkce_wrong_verifier_is_invalid_grant(healthy: Session) -> None:
    code = get_code(healthy, code_challenge=challenge_of(VERIFIER), code_challenge_method="S256")
    wrong = "c" * 50
    assert_oauth_error(exchange(healthy, code, code_verifier=wrong), 403, "invalid_grant")


def test_pkce_missing_verifier_is_invalid_request(healthy: Session) -> None:
    code = get_code(healthy, code_challenge=challenge_of(VERIFIER), code_challenge_method="S256")
    assert_oauth_error(exchange(healthy, code), 400, "invalid_request")


def test_code_is_single_use(healthy: Session) -> None:
    code = get_code(healthy)
    assert exchange(healthy, code).status_code == 200
    assert_oauth_error(exchange(healthy, code), 403, "invalid_grant")


def test_code_redirect_uri_must_match(healthy: Session) -> None:
    response = exchange(healthy, get_code(healthy), redirect_uri="http://127.0.0.1:9999/cb")
    assert_oauth_error(response, 403, "invalid_grant")


def test_unknown_code_is_invalid_grant(healthy: Session) -> None:
    assert_oauth_error(exchange(healthy, "not-a-code"), 403, "invalid_grant")


# token endpoint errors


def test_client_secret_post_works(healthy: Session) -> None:
    response = healthy.token_request(
        {"grant_type": "refresh_token", "refresh_token": healthy.env["SAGE200_REFRESH_TOKEN"]},
        basic=False,
    )
    assert response.status_code == 200


def test_token_response_is_not_cacheable(healthy: Session) -> None:
    assert healthy.refresh().headers["cache-control"] == "no-store"


def test_missing_grant_type_is_invalid_request(healthy: Session) -> None:
    assert_oauth_error(healthy.token_request({}), 400, "invalid_request")


def test_unknown_grant_type_is_unsupported(healthy: Session) -> None:
    response = healthy.token_request({"grant_type": "password"})
    assert_oauth_error(response, 400, "unsupported_grant_type")


def test_missing_refresh_token_is_invalid_request(healthy: Session) -> None:
    response = healthy.token_request({"grant_type": "refresh_token"})
    assert_oauth_error(response, 400, "invalid_request")


def test_json_other_than_form_is_invalid_request(healthy: Session) -> None:
    url = f"{healthy.emulator.base_url}/oauth/token"
    response = healthy.client.post(
        url, content="grant_type=x", headers={"content-type": "text/plain"}
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_repeated_parameter_is_invalid_request(healthy: Session) -> None:
    url = f"{healthy.emulator.base_url}/oauth/token"
    body = "grant_type=refresh_token&grant_type=refresh_token"
    headers = {"content-type": "application/x-www-form-urlencoded"}
    response = healthy.client.post(url, content=body, headers=headers)
    assert_oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize("basic", [True, False], ids=["basic", "post"])
def test_wrong_secret_is_invalid_client(healthy: Session, basic: bool) -> None:
    url = f"{healthy.emulator.base_url}/oauth/token"
    data = {"grant_type": "refresh_token", "refresh_token": healthy.env["SAGE200_REFRESH_TOKEN"]}
    client_id = healthy.emulator.config.client_id
    if basic:
        response = healthy.client.post(url, data=data, auth=(client_id, "wrong"))
        assert response.headers["www-authenticate"].startswith("Basic")
    else:
        data.update(client_id=client_id, client_secret="wrong")
        response = healthy.client.post(url, data=data)
    assert_oauth_error(response, 401, "invalid_client")
    assert CANARY_SECRET not in response.text


def test_unknown_client_is_invalid_client(healthy: Session) -> None:
    url = f"{healthy.emulator.base_url}/oauth/token"
    data = {"grant_type": "refresh_token", "refresh_token": healthy.env["SAGE200_REFRESH_TOKEN"]}
    response = healthy.client.post(url, data=data, auth=("nobody", CANARY_SECRET))
    assert_oauth_error(response, 401, "invalid_client")


def test_no_client_authentication_is_invalid_client(healthy: Session) -> None:
    url = f"{healthy.emulator.base_url}/oauth/token"
    data = {
        "grant_type": "refresh_token",
        "refresh_token": healthy.env["SAGE200_REFRESH_TOKEN"],
        "client_id": healthy.emulator.config.client_id,
    }
    assert_oauth_error(healthy.client.post(url, data=data), 401, "invalid_client")


def test_two_client_authentication_methods_are_invalid_request(healthy: Session) -> None:
    url = f"{healthy.emulator.base_url}/oauth/token"
    config = healthy.emulator.config
    data = {
        "grant_type": "refresh_token",
        "refresh_token": healthy.env["SAGE200_REFRESH_TOKEN"],
        "client_secret": CANARY_SECRET,
    }
    response = healthy.client.post(url, data=data, auth=(config.client_id, CANARY_SECRET))
    assert_oauth_error(response, 400, "invalid_request")


def test_public_client_needs_no_secret(start: Callable[..., Session]) -> None:
    session = start(public_client=True)
    data = {
        "grant_type": "refresh_token",
        "refresh_token": session.env["SAGE200_REFRESH_TOKEN"],
        "client_id": session.emulator.config.client_id,
    }
    response = session.client.post(f"{session.emulator.base_url}/oauth/token", data=data)
    assert response.status_code == 200


def test_basic_not_accepted_is_invalid_client(start: Callable[..., Session]) -> None:
    session = start(client_auth_methods=("client_secret_post",))
    assert_oauth_error(session.refresh(), 401, "invalid_client")
    data = {"grant_type": "refresh_token", "refresh_token": session.env["SAGE200_REFRESH_TOKEN"]}
    assert session.token_request(data, basic=False).status_code == 200


def test_grant_not_allowed_is_unauthorized_client(start: Callable[..., Session]) -> None:
    session = start(allowed_grant_types=("authorization_code",))
    assert_oauth_error(session.refresh(), 403, "unauthorized_client")


def test_unknown_refresh_token_is_invalid_grant(healthy: Session) -> None:
    assert_oauth_error(healthy.refresh("not-a-refresh-token"), 403, "invalid_grant")


def test_expired_refresh_token_is_invalid_grant(start: Callable[..., Session]) -> None:
    session = start(refresh_token_lifetime_s=0)
    assert_oauth_error(session.refresh(), 403, "invalid_grant")


def test_scope_can_be_narrowed_but_not_widened(healthy: Session) -> None:
    token = healthy.env["SAGE200_REFRESH_TOKEN"]
    narrowed = healthy.token_request(
        {"grant_type": "refresh_token", "refresh_token": token, "scope": "openid"}
    )
    assert narrowed.json()["scope"] == "openid"
    widened = healthy.token_request(
        {"grant_type": "refresh_token", "refresh_token": token, "scope": "openid admin"}
    )
    assert_oauth_error(widened, 400, "invalid_scope")


# refresh-token rotation


def test_without_rotation_refresh_returns_no_new_refresh_token(healthy: Session) -> None:
    assert "refresh_token" not in healthy.refresh().json()
    assert healthy.refresh().status_code == 200


def test_rotation_revokes_the_old_refresh_token(start: Callable[..., Session]) -> None:
    session = start(rotate_refresh_tokens=True)
    old = session.env["SAGE200_REFRESH_TOKEN"]
    first = session.refresh(old).json()
    new = first["refresh_token"]
    assert new != old
    assert_oauth_error(session.refresh(old), 403, "invalid_grant")
    assert session.refresh(new).status_code == 200


def test_rotated_token_keeps_the_original_consent_time(start: Callable[..., Session]) -> None:
    # The lifetime is absolute from consent: rotating does not extend it.
    session = start(rotate_refresh_tokens=True, refresh_token_lifetime_s=0.4)
    rotated = session.refresh().json()["refresh_token"]
    time.sleep(0.45)
    assert_oauth_error(session.refresh(rotated), 403, "invalid_grant")


def test_healthy_scenario_accepts_both_auth_methods() -> None:
    config = scenario_config("healthy")
    assert set(config.client_auth_methods) == {"client_secret_basic", "client_secret_post"}


def test_logout_redirects_only_to_loopback(healthy: Session) -> None:
    url = f"{healthy.emulator.base_url}/v2/logout"
    back = healthy.client.get(url, params={"returnTo": "http://127.0.0.1:8765/"})
    assert back.status_code == 302
    away = healthy.client.get(url, params={"returnTo": "https://evil.example/"})
    assert away.status_code == 200
