"""token.expiry: which credential runs out soon, and when, before it breaks the integration.

Three clocks run against a Sage 200 integration: the refresh token's (at most about 90 days,
absolute from the sign-in, not from the last refresh), the client secret's (chosen when the
credentials were issued) and the access token's (about an hour). Sage ID does not say when the
first two end, so their start or end comes from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import check, fail, warn
from sage200_doctor.http import oauth

RECONSENT = ("guide.auth.reconsent",)
CREDENTIALS = ("guide.auth.credentials",)
ACCESS = ("faq.errors.401",)
ACCESS_TOKEN_MIN_S = 300
"""A run, or one batch of an integration's calls, needs the access token to last this long."""
FUTURE_SLACK = timedelta(minutes=5)

Severity = Literal["ok", "warning", "failure"]


def clock() -> datetime:
    """Now, in UTC. The one place the check reads the time: tests replace it to fix the clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Forecast:
    severity: Severity
    sentence: str
    guidance: tuple[str, ...] = ()


@check(
    "token.expiry",
    order=85,
    title="No credential expires soon",
    verifies="the refresh token (from SAGE200_REFRESH_TOKEN_ISSUED_AT and its maximum age) and "
    "the client secret (SAGE200_CLIENT_SECRET_EXPIRES) do not expire within "
    "SAGE200_EXPIRY_WARNING_DAYS, and the access token lasts the run (warning level)",
    depends=("token.claims",),
    guidance=(*RECONSENT, *CREDENTIALS, *ACCESS),
)
def check_no_credential_expires_soon(run: Diagnosis) -> str:
    now = clock()
    found = [
        forecast
        for forecast in (
            _refresh_token(run, now),
            _client_secret(run, now),
            _access_token(run, now),
        )
        if forecast is not None
    ]
    failures = [f for f in found if f.severity == "failure"]
    warnings = [f for f in found if f.severity == "warning"]
    detail = "\n".join(f"- {f.sentence}" for f in found)
    guidance = _guidance(failures + warnings)
    if failures:
        fail(_headline(failures, "have expired"), detail=detail, guidance=guidance)
    if warnings:
        warn(_headline(warnings, "expire soon"), detail=detail, guidance=guidance)
    days = run.settings.expiry_warning_days
    if not found:
        return "No credential with a known expiry is configured."
    return f"Nothing expires within {days} day(s): " + "; ".join(f.sentence for f in found) + "."


def _headline(findings: list[Forecast], many: str) -> str:
    if len(findings) == 1:
        return findings[0].sentence
    return f"{len(findings)} credentials {many}: " + " ".join(f.sentence for f in findings)


def _guidance(findings: list[Forecast]) -> tuple[str, ...]:
    ordered: dict[str, None] = {}
    for finding in findings:
        ordered.update(dict.fromkeys(finding.guidance))
    return tuple(ordered)


def _in(left: timedelta) -> str:
    if left >= timedelta(days=2):
        return f"{left.days} days"
    return oauth.describe_duration(left.total_seconds())


def _refresh_token(run: Diagnosis, now: datetime) -> Forecast | None:
    settings = run.settings
    if not settings.refresh_token:
        return None
    issued = settings.refresh_token_issued_at
    if issued is None:
        run.facts["refresh token expires"] = "unknown"
        return Forecast("ok", "refresh token age unknown (set SAGE200_REFRESH_TOKEN_ISSUED_AT)")
    if issued > now + FUTURE_SLACK:
        return Forecast(
            "warning",
            f"SAGE200_REFRESH_TOKEN_ISSUED_AT ({issued.isoformat()}) is in the future; it should "
            "be when you signed in, so the refresh token's expiry cannot be forecast.",
            ("guide.config",),
        )
    expires = issued + timedelta(days=settings.refresh_token_max_days)
    run.facts["refresh token expires"] = expires.date().isoformat()
    left = expires - now
    origin = f"{settings.refresh_token_max_days} days after the sign-in on {issued.date()}"
    if left <= timedelta(0):
        return Forecast(
            "failure",
            f"The refresh token is past its maximum age: it expired on {expires.date()} "
            f"({origin}). Sign in again (sage200-doctor login)."
            + _still_worked(
                run, "SAGE200_REFRESH_TOKEN_ISSUED_AT or SAGE200_REFRESH_TOKEN_MAX_DAYS"
            ),
            RECONSENT,
        )
    if left <= timedelta(days=settings.expiry_warning_days):
        return Forecast(
            "warning",
            f"The refresh token expires in {_in(left)}, on {expires.date()} ({origin}). Sign in "
            "again before then (sage200-doctor login); a refresh does not extend it.",
            RECONSENT,
        )
    return Forecast("ok", f"refresh token until {expires.date()} ({_in(left)})")


def _client_secret(run: Diagnosis, now: datetime) -> Forecast | None:
    settings = run.settings
    expires = settings.client_secret_expires
    if expires is None:
        if not settings.client_secret:
            return None
        run.facts["client secret expires"] = "unknown"
        return Forecast("ok", "client secret expiry unknown (set SAGE200_CLIENT_SECRET_EXPIRES)")
    run.facts["client secret expires"] = expires.isoformat()
    days = (expires - now.date()).days
    if days <= 0:
        return Forecast(
            "failure",
            f"The client secret expired on {expires} (SAGE200_CLIENT_SECRET_EXPIRES): ask Sage "
            "Developer Services for new credentials."
            + _still_worked(run, "SAGE200_CLIENT_SECRET_EXPIRES"),
            CREDENTIALS,
        )
    if days <= settings.expiry_warning_days:
        return Forecast(
            "warning",
            f"The client secret expires in {days} day(s), on {expires}. Ask Sage Developer "
            "Services for a new one now, then prove the switch with sage200-doctor rotation.",
            CREDENTIALS,
        )
    return Forecast("ok", f"client secret until {expires} ({days} days)")


def _still_worked(run: Diagnosis, setting: str) -> str:
    """An expiry the settings claim, contradicted by this very run: the setting is stale."""
    if run.token is not None and run.token.source == "refresh":
        return (
            f" Sage ID still accepted it in this run, so {setting} may be out of date: "
            "update it to match the credentials you use now."
        )
    return ""


def _access_token(run: Diagnosis, now: datetime) -> Forecast | None:
    token = run.token
    if token is None:
        return None
    left = oauth.seconds_left(token.claims, now=now.timestamp())
    if left is None:
        return None
    if left < ACCESS_TOKEN_MIN_S:
        fix = (
            "The identity server issues very short-lived tokens: refresh before each batch of calls."
            if token.source == "refresh"
            else "Configure SAGE200_REFRESH_TOKEN so each run mints a fresh access token."
        )
        return Forecast(
            "warning",
            f"The access token expires in {oauth.describe_duration(max(left, 0))}, sooner than a "
            f"run needs ({oauth.describe_duration(ACCESS_TOKEN_MIN_S)}). {fix}",
            ACCESS,
        )
    return Forecast("ok", f"access token {oauth.describe_duration(left)} left")
