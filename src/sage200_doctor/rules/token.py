"""Sage ID's answers and tokens: the token endpoint's errors, a JWT's claims, the granted scope.

Judged from what the token endpoint answered (OAuth `error` codes) and what the token says
(`exp`, `aud`, `iss`, `scope`). Claims are read without verifying the signature here; the live
check verifies it against the identity server's keys, a recorded capture cannot, and says so.
"""

from __future__ import annotations

from typing import Any

from sage200_doctor.http import oauth
from sage200_doctor.http.sage import status_meaning
from sage200_doctor.rules import Judgement

CREDENTIALS = ("guide.auth.credentials",)
RECONSENT = ("guide.auth.reconsent",)
ACCESS = ("faq.errors.401",)
OFFLINE = ("faq.postman.offline-access",)
RETIRED_SIGN_ON_HOST = "signon.sso.services.sage.com"
EXPIRY_WARNING_S = 300


def judge_token_error(error: oauth.TokenError) -> Judgement:
    """What the token endpoint's refusal of a refresh grant means."""
    check = "token.refresh"
    said = f"HTTP {error.status}" + (f" {error.error}" if error.error else "")
    if error.description:
        said += f": {error.description}"
    if error.unusable is not None:
        return judge_unusable_grant(error.unusable)
    if error.error == "invalid_grant":
        return Judgement(
            check,
            "failed",
            "The refresh token was refused (invalid_grant): it has expired or was revoked.",
            f"{said}. Sign in again (sage200-doctor login) to get a new refresh token. If "
            "another run or job shares this credential and Sage ID rotates refresh tokens, it "
            "may have used and replaced this one (see docs/ci.md).",
            RECONSENT,
        )
    if error.error == "unauthorized_client":
        return Judgement(
            check,
            "failed",
            "This client is not allowed to use the refresh-token grant (unauthorized_client).",
            f"{said}. Ask Developer Services to enable refresh tokens for the client id.",
            CREDENTIALS,
        )
    if error.error == "invalid_client":
        return Judgement(
            check,
            "failed",
            "Sage ID rejected the client credentials (invalid_client).",
            f"{said}. Check the client id and secret against the credentials Developer "
            "Services issued (development and production credentials differ).",
            CREDENTIALS,
        )
    if error.error is None:
        body = error.description
        if body == "a JSON body":
            body = "JSON that is not an OAuth answer (neither access_token nor error)"
        return Judgement(
            check,
            "failed",
            f"The token endpoint answered HTTP {error.status} with {body}, not the OAuth JSON "
            "Sage ID answers with.",
            status_meaning(error.status)
            or "A proxy, firewall or wrong SAGE200_TOKEN_URL is the usual cause.",
            ("guide.network", *CREDENTIALS),
        )
    return Judgement(
        check, "failed", f"The token endpoint refused the refresh ({said}).", "", CREDENTIALS
    )


def judge_unusable_grant(which: str) -> Judgement:
    """A 200 whose access or refresh token is no token (RFC 6749: printable ASCII only)."""
    rotated = (
        " If Sage ID rotates refresh tokens, the configured one may have been used up by this "
        "request: if the next run is refused with invalid_grant, sign in again (sage200-doctor "
        "login)."
        if which == "refresh_token"
        else ""
    )
    return Judgement(
        "token.refresh",
        "failed",
        f"The token endpoint answered HTTP 200 with a {which} that is not a token: it holds "
        "characters no OAuth token may have (only printable ASCII is allowed).",
        "Nothing from this answer was used or saved, and the configured refresh token was left "
        f"as it is.{rotated} Something between sage200-doctor and Sage ID (a proxy rewriting "
        "answers) or a wrong SAGE200_TOKEN_URL is the usual cause.",
        ("guide.network", *CREDENTIALS),
    )


def judge_expiry(left: float | None, *, fix: str) -> Judgement | None:
    """An access token past its `exp` (beyond the clock-skew allowance)."""
    if left is None or left >= -oauth.CLOCK_SKEW_S:
        return None
    return Judgement(
        "token.claims",
        "failed",
        f"The access token expired {oauth.describe_duration(left)} ago.",
        f"The API answers 401 to expired tokens. Get a new token; better, {fix}.",
        ACCESS,
    )


def judge_audience(claims: dict[str, Any], expected: str) -> Judgement | None:
    audiences = oauth.audiences(claims)
    if expected in audiences:
        return None
    return Judgement(
        "token.claims",
        "failed",
        f"The token is for {', '.join(audiences) or 'no audience'}, not {expected}.",
        f"Request the token with audience={expected} (production). Tokens for another audience "
        "(for example the shadow environment's) are refused.",
        ACCESS,
    )


def judge_issuer(issuer: str, expected: str, summary: str) -> Judgement | None:
    if RETIRED_SIGN_ON_HOST in issuer:
        return Judgement(
            "token.claims",
            "failed",
            "The token comes from the Sage ID sign-on method retired in February 2021.",
            "",
            (*ACCESS, *RECONSENT),
        )
    if issuer and issuer != expected:
        return Judgement(
            "token.claims",
            "warning",
            f"{summary} The issuer is not {expected}, the host SAGE200_TOKEN_URL points at.",
            "Tokens from one Sage ID environment are not accepted by another.",
            ACCESS,
        )
    return None


def judge_near_expiry(left: float | None) -> Judgement | None:
    if left is None or left >= EXPIRY_WARNING_S or left < -oauth.CLOCK_SKEW_S:
        return None
    return Judgement(
        "token.claims",
        "warning",
        f"The token expires in {oauth.describe_duration(left)}: requests may start failing.",
        "",
        ACCESS,
    )


def granted_scopes(claims: dict[str, Any], granted: str | None) -> set[str]:
    """The scope as the token response said it, else as the token's claims say it."""
    if granted:
        return set(granted.split())
    scope = claims.get("scope")
    if isinstance(scope, str):
        return set(scope.split())
    scp = claims.get("scp")
    return {str(item) for item in scp} if isinstance(scp, list) else set()


def judge_scope(
    granted: set[str], *, requested: str | None, refresh_token_issued: bool | None
) -> Judgement | None:
    """offline_access asked for, granted, and a refresh token issued (FAQ: without it none)."""
    check = "token.scope"
    if requested is not None and "offline_access" not in requested.split():
        return Judgement(
            check,
            "failed",
            "SAGE200_SCOPE does not ask for offline_access, so Sage ID issues no refresh token.",
            f"requested: {requested}. Add offline_access and sign in again.",
            OFFLINE,
        )
    if granted and "offline_access" not in granted:
        return Judgement(
            check,
            "failed",
            "The token was granted without offline_access, so no refresh token was issued.",
            f"granted scopes: {' '.join(sorted(granted))}. Sign in again asking for "
            "offline_access (sage200-doctor login); without it you must sign in every hour.",
            OFFLINE,
        )
    if not granted:
        return Judgement(
            check,
            "warning",
            "The granted scope cannot be read from the token or its response.",
            "",
            OFFLINE,
        )
    if refresh_token_issued is False:
        return Judgement(
            check,
            "failed",
            "Sage ID issued no refresh token although offline_access was granted.",
            "",
            OFFLINE,
        )
    return None
