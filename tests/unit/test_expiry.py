"""token.expiry with a fixed clock: refresh token, client secret and access token forecasts,
and the settings that feed them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from sage200_doctor.checks import expiry
from sage200_doctor.config.settings import Secret, load_settings
from sage200_doctor.engine.diagnosis import Diagnosis, TokenFacts
from sage200_doctor.engine.registry import all_checks
from sage200_doctor.engine.results import CheckResult, Outcome
from sage200_doctor.engine.runner import run_check
from sage200_doctor.http.session import Session, build_client
from sage200_doctor.redact import Redactor

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BASE = {"SAGE200_CLIENT_ID": "client", "SAGE200_REFRESH_TOKEN": "refresh-token-value"}


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expiry, "clock", lambda: NOW)


def diagnose(
    tmp_path: Path,
    settings: dict[str, str],
    *,
    token_left_s: float | None = 3600,
    source: str = "refresh",
) -> CheckResult:
    loaded = load_settings(None, environ=settings, default_env_file=tmp_path / "absent.env")
    client = build_client(
        timeout_s=1, ca_bundle=None, transport=httpx.MockTransport(lambda r: httpx.Response(500))
    )
    redactor = Redactor()
    run = Diagnosis(loaded, Session(client, redactor), redactor)
    claims = {} if token_left_s is None else {"exp": NOW.timestamp() + token_left_s}
    run.token = TokenFacts(access_token=Secret("access-token-value"), source=source)
    run.token.claims = claims
    spec = next(s for s in all_checks() if s.id == "token.expiry")
    done = {"token.claims": CheckResult("token.claims", 70, "", Outcome.PASSED)}
    return run_check(spec, run, done)


def issued(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


# --- the declaration -----------------------------------------------------------------------------


def test_the_check_sits_between_scope_and_the_authorization_header() -> None:
    ids = [spec.id for spec in all_checks()]
    assert ids.index("token.scope") < ids.index("token.expiry") < ids.index("header.authorization")
    spec = next(s for s in all_checks() if s.id == "token.expiry")
    assert spec.order == 85
    assert spec.depends == ("token.claims",)
    assert set(spec.guidance) == {
        "guide.auth.reconsent",
        "guide.auth.credentials",
        "faq.errors.401",
    }


def test_the_default_clock_is_aware_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    assert expiry.clock().tzinfo is UTC


# --- refresh token ---------------------------------------------------------------------------------


def test_a_young_refresh_token_passes_with_its_expiry_date(tmp_path: Path) -> None:
    result = diagnose(tmp_path, {**BASE, "SAGE200_REFRESH_TOKEN_ISSUED_AT": issued(10)})
    assert result.outcome is Outcome.PASSED, result.summary
    assert result.facts["refresh token expires"] == "2027-02-11"
    assert "refresh token until 2027-02-11 (80 days)" in result.summary


def test_a_refresh_token_near_its_maximum_age_warns_with_reconsent(tmp_path: Path) -> None:
    result = diagnose(tmp_path, {**BASE, "SAGE200_REFRESH_TOKEN_ISSUED_AT": issued(80)})
    assert result.outcome is Outcome.WARNING
    assert result.guidance_ids == ("guide.auth.reconsent",)
    assert "expires in 10 days" in result.summary
    assert "sage200-doctor login" in result.summary


def test_the_warning_window_and_maximum_age_are_settings(tmp_path: Path) -> None:
    settings = {
        **BASE,
        "SAGE200_REFRESH_TOKEN_ISSUED_AT": issued(20),
        "SAGE200_REFRESH_TOKEN_MAX_DAYS": "30",
    }
    result = diagnose(tmp_path, settings)
    assert result.outcome is Outcome.WARNING
    assert "30 days after the sign-in" in result.summary
    settings["SAGE200_EXPIRY_WARNING_DAYS"] = "7"
    assert diagnose(tmp_path, settings).outcome is Outcome.PASSED


def test_a_refresh_token_past_its_maximum_age_fails_with_reconsent(tmp_path: Path) -> None:
    result = diagnose(tmp_path, {**BASE, "SAGE200_REFRESH_TOKEN_ISSUED_AT": issued(91)})
    assert result.outcome is Outcome.FAILED
    assert result.guidance_ids == ("guide.auth.reconsent",)
    assert "past its maximum age" in result.summary
    # The refresh just worked, so the settings, not Sage ID, are probably out of date.
    assert "may be out of date" in result.summary


def test_an_unknown_issue_time_is_noted_not_warned(tmp_path: Path) -> None:
    result = diagnose(tmp_path, BASE)
    assert result.outcome is Outcome.PASSED
    assert "SAGE200_REFRESH_TOKEN_ISSUED_AT" in result.summary
    assert result.facts["refresh token expires"] == "unknown"


def test_an_issue_time_in_the_future_warns(tmp_path: Path) -> None:
    result = diagnose(tmp_path, {**BASE, "SAGE200_REFRESH_TOKEN_ISSUED_AT": issued(-2)})
    assert result.outcome is Outcome.WARNING
    assert result.guidance_ids == ("guide.config",)
    assert "in the future" in result.summary


def test_a_date_only_issue_time_means_midnight_utc(tmp_path: Path) -> None:
    result = diagnose(tmp_path, {**BASE, "SAGE200_REFRESH_TOKEN_ISSUED_AT": "2026-09-01"})
    assert result.facts["refresh token expires"] == "2026-11-30"
    assert result.outcome is Outcome.WARNING  # 6.5 days left


def test_no_refresh_token_means_no_refresh_forecast(tmp_path: Path) -> None:
    settings = {"SAGE200_ACCESS_TOKEN": "x" * 20, "SAGE200_REFRESH_TOKEN_ISSUED_AT": issued(200)}
    result = diagnose(tmp_path, settings, source="access_token")
    assert result.outcome is Outcome.PASSED
    assert "refresh token expires" not in result.facts


# --- client secret -------------------------------------------------------------------------------


def test_a_client_secret_far_from_expiry_passes(tmp_path: Path) -> None:
    settings = {
        **BASE,
        "SAGE200_CLIENT_SECRET": "s" * 20,
        "SAGE200_CLIENT_SECRET_EXPIRES": "2027-06-30",
    }
    result = diagnose(tmp_path, settings)
    assert result.outcome is Outcome.PASSED
    assert result.facts["client secret expires"] == "2027-06-30"


def test_a_client_secret_about_to_expire_warns_with_credentials_guidance(tmp_path: Path) -> None:
    settings = {**BASE, "SAGE200_CLIENT_SECRET_EXPIRES": "2026-12-01"}
    result = diagnose(tmp_path, settings)
    assert result.outcome is Outcome.WARNING
    assert result.guidance_ids == ("guide.auth.credentials",)
    assert "expires in 8 day(s), on 2026-12-01" in result.summary
    assert "sage200-doctor rotation" in result.summary


def test_an_expired_client_secret_fails_with_credentials_guidance(tmp_path: Path) -> None:
    for last in ("2026-11-23", "2026-01-01"):
        result = diagnose(tmp_path, {**BASE, "SAGE200_CLIENT_SECRET_EXPIRES": last})
        assert result.outcome is Outcome.FAILED, last
        assert result.guidance_ids == ("guide.auth.credentials",)
        assert f"expired on {last}" in result.summary


def test_a_secret_without_a_date_is_noted(tmp_path: Path) -> None:
    result = diagnose(tmp_path, {**BASE, "SAGE200_CLIENT_SECRET": "s" * 20})
    assert result.outcome is Outcome.PASSED
    assert result.facts["client secret expires"] == "unknown"


# --- access token -------------------------------------------------------------------------------


def test_an_access_token_that_outlasts_the_run_passes(tmp_path: Path) -> None:
    result = diagnose(tmp_path, BASE, token_left_s=3500)
    assert result.outcome is Outcome.PASSED
    assert "access token 58 min left" in result.summary


def test_an_access_token_about_to_expire_warns_with_the_401_faq(tmp_path: Path) -> None:
    result = diagnose(
        tmp_path, {"SAGE200_ACCESS_TOKEN": "x" * 20}, token_left_s=90, source="access_token"
    )
    assert result.outcome is Outcome.WARNING
    assert result.guidance_ids == ("faq.errors.401",)
    assert "expires in 90 s" in result.summary
    assert "SAGE200_REFRESH_TOKEN" in result.summary


def test_a_token_without_expiry_and_nothing_else_known(tmp_path: Path) -> None:
    result = diagnose(
        tmp_path, {"SAGE200_ACCESS_TOKEN": "x" * 20}, token_left_s=None, source="access_token"
    )
    assert result.outcome is Outcome.PASSED
    assert result.summary == "No credential with a known expiry is configured."


# --- several at once ---------------------------------------------------------------------------


def test_a_failure_outranks_warnings_and_all_guidance_is_kept(tmp_path: Path) -> None:
    settings = {
        **BASE,
        "SAGE200_REFRESH_TOKEN_ISSUED_AT": issued(85),
        "SAGE200_CLIENT_SECRET_EXPIRES": "2026-11-01",
    }
    result = diagnose(tmp_path, settings, token_left_s=60)
    assert result.outcome is Outcome.FAILED
    assert result.summary.startswith("The client secret expired on 2026-11-01")
    assert result.guidance_ids == (
        "guide.auth.credentials",
        "guide.auth.reconsent",
        "faq.errors.401",
    )
    assert result.details.count("\n- ") == 2  # all three forecasts are listed


def test_two_warnings_are_counted_in_the_headline(tmp_path: Path) -> None:
    settings = {
        **BASE,
        "SAGE200_REFRESH_TOKEN_ISSUED_AT": issued(85),
        "SAGE200_CLIENT_SECRET_EXPIRES": "2026-12-01",
    }
    result = diagnose(tmp_path, settings)
    assert result.outcome is Outcome.WARNING
    assert result.summary.startswith("2 credentials expire soon")


# --- the settings --------------------------------------------------------------------------------


def test_the_settings_are_parsed(tmp_path: Path) -> None:
    loaded = load_settings(
        None,
        environ={
            "SAGE200_REFRESH_TOKEN_ISSUED_AT": "2026-11-01T09:30:00+01:00",
            "SAGE200_REFRESH_TOKEN_MAX_DAYS": "60",
            "SAGE200_CLIENT_SECRET_EXPIRES": "2027-01-31",
            "SAGE200_EXPIRY_WARNING_DAYS": "0",
        },
        default_env_file=tmp_path / "absent.env",
    )
    settings = loaded.settings
    assert loaded.problems == ()
    assert settings.refresh_token_issued_at == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    assert settings.refresh_token_max_days == 60
    assert settings.client_secret_expires == date(2027, 1, 31)
    assert settings.expiry_warning_days == 0


def test_defaults_without_the_settings(tmp_path: Path) -> None:
    settings = load_settings(None, environ={}, default_env_file=tmp_path / "absent.env").settings
    assert settings.refresh_token_issued_at is None
    assert settings.client_secret_expires is None
    assert (settings.refresh_token_max_days, settings.expiry_warning_days) == (90, 14)


def test_a_naive_issue_time_is_taken_as_utc(tmp_path: Path) -> None:
    environ = {"SAGE200_REFRESH_TOKEN_ISSUED_AT": "2026-11-01 09:30"}
    settings = load_settings(
        None, environ=environ, default_env_file=tmp_path / "absent.env"
    ).settings
    assert settings.refresh_token_issued_at == datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SAGE200_REFRESH_TOKEN_ISSUED_AT", "last tuesday"),
        ("SAGE200_REFRESH_TOKEN_ISSUED_AT", "23/11/2026"),
        ("SAGE200_CLIENT_SECRET_EXPIRES", "31/01/2027"),
        ("SAGE200_CLIENT_SECRET_EXPIRES", "2027-02-30"),
        ("SAGE200_REFRESH_TOKEN_MAX_DAYS", "0"),
        ("SAGE200_REFRESH_TOKEN_MAX_DAYS", "ninety"),
        ("SAGE200_REFRESH_TOKEN_MAX_DAYS", "²"),
        ("SAGE200_EXPIRY_WARNING_DAYS", "-1"),
        ("SAGE200_EXPIRY_WARNING_DAYS", "99999"),
    ],
)
def test_malformed_values_are_config_errors_and_defaults_are_kept(
    tmp_path: Path, key: str, value: str
) -> None:
    loaded = load_settings(None, environ={key: value}, default_env_file=tmp_path / "absent.env")
    [problem] = loaded.problems
    assert (problem.key, problem.severity) == (key, "error")
    assert problem.suggestion is not None
    assert key in problem.suggestion
    settings = loaded.settings
    assert settings.refresh_token_issued_at is None
    assert settings.client_secret_expires is None
    assert (settings.refresh_token_max_days, settings.expiry_warning_days) == (90, 14)
