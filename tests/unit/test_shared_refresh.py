"""token.refresh with SharedCredentials: a credential shared by fleet environments is refreshed
once, and a refresh token this process already rotated away is never presented again (D4)."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from sage200_doctor.config.settings import load_settings
from sage200_doctor.config.shared_credentials import SharedCredentials, credential_key
from sage200_doctor.engine.results import CheckResult, Interruption
from sage200_doctor.engine.run import DiagnosticRun, RunOptions
from sage200_doctor.errors import ExitCode
from sage200_doctor.http.oauth import TokenGrant

FIRST = "first-refresh-token-0123456789abcdef"
TOKEN_URL = "https://id.example.test/oauth/token"


class RotatingIdentity:
    """A token endpoint that rotates the refresh token on every use and refuses old ones."""

    def __init__(self) -> None:
        self.current = FIRST
        self.presented: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"issuer": "https://id.example.test/"})
        token = parse_qs(request.content.decode())["refresh_token"][0]
        self.presented.append(token)
        if token != self.current:
            error = {"error": "invalid_grant", "error_description": "Unknown or invalid token."}
            return httpx.Response(403, json=error)
        self.current = f"rotated-refresh-token-{len(self.presented):02d}-0123456789abcdef"
        grant = {"access_token": "access-" + "a" * 40, "token_type": "Bearer"}
        return httpx.Response(
            200, json={**grant, "expires_in": 3600, "refresh_token": self.current}
        )


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def refresh(
    identity: RotatingIdentity,
    shared: SharedCredentials[TokenGrant] | None,
    *,
    client_auth: str = "basic",
) -> CheckResult:
    environ = {
        "SAGE200_TOKEN_URL": TOKEN_URL,
        "SAGE200_CLIENT_ID": "client-1",
        "SAGE200_CLIENT_SECRET": "client-secret-0123456789",
        "SAGE200_CLIENT_AUTH": client_auth,
        "SAGE200_REFRESH_TOKEN": FIRST,
    }
    loaded = load_settings(None, environ=environ, default_env_file=Path("/nonexistent"))
    options = RunOptions(only=("token.refresh",), transport=httpx.MockTransport(identity))
    run = DiagnosticRun(loaded, options)
    run.diagnosis.shared_credentials = shared
    return run.run().check("token.refresh")


def test_without_sharing_the_second_environment_presents_a_spent_token() -> None:
    identity = RotatingIdentity()
    assert refresh(identity, None).outcome.value == "warning"  # rotated: saved elsewhere
    second = refresh(identity, None)
    assert second.outcome.value == "failed"
    assert "invalid_grant" in second.summary
    assert identity.presented == [FIRST, FIRST]


def test_a_shared_credential_is_refreshed_once() -> None:
    identity = RotatingIdentity()
    shared: SharedCredentials[TokenGrant] = SharedCredentials()
    first, second = refresh(identity, shared), refresh(identity, shared)
    assert first.outcome.value == "warning"
    assert second.outcome.value == "passed"
    assert "its grant was used here" in second.summary
    assert identity.presented == [FIRST]


def test_another_client_authentication_presents_the_newest_token() -> None:
    identity = RotatingIdentity()
    shared: SharedCredentials[TokenGrant] = SharedCredentials()
    refresh(identity, shared)
    rotated = identity.current
    other = refresh(identity, shared, client_auth="body")
    assert other.outcome.value == "warning"
    assert identity.presented == [FIRST, rotated]


def test_the_newest_token_follows_every_rotation() -> None:
    shared: SharedCredentials[TokenGrant] = SharedCredentials()
    key = credential_key(TOKEN_URL, "client-1", FIRST)
    grant = TokenGrant("access", "second", None, None)
    shared.record(key, "basic", grant, "second")
    shared.record(key, "body", grant, None)  # no new refresh token: the newest stays
    assert shared.newest_token(key) == "second"
    assert shared.grant_for(key, "basic") is grant
    assert shared.grant_for(key, "other") is None
    assert shared.newest_token(credential_key(TOKEN_URL, "client-1", "unrelated")) is None


def test_a_rotated_token_saved_nowhere_fails_the_check_and_is_not_an_internal_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sage200_doctor.config.rotation as rotation

    monkeypatch.setattr(rotation, "fallback_folders", list)  # no place takes it
    result = refresh(RotatingIdentity(), None)
    assert result.outcome.value == "failed"
    assert "could not be saved anywhere" in result.summary
    assert "guide.auth.reconsent" in result.guidance_ids
    assert FIRST not in result.summary + result.details


def test_a_stop_during_the_grant_still_says_where_the_rotated_token_went(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGTERM lands while the grant is in flight and `finish` is already waiting (as under
    pytest-timeout): the run waits for the answer and saves the token, then seals before
    token.refresh records its result (the check is made slow after its critical section). The
    interrupted result still names the file the token went to."""
    identity = RotatingIdentity()
    environ = {
        "SAGE200_TOKEN_URL": TOKEN_URL,
        "SAGE200_CLIENT_ID": "client-1",
        "SAGE200_CLIENT_SECRET": "client-secret-0123456789",
        "SAGE200_REFRESH_TOKEN": FIRST,
    }
    loaded = load_settings(None, environ=environ, default_env_file=Path("/nonexistent"))
    run: DiagnosticRun

    def stopped_in_flight(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            run.interrupt(Interruption("SIGTERM", ExitCode.TERMINATED))
            time.sleep(0.3)  # the answer comes after the stop: the run must wait for it
        return identity(request)

    def still_busy(*_: object) -> None:
        time.sleep(1.0)  # the seal comes first: the stop was waiting for the critical section

    monkeypatch.setattr("sage200_doctor.checks.token.adopt", still_busy)
    options = RunOptions(only=("token.refresh",), transport=httpx.MockTransport(stopped_in_flight))
    run = DiagnosticRun(loaded, options)
    run.start()
    result = run.finish().check("token.refresh")
    assert result.outcome.value == "interrupted", result.summary
    saved = list((Path.home() / ".sage200-doctor").glob("rotated-*.env"))
    assert len(saved) == 1, (result.summary, identity.presented)
    assert identity.current in saved[0].read_text()
    assert f"saved to {saved[0]}" in result.summary
