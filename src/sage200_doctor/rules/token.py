"""Sage ID's answers and tokens: the token endpoint's errors, a JWT's claims, the granted scope.

Judged from what the token endpoint answered (OAuth `error` codes) and what the token says
(`exp`, `aud`, `iss`, `scope`). Claims are read without verifying the signature here; the live
check verifies it against the identity server's keys, a recorded capture cannot, and says so.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from typing import Any

from sage200_doctor.http import oauth
from sage200_doctor.http.answer import Answer
from sage200_doctor.http.sage import denial, status_meaning, status_phrase
from sage200_doctor.rules import Judgement

CREDENTIALS = ("guide.auth.credentials",)
RECONSENT = ("guide.auth.reconsent",)
ACCESS = ("faq.errors.401",)
OFFLINE = ("faq.postman.offline-access",)
RETIRED_SIGN_ON_HOST = "signon.sso.services.sage.com"
EXPIRY_WARNING_S = 300
SHARED_CREDENTIAL_HINT = (
    "If another run, CI job or machine uses the same refresh token and Sage ID rotates refresh "
    "tokens, whichever presents it first gets a new one and this one stops working: give each "
    "pipeline its own credential, or run them one at a time (docs/ci.md)."
)


def judge_token_error(error: oauth.TokenError, *, hint: str = "") -> Judgement:
    """What the token endpoint's refusal of a refresh grant means; `hint` adds what only a live
    run can know (a temporary file a killed run left beside the env file)."""
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
            f"{said}. Sign in again (sage200-doctor login) to get a new refresh token. "
            + SHARED_CREDENTIAL_HINT
            + hint,
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


def judge_expiry(left: float | None, *, fix: str, api: ApiClock | None = None) -> Judgement | None:
    """An access token past its `exp` (beyond the clock-skew allowance); `api`: what the API
    said when asked (it refused the token, or its clock agrees), quoted as confirmation."""
    if left is None or left >= -oauth.CLOCK_SKEW_S:
        return None
    agrees = f"The API agrees: GET sites with the token answered {api.said}. " if api else ""
    return Judgement(
        "token.claims",
        "failed",
        f"The access token expired {oauth.describe_duration(left)} ago.",
        f"{agrees}The API answers 401 to expired tokens. Get a new token; better, {fix}.",
        ACCESS,
    )


CLOCK = ("guide.clock",)


@dataclass(frozen=True)
class ApiClock:
    """What the API said about a token the local clock calls expired: whether it accepted it
    (None: its answer does not say), and the time by its clock (its `Date` header)."""

    accepted: bool | None
    date: float | None
    said: str

    @classmethod
    def of(cls, answer: Answer) -> ApiClock:
        """From the answer to one GET sites with the token (and the subscription key)."""
        refused = answer.status == 401 and denial(answer).layer == "api"
        accepted = True if answer.ok else (False if refused else None)
        return cls(accepted, http_date(answer.headers.get("date", "")), status_phrase(answer))


def http_date(value: str) -> float | None:
    """An HTTP `Date` header as epoch seconds; None when there is none or it is no date."""
    try:
        moment = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        return None  # RFC 9110 dates are GMT; one without a zone is not an HTTP date
    return moment.timestamp()


def judge_clock(
    exp: float,
    *,
    local_now: float,
    api: ApiClock,
    whose: str = "This machine's",
    asked: str = "GET sites",
) -> Judgement | None:
    """The local clock says the token has expired: a warning about the clock when the API
    accepted the token or its clock says the token is still valid, else None (it expired).
    `whose`: the clock that said so (this machine's, or the one that made a capture);
    `asked`: the request the API answered with the token."""
    left_by_api = exp - api.date if api.date is not None else None
    valid_by_api = left_by_api is not None and left_by_api >= -oauth.CLOCK_SKEW_S
    if not (api.accepted or valid_by_api):
        return None
    expired_for = oauth.describe_duration(local_now - exp)
    said = "accepted it" if api.accepted else "did not, and its clock says it is still valid"
    if api.date is None:
        summary = (
            f"{whose} clock looks wrong: by it the access token expired {expired_for} "
            f"ago, but the API {said}."
        )
        measured = "The API's answer carried no Date header, so the skew cannot be measured."
    else:
        skew = local_now - api.date
        summary = (
            f"{whose} clock is {round(skew)} s ({oauth.describe_duration(skew)}) ahead of "
            f"the API's: by it the access token expired {expired_for} ago, but the API {said}."
        )
        left = oauth.describe_duration(left_by_api or 0.0)
        date = email.utils.formatdate(api.date, usegmt=True)
        measured = f"By the API's clock (its Date header: {date}) the token has {left} left."
    return Judgement(
        "token.claims",
        "warning",
        summary,
        f"{asked} with the token answered {api.said}. {measured} Tokens are judged by Sage's "
        "clocks, so the token is fine; but a wrong clock makes tokens look expired to software "
        "that checks them locally (and certificates look expired or not yet valid). Set this "
        "machine's clock right: switch on time synchronisation (NTP; on Windows, w32time).",
        CLOCK,
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


def judge_not_a_jwt(problem: oauth.NotAJwt) -> Judgement:
    """An access token that is not a JWT (the API refuses those)."""
    return Judgement(
        "token.claims",
        "failed",
        "The access token is not a JWT, so the API will refuse it.",
        f"{problem}. Opaque tokens came from the Sage ID sign-on method retired in "
        "February 2021; sign in with the current method (sage200-doctor login).",
        (*ACCESS, *RECONSENT),
    )


def judge_issuer(
    issuer: str,
    expected: str,
    summary: str,
    *,
    expected_from: str = "the host SAGE200_TOKEN_URL points at",
) -> Judgement | None:
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
            f"{summary} The issuer is not {expected}, {expected_from}.",
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
    granted: set[str],
    *,
    requested: str | None,
    refresh_token_issued: bool | None,
    requested_by: str = "SAGE200_SCOPE",
) -> Judgement | None:
    """offline_access asked for, granted, and a refresh token issued (FAQ: without it none).
    `requested_by`: what asked for the `requested` scope, for the sentence."""
    check = "token.scope"
    if requested is not None and "offline_access" not in requested.split():
        return Judgement(
            check,
            "failed",
            f"{requested_by} does not ask for offline_access, so Sage ID issues no refresh token.",
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
