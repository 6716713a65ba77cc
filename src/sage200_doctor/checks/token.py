"""token.*: can a fresh access token be minted, is it the right token, with the right scope?"""

from __future__ import annotations

import time
from typing import Any

from sage200_doctor.config.rotation import keep_rotated_refresh_token
from sage200_doctor.config.settings import Secret
from sage200_doctor.engine.diagnosis import Diagnosis, TokenFacts
from sage200_doctor.engine.registry import check, fail, report, report_any, skip
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
    judge_scope,
    judge_token_error,
)


@check(
    "token.refresh",
    order=60,
    title="Refresh token mints an access token",
    verifies="a configured refresh token mints an access token with the configured client "
    "authentication (skipped when none is configured)",
    depends=("network.identity",),
    guidance=CREDENTIALS,
)
def check_refresh_token_mints_access_token(run: Diagnosis) -> str:
    settings = run.settings
    if not settings.refresh_token:
        skip("No refresh token is configured; the configured access token is used as it is.")
    method = settings.client_auth.strip().lower()
    result = _refresh(run, method)
    if isinstance(result, oauth.TokenError) and result.error == "invalid_client":
        _explain_invalid_client(run, method)
    if isinstance(result, oauth.TokenError):
        _explain_token_error(result)
    assert isinstance(result, oauth.TokenGrant)
    _adopt(run, result)
    lifetime = (
        f", valid for {oauth.describe_duration(result.expires_in)}" if result.expires_in else ""
    )
    rotated = f" {run.rotation.note}" if run.rotation else ""
    return f"Sage ID issued an access token with {method} client authentication{lifetime}.{rotated}"


def _refresh(run: Diagnosis, method: str) -> oauth.TokenGrant | oauth.TokenError:
    settings = run.settings
    assert settings.refresh_token is not None
    assert settings.client_id is not None
    # Critical: once the grant is sent, its answer may hold the only working refresh token
    # (rotation), so even a stopped run waits for it and saves it before ending.
    with run.control.critical():
        answer = oauth.refresh(
            run.session,
            token_url=settings.token_url.strip(),
            refresh_token=settings.refresh_token.reveal().strip(),
            client_id=settings.client_id.strip(),
            client_secret=(
                settings.client_secret.reveal().strip() if settings.client_secret else None
            ),
            method=method,
        )
        result = oauth.parse_token_answer(answer)
        if isinstance(result, oauth.TokenGrant):
            run.learn_secret("access_token", result.access_token)
            run.learn_secret("refresh_token", result.refresh_token)
            run.rotation = keep_rotated_refresh_token(
                run.settings, result.refresh_token, save_rotated=run.save_rotated
            )
    if answer.problem is not None:
        fail(
            f"The token endpoint could not be reached: {answer.problem.sentence}",
            guidance=("guide.network",),
        )
    return result


def _explain_invalid_client(run: Diagnosis, method: str) -> None:
    # One probe with the other client-authentication method (never a loop): it tells a wrong
    # secret apart from a secret sent the way this client is not set up to accept.
    other = "body" if method == "basic" else "basic"
    if run.settings.client_secret is None and other == "basic":
        fail(
            "Sage ID rejected the client (invalid_client): the client id is unknown or needs a secret.",
            detail="No SAGE200_CLIENT_SECRET is configured. Confidential (web) clients need one.",
        )
    probe = _refresh(run, other)
    if isinstance(probe, oauth.TokenGrant):
        fail(
            f"Sage ID rejects {method} client authentication for this client, but {other} works.",
            detail=f"Set SAGE200_CLIENT_AUTH={other}.",
        )
    fail(
        "Sage ID rejected the client credentials (invalid_client) with both basic and body "
        "authentication: the client id or client secret is wrong.",
        detail="Check SAGE200_CLIENT_ID and SAGE200_CLIENT_SECRET against the credentials "
        "Developer Services issued (development and production credentials differ).",
    )


def _explain_token_error(error: oauth.TokenError) -> None:
    report(judge_token_error(error))


def _adopt(run: Diagnosis, grant: oauth.TokenGrant) -> None:
    run.token = TokenFacts(
        access_token=Secret(grant.access_token),
        source="refresh",
        granted_scope=grant.scope,
        refresh_token_issued=grant.refresh_token is not None or bool(run.settings.refresh_token),
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
    token = run.token or _configured_token(run)
    run.token = token
    try:
        claims = oauth.peek_claims(token.access_token.reveal())
    except oauth.NotAJwt as problem:
        fail(
            "The access token is not a JWT, so the API will refuse it.",
            detail=f"{problem}. Opaque tokens came from the Sage ID sign-on method retired in "
            "February 2021; sign in with the current method (sage200-doctor login).",
            guidance=("faq.errors.401", *RECONSENT),
        )
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


def _configured_token(run: Diagnosis) -> TokenFacts:
    settings = run.settings
    if settings.access_token:
        return TokenFacts(
            access_token=Secret(settings.access_token.reveal().strip()), source="access_token"
        )
    assert settings.authorization is not None
    return TokenFacts(
        access_token=Secret(bare_token(settings.authorization.reveal())), source="authorization"
    )


def bare_token(header: str) -> str:
    """The token inside an Authorization value however it was mangled (spaces, quotes, schemes)."""
    text = header.strip()
    while text[:6].lower() == "bearer":
        text = text[6:].strip()
    return text.strip("\"'“”‘’ \r\n\t")


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
