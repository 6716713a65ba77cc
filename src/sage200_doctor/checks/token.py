"""token.*: can a fresh access token be minted, is it the right token, with the right scope?"""

from __future__ import annotations

import time
from typing import Any

from sage200_doctor.config.file_writes import interrupted_writes
from sage200_doctor.config.rotation import RotationRecord
from sage200_doctor.config.settings import Secret
from sage200_doctor.engine.diagnosis import Diagnosis, TokenFacts
from sage200_doctor.engine.registry import check, fail, report, report_any, skip, warn
from sage200_doctor.engine.results import Substitute
from sage200_doctor.http import oauth
from sage200_doctor.http.sage import status_phrase
from sage200_doctor.rules import Judgement
from sage200_doctor.rules.token import (
    CREDENTIALS,
    RECONSENT,
    ApiClock,
    granted_scopes,
    judge_audience,
    judge_clock,
    judge_expiry,
    judge_issuer,
    judge_near_expiry,
    judge_not_a_jwt,
    judge_scope,
    judge_token_error,
)

from .token_grant import (
    CHECK_ID,
    adopt,
    client_auth,
    configured_token,
    refresh,
    start_early,
    take_early,
)


@check(
    CHECK_ID,
    order=60,
    title="Refresh token mints an access token",
    verifies="a configured refresh token mints an access token with the configured client "
    "authentication (skipped when none is configured)",
    depends=("network.identity",),
    guidance=CREDENTIALS,
    ahead=start_early,  # the grant leaves in the first wave, beside the reachability probes
    ahead_after=("config.values",),  # never on settings the configuration checks refused
)
def check_refresh_token_mints_access_token(run: Diagnosis) -> str:
    settings = run.settings
    if not settings.refresh_token:
        skip("No refresh token is configured; the configured access token is used as it is.")
    method = client_auth(run)
    result = take_early(run, method)
    if result is None:
        result = refresh(run, method, run.facts)
    if isinstance(result, oauth.TokenError) and result.error == "invalid_client":
        _explain_invalid_client(run, method)
    if isinstance(result, oauth.TokenError):
        _carry_on_with_the_access_token(run)
        _explain_token_error(result, hint=_interrupted_write_hint(run))
    assert isinstance(result, oauth.TokenGrant)
    adopt(run, result)
    lifetime = (
        f", valid for {oauth.describe_duration(result.expires_in)}" if result.expires_in else ""
    )
    summary = f"Sage ID issued an access token with {method} client authentication{lifetime}."
    return _judge_rotation(run.rotation, summary)


def _judge_rotation(record: RotationRecord | None, summary: str) -> str:
    """Where a rotated refresh token went: back where it came from (a pass), somewhere the user
    must fetch it from (a warning), or nowhere (a failure: the credential is gone)."""
    if record is None:
        return summary
    if record.lost:
        fail(record.note, detail=record.detail, guidance=(*RECONSENT, "guide.config"))
    if record.warn:
        warn(f"{summary} {record.note}", detail=record.detail, guidance=("guide.config",))
    return f"{summary} {record.note}"


def _explain_invalid_client(run: Diagnosis, method: str) -> None:
    # One probe with the other client-authentication method (never a loop): it tells a wrong
    # secret apart from a secret sent the way this client is not set up to accept.
    other = "body" if method == "basic" else "basic"
    if run.settings.client_secret is None and other == "basic":
        fail(
            "Sage ID rejected the client (invalid_client): the client id is unknown or needs a secret.",
            detail="No SAGE200_CLIENT_SECRET is configured. Confidential (web) clients need one.",
        )
    probe = refresh(run, other, run.facts)
    if isinstance(probe, oauth.TokenGrant):
        adopt(run, probe)
        run.substitute(
            Substitute(
                replaced=f"{method} client authentication",
                by=f"{other} client authentication",
                proof=f"the refresh grant with {other} authentication was answered with a token",
                set_by="token.refresh",
            )
        )
        fail(
            f"Sage ID rejects {method} client authentication for this client, but {other} works.",
            detail=f"Set SAGE200_CLIENT_AUTH={other}.",
        )
    _carry_on_with_the_access_token(run)
    fail(
        "Sage ID rejected the client credentials (invalid_client) with both basic and body "
        "authentication: the client id or client secret is wrong.",
        detail="Check SAGE200_CLIENT_ID and SAGE200_CLIENT_SECRET against the credentials "
        "Developer Services issued (development and production credentials differ).",
    )


def _carry_on_with_the_access_token(run: Diagnosis) -> None:
    """The refresh grant was refused: if SAGE200_ACCESS_TOKEN is configured too and the API
    still accepts it, the run carries on with it (one GET proves it)."""
    configured = run.settings.access_token
    if not configured:
        return
    token = configured.reveal().strip()
    probe = run.get("sites", authorization=f"Bearer {token}", with_company=False)
    if not probe.ok:
        return
    run.token = TokenFacts(access_token=Secret(token), source="access_token")
    run.substitute(
        Substitute(
            replaced="a fresh access token from the refresh grant",
            by="the configured SAGE200_ACCESS_TOKEN",
            proof=f"GET sites with it answered HTTP {probe.status}",
            set_by="token.refresh",
        )
    )


def _explain_token_error(error: oauth.TokenError, *, hint: str = "") -> None:
    report(judge_token_error(error, hint=hint))


def _interrupted_write_hint(run: Diagnosis) -> str:
    """A run killed while saving a rotated token may have left the token in a temporary file."""
    settings = run.settings
    if settings.sources.get("SAGE200_REFRESH_TOKEN") != "file" or settings.env_file is None:
        return ""
    left = interrupted_writes(settings.env_file)
    if not left:
        return ""
    return (
        f" {left[-1]} was left beside the env file by a run stopped while it saved a rotated "
        "refresh token: it may hold the newest one. If so, copy SAGE200_REFRESH_TOKEN from it "
        "into the env file and delete it."
    )


def _ask_jwks_ahead(run: Diagnosis) -> bool:
    jwks_uri = (run.discovery or {}).get("jwks_uri")
    return isinstance(jwks_uri, str) and run.session.send_ahead(jwks_uri)


@check(
    "token.claims",
    order=70,
    title="Access token is valid",
    verifies="the access token is a JWT, not expired, for the right audience and issuer; "
    "how long it has left",
    depends=("config.values", "token.refresh"),
    guidance=("faq.errors.401",),
    ahead=_ask_jwks_ahead,
)
def check_access_token_claims(run: Diagnosis) -> str:
    token = run.token or configured_token(run)
    run.token = token
    try:
        claims = oauth.peek_claims(token.access_token.reveal())
    except oauth.NotAJwt as problem:
        report(judge_not_a_jwt(problem))
    token.claims = claims
    _verify_signature(run, token)
    expected_audience = run.settings.audience.strip()
    left, clock, api = _by_the_api_clock(run, claims, oauth.seconds_left(claims))
    issuer = str(claims.get("iss", ""))
    summary = f"JWT for {expected_audience} from {issuer or 'an unnamed issuer'}"
    summary += (
        f", {oauth.describe_duration(left or 0)} left." if left is not None else ", no expiry."
    )
    run.facts.update(
        {
            "issuer": issuer,
            "expires in": oauth.describe_duration(left or 0),
            "token source": token.source,
        }
    )
    expected_issuer = oauth.expected_issuer(run.settings.token_url.strip())
    report_any(
        (
            judge_audience(claims, expected_audience),
            clock,
            judge_expiry(left, fix=_expiry_fix(run), api=api),
            judge_issuer(issuer, expected_issuer, summary),
            judge_near_expiry(left),
        )
    )
    return summary


def _by_the_api_clock(
    run: Diagnosis, claims: dict[str, Any], left: float | None
) -> tuple[float | None, Judgement | None, ApiClock | None]:
    """The machine's clock is not the truth: when it says the token has expired, one GET sites
    with the token asks the API. If the API accepts the token, or its Date header says it is
    still valid, the clock is wrong (a warning) and the time left is the API's; else the
    token has expired, and the API's answer confirms it."""
    exp = oauth.seconds_value(claims.get("exp"))
    if left is None or exp is None or left >= -oauth.CLOCK_SKEW_S:
        return left, None, None
    api = ApiClock.of(run.get("sites", with_company=False))
    now = time.time()
    clock = judge_clock(exp, local_now=now, api=api)
    if clock is None:
        return left, None, (api if api.accepted is False else None)
    run.facts["clock skew"] = clock.summary.split(":", 1)[0]
    if api.date is None:
        return None, clock, None
    claims[oauth.CLOCK_SKEW_KEY] = now - api.date  # later checks count by the API's clock
    return oauth.seconds_left(claims, now=now), clock, None


def _expiry_fix(run: Diagnosis) -> str:
    if not run.settings.refresh_token:
        return "configure SAGE200_REFRESH_TOKEN so each run mints a fresh one"
    return "the identity server minted an expired token"


def _verify_signature(run: Diagnosis, token: TokenFacts) -> None:
    jwks_uri = (run.discovery or {}).get("jwks_uri")
    if not isinstance(jwks_uri, str):
        run.facts["signature"] = "not verified (no discovery document)"
        return
    answer = run.session.request("GET", jwks_uri)
    if not (answer.ok and isinstance(answer.json, dict)):
        run.facts["signature"] = f"not verified (JWKS: {status_phrase(answer)})"
        return
    try:
        problem = oauth.verify_signature(token.access_token.reveal(), answer.json)
    except oauth.UnreadableKeys as unreadable:
        run.facts["signature"] = f"not verified ({unreadable})"
        return
    if problem:
        fail(
            "The token was not signed by the configured identity server.",
            detail=f"{problem}. It was probably issued by another Sage ID environment than "
            "SAGE200_TOKEN_URL points at.",
        )
    run.facts["signature"] = "verified against the identity server's keys"


@check(
    "token.scope",
    order=80,
    title="Token scope includes offline_access",
    verifies="the granted scope includes what is required, including `offline_access`, and a "
    "refresh token was issued",
    depends=("token.claims",),
    guidance=("faq.postman.offline-access",),
)
def check_scope_includes_offline_access(run: Diagnosis) -> str:
    assert run.token is not None
    granted = granted_scopes(run.token.claims, run.token.granted_scope)
    run.facts["granted scope"] = " ".join(sorted(granted)) if granted else "unknown"
    judgement = judge_scope(
        granted,
        requested=run.settings.scope,
        refresh_token_issued=run.token.refresh_token_issued,
    )
    if judgement is not None:
        report(judgement)
    return f"Granted: {' '.join(sorted(granted))}; a refresh token is available."
