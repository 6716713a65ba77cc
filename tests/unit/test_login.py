"""The pieces of `sage200-doctor login`, without a browser or an identity server."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sage200_doctor import login
from sage200_doctor.config.settings import Settings, load_settings
from sage200_doctor.http.oauth import TokenError, TokenGrant
from sage200_doctor.http.session import Session, build_client
from sage200_doctor.redact import Redactor

SECRET = "s3cret-value-never-shown"


@pytest.fixture(autouse=True)
def _no_sage200_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [key for key in os.environ if key.startswith("SAGE200_")]:
        monkeypatch.delenv(key)


def _settings(tmp_path: Path, **values: str) -> Settings:
    env = {
        "SAGE200_CLIENT_ID": "my-client",
        "SAGE200_AUTH_URL": "https://id.test/authorize",
        "SAGE200_TOKEN_URL": "https://id.test/oauth/token",
        **values,
    }
    path = tmp_path / "login.env"
    path.write_text("".join(f"{key}={value}\n" for key, value in env.items()), encoding="utf-8")
    return load_settings(path, environ={}).settings


def _session(handler: Callable[[httpx.Request], httpx.Response]) -> tuple[Session, Redactor]:
    redactor = Redactor()
    client = build_client(timeout_s=2, ca_bundle=None, transport=httpx.MockTransport(handler))
    return Session(client, redactor), redactor


# --- PKCE, state and the authorize URL ----------------------------------------------------------


def test_the_pkce_verifier_is_random_and_the_challenge_is_its_s256() -> None:
    first, second = login.Pkce.new(), login.Pkce.new()
    assert first.verifier != second.verifier
    assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", first.verifier)
    digest = hashlib.sha256(first.verifier.encode()).digest()
    assert first.challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_the_authorize_url_asks_for_a_code_with_audience_scope_state_and_s256(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path, SAGE200_SCOPE="'openid offline_access'")
    pkce = login.Pkce.new()
    url = login.authorization_url(
        settings, redirect_uri="http://127.0.0.1:8765/callback", state="st4te", pkce=pkce
    )
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://id.test/authorize"
    assert query == {
        "response_type": "code",
        "client_id": "my-client",
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "scope": "openid offline_access",
        "audience": "s200ukipd/sage200",
        "state": "st4te",
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }
    assert pkce.verifier not in url
    assert "%20" in url  # spaces encoded as %20, which every server reads the same way


def test_an_authorize_url_that_already_has_a_query_is_extended(tmp_path: Path) -> None:
    settings = _settings(tmp_path, SAGE200_AUTH_URL="https://id.test/authorize?tenant=x")
    url = login.authorization_url(
        settings, redirect_uri="http://127.0.0.1:1/callback", state="s", pkce=login.Pkce.new()
    )
    assert url.startswith("https://id.test/authorize?tenant=x&response_type=code&")


# --- the redirect URI ---------------------------------------------------------------------------


def test_without_a_registered_redirect_uri_the_default_loopback_one_is_used() -> None:
    plan = login.plan_redirect(None, None)
    assert (plan.bind_host, plan.port, plan.note) == ("127.0.0.1", 8765, None)
    assert plan.uri_for(8765) == "http://127.0.0.1:8765/callback"
    assert login.plan_redirect(None, 9001).uri_for(9001) == "http://127.0.0.1:9001/callback"


def test_a_registered_loopback_redirect_uri_is_used_exactly_with_its_port_and_path() -> None:
    plan = login.plan_redirect("http://localhost:5123/auth/done", None)
    assert (plan.bind_host, plan.port, plan.path) == ("127.0.0.1", 5123, "/auth/done")
    assert plan.uri_for(5123) == "http://localhost:5123/auth/done"


def test_port_overrides_the_registered_port_and_changes_the_uri() -> None:
    plan = login.plan_redirect("http://127.0.0.1:5123/callback", 6000)
    assert plan.port == 6000
    assert plan.uri_for(6000) == "http://127.0.0.1:6000/callback"


@pytest.mark.parametrize(
    "registered",
    [
        "https://app.example.com/callback",
        "https://127.0.0.1:8443/callback",
        "http://192.168.1.5:8765/callback",
        "http://127.0.0.1:notaport/callback",
    ],
)
def test_a_redirect_uri_that_cannot_reach_this_machine_falls_back_with_a_note(
    registered: str,
) -> None:
    plan = login.plan_redirect(registered, None)
    assert plan.uri_for(plan.port) == "http://127.0.0.1:8765/callback"
    assert plan.note is not None
    assert registered in plan.note
    assert "must also be registered" in plan.note


# --- the preflight GET --------------------------------------------------------------------------


def _preflight(response: httpx.Response) -> None:
    session, redactor = _session(lambda request: response)
    login.preflight(
        session,
        redactor,
        "https://id.test/authorize?client_id=my-client",
        redirect_uri="http://127.0.0.1:8765/callback",
        client_id="my-client",
    )


def test_a_redirect_to_the_login_form_is_the_normal_case() -> None:
    _preflight(httpx.Response(302, headers={"Location": "https://id.test/u/login?state=abc"}))


def test_an_error_page_means_the_redirect_uri_is_not_registered() -> None:
    page = (
        "<html><head><title>Error</title><style>p{}</style></head><body><h1>Oops</h1>"
        "<p>Callback URL mismatch.</p></body></html>"
    )
    with pytest.raises(login.LoginFailed) as failure:
        _preflight(httpx.Response(400, html=page))
    message = str(failure.value)
    assert failure.value.exit_code == 1
    assert "HTTP 400" in message
    assert "(Oops Callback URL mismatch.)" in message
    assert "register exactly http://127.0.0.1:8765/callback" in message


def test_a_redirect_to_sage_ids_error_page_is_reported_the_same_way() -> None:
    location = (
        "https://id.test/error?error=unauthorized_client&error_description=Callback+URL+mismatch"
    )
    with pytest.raises(login.LoginFailed, match="not registered") as failure:
        _preflight(httpx.Response(302, headers={"Location": location}))
    assert "unauthorized_client: Callback URL mismatch" in str(failure.value)


def test_an_error_sent_straight_back_to_the_callback_is_reported_at_once() -> None:
    location = (
        "http://127.0.0.1:8765/callback?error=access_denied"
        "&error_description=Service+not+found%3A+s200ukish%2Fsage200&state=x"
    )
    with pytest.raises(login.LoginFailed, match="SAGE200_AUDIENCE"):
        _preflight(httpx.Response(302, headers={"Location": location}))


def test_a_server_fault_is_not_blamed_on_the_redirect_uri() -> None:
    with pytest.raises(login.LoginFailed, match="HTTP 503") as failure:
        _preflight(httpx.Response(503, text="down"))
    assert "registered" not in str(failure.value)


def test_an_unreachable_identity_server_exits_3() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    session, redactor = _session(refuse)
    with pytest.raises(login.LoginFailed, match="Could not reach") as failure:
        login.preflight(
            session, redactor, "https://id.test/authorize", redirect_uri="x", client_id="c"
        )
    assert failure.value.exit_code == 3


# --- the code exchange --------------------------------------------------------------------------


def _exchange(settings: Settings) -> httpx.Request:
    seen: list[httpx.Request] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"access_token": "a", "expires_in": 60})

    session, _ = _session(token_endpoint)
    answer = login.exchange_code(
        session, settings, code="the-code", verifier="v" * 43, redirect_uri="http://x/cb"
    )
    assert answer.status == 200
    return seen[0]


def _form(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


def test_basic_client_authentication_sends_the_secret_in_the_header_only(tmp_path: Path) -> None:
    request = _exchange(_settings(tmp_path, SAGE200_CLIENT_SECRET=SECRET))
    expected = base64.b64encode(f"my-client:{SECRET}".encode()).decode()
    assert request.url == "https://id.test/oauth/token"
    assert request.headers["authorization"] == f"Basic {expected}"
    assert _form(request) == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "http://x/cb",
        "code_verifier": "v" * 43,
    }


def test_body_client_authentication_sends_id_and_secret_as_fields(tmp_path: Path) -> None:
    settings = _settings(tmp_path, SAGE200_CLIENT_SECRET=SECRET, SAGE200_CLIENT_AUTH="body")
    request = _exchange(settings)
    assert "authorization" not in request.headers
    assert _form(request)["client_id"] == "my-client"
    assert _form(request)["client_secret"] == SECRET


def test_a_public_client_sends_only_its_id(tmp_path: Path) -> None:
    request = _exchange(_settings(tmp_path))
    assert "authorization" not in request.headers
    assert _form(request)["client_id"] == "my-client"
    assert "client_secret" not in _form(request)


def test_invalid_client_names_the_settings_to_check_and_the_other_method(tmp_path: Path) -> None:
    settings = _settings(tmp_path, SAGE200_CLIENT_SECRET=SECRET)
    redactor = Redactor()
    redactor.add("client_secret", SECRET)
    failure = login.token_failure(
        TokenError(401, "invalid_client", f"secret {SECRET} is wrong"), settings, redactor
    )
    message = str(failure)
    assert SECRET not in message
    assert "SAGE200_CLIENT_SECRET" in message
    assert "SAGE200_CLIENT_AUTH=body" in message
    assert "guide.auth.credentials" in message


def test_other_token_errors_are_told_apart(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    grant = login.token_failure(TokenError(403, "invalid_grant", "expired"), settings, Redactor())
    assert "single-use" in str(grant)
    other = login.token_failure(TokenError(502, None, "an HTML page"), settings, Redactor())
    assert "HTTP 502" in str(other)


# --- the loopback callback server ---------------------------------------------------------------


@pytest.fixture
def callback_server() -> Iterator[login.CallbackServer]:
    with login.CallbackServer("127.0.0.1", 0, "/callback") as server:
        yield server


def test_the_callback_is_kept_answered_with_a_close_this_tab_page_and_logged_nowhere(
    callback_server: login.CallbackServer, capfd: pytest.CaptureFixture[str]
) -> None:
    base = f"http://127.0.0.1:{callback_server.port}"
    with httpx.Client() as browser:
        assert browser.get(f"{base}/favicon.ico").status_code == 404
        page = browser.get(f"{base}/callback?code=SECRETCODE123&state=abc")
        again = browser.get(f"{base}/callback?code=other&state=abc")
    assert page.status_code == 200
    assert "close this tab" in page.text
    assert "already" in again.text
    callback = callback_server.wait(1)
    assert callback is not None
    assert (callback.code, callback.params["state"]) == ("SECRETCODE123", "abc")
    captured = capfd.readouterr()
    assert "SECRETCODE123" not in captured.out + captured.err


def test_waiting_without_a_callback_gives_none(callback_server: login.CallbackServer) -> None:
    assert callback_server.wait(0.05) is None


def test_a_port_in_use_is_a_finding_that_names_the_port_and_the_flag() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(login.LoginFailed) as failure:
            login.start_callback_server(login.plan_redirect(None, port))
    assert f"Port {port} on 127.0.0.1 is already in use" in str(failure.value)
    assert "--port N" in str(failure.value)


# --- what came back -----------------------------------------------------------------------------


def _check(params: dict[str, str] | None) -> str:
    callback = None if params is None else login.Callback(params)
    return login.check_callback(callback, state="good", redirect_uri="http://r/cb", timeout_s=7)


def test_a_matching_callback_gives_the_code() -> None:
    assert _check({"code": "c0de", "state": "good"}) == "c0de"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (None, "within 7 s"),
        ({"code": "c0de", "state": "forged"}, "state does not match"),
        ({"code": "c0de"}, "state does not match"),
        ({"error": "access_denied", "state": "good"}, "Consent was refused"),
        ({"error": "server_error", "state": "good"}, "error instead of a code (server_error)"),
        ({"state": "good"}, "without an authorization code"),
    ],
)
def test_a_callback_without_a_usable_code_is_a_finding(
    params: dict[str, str] | None, expected: str
) -> None:
    with pytest.raises(login.LoginFailed, match=re.escape(expected)):
        _check(params)


def test_the_timeout_finding_names_the_usual_cause() -> None:
    with pytest.raises(login.LoginFailed, match="most common cause is a redirect URI"):
        _check(None)


def test_what_was_granted_is_described_without_any_token() -> None:
    grant = TokenGrant("ACCESS", "REFRESH", "openid offline_access", 3600)
    text = "\n".join(login.describe_grant(grant, "openid offline_access"))
    assert "scopes:        openid offline_access" in text
    assert "refresh token: yes" in text
    assert "expires in 60 min" in text
    assert "ACCESS" not in text
    assert "REFRESH" not in text


def test_a_missing_refresh_token_is_explained_by_the_scope() -> None:
    grant = TokenGrant("a", None, "openid", None)
    without = "\n".join(login.describe_grant(grant, "openid"))
    assert "offline_access was missing from the scope" in without
    assert "expiry not stated" in without
    asked = "\n".join(login.describe_grant(grant, "openid offline_access"))
    assert "although offline_access was asked for" in asked


# --- the command's own checks -------------------------------------------------------------------


def test_a_missing_client_id_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env_file = tmp_path / "empty.env"
    env_file.write_text("SAGE200_SCOPE=openid\n", encoding="utf-8")
    code = login.command(env_file, no_browser=True, timeout_s=1, port=0)
    assert code == 2
    assert "SAGE200_CLIENT_ID is not set" in capsys.readouterr().err


def test_a_bad_setting_that_login_needs_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_text("SAGE200_CLIENT_ID=c\nSAGE200_CLIENT_AUTH=header\n", encoding="utf-8")
    assert login.command(env_file, no_browser=True, timeout_s=1, port=0) == 2
    assert "SAGE200_CLIENT_AUTH must be basic" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("timeout_s", "port", "where"),
    [(0, None, "--timeout"), (float("nan"), None, "--timeout"), (5, 70000, "--port")],
)
def test_bad_flags_exit_4(
    tmp_path: Path,
    timeout_s: float,
    port: int | None,
    where: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert login.command(tmp_path / ".env", no_browser=True, timeout_s=timeout_s, port=port) == 4
    assert where in capsys.readouterr().err


def test_an_env_file_that_is_a_directory_exits_4(tmp_path: Path) -> None:
    assert login.command(tmp_path, no_browser=True, timeout_s=1, port=0) == 4


def test_no_browser_prints_the_url_and_never_calls_the_opener(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def opener(url: str) -> bool:
        raise AssertionError("the browser must not be opened")

    login._send_user_to(
        "https://id.test/authorize?x=1", no_browser=True, opener=opener, timeout_s=9
    )
    out = capsys.readouterr().out
    assert "  https://id.test/authorize?x=1\n" in out
    assert "Waiting up to 9 s" in out


def test_no_browser_available_prints_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    login._send_user_to(
        "https://id.test/a", no_browser=False, opener=lambda url: False, timeout_s=1
    )
    assert "No browser could be opened" in capsys.readouterr().out
