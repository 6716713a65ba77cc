"""The client side of Sage ID: the refresh grant, token answers, and local JWT inspection."""

from __future__ import annotations

import base64
import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlsplit

from sage200_doctor.http.answer import MAX_JSON_DEPTH, within_depth
from sage200_doctor.http.session import Answer, Session

CLOCK_SKEW_S = 60
"""Tolerance for a clock that is a little off; more than this and the token is really expired."""
MAX_SECONDS = 10**11
"""About 3,000 years: a lifetime or an epoch time (`exp`) beyond it is not a time at all
(1e999, 10**400 and NaN are what hostile answers send)."""
_TOKEN_CHARACTERS = re.compile(r"[\x20-\x7e]+")
"""RFC 6749 appendix A.12/A.17: access and refresh tokens are 1*VSCHAR (printable ASCII)."""


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str | None
    scope: str | None
    expires_in: int | None


@dataclass(frozen=True)
class TokenError:
    status: int | None
    error: str | None
    description: str
    """`error` is the OAuth error code when the body was OAuth JSON, else None; then
    `description` says what the body was instead ("an HTML page titled …", "a JSON body")."""
    unusable: str | None = None
    """"access_token" or "refresh_token" when a 200 answer granted one that is no token (it
    holds characters RFC 6749 does not allow in one): nothing from it is used or saved."""


def basic_credentials(client_id: str, client_secret: str) -> str:
    """The HTTP Basic value for client authentication (RFC 6749 §2.3.1: form-encode, then join)."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def refresh(
    session: Session,
    *,
    token_url: str,
    refresh_token: str,
    client_id: str,
    client_secret: str | None,
    method: str,
) -> Answer:
    """One refresh grant (POST, the only write a run ever makes, and only to Sage ID)."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    headers: dict[str, str] = {"Content-Type": "application/x-www-form-urlencoded"}
    if method == "basic" and client_secret is not None:
        headers["Authorization"] = basic_credentials(client_id, client_secret)
    else:
        form["client_id"] = client_id
        if client_secret is not None:
            form["client_secret"] = client_secret
    return session.request("POST", token_url, headers=headers, form=form, retry_rate_limit=False)


def parse_token_answer(answer: Answer) -> TokenGrant | TokenError:
    body = answer.json
    if answer.ok and isinstance(body, dict) and isinstance(body.get("access_token"), str):
        refresh_token = body.get("refresh_token")
        refresh_token = refresh_token if isinstance(refresh_token, str) and refresh_token else None
        for name, value in (
            ("access_token", body["access_token"]),
            ("refresh_token", refresh_token),
        ):
            if value is not None and not is_token_text(value):
                return TokenError(answer.status, None, answer.describe_body(), unusable=name)
        lifetime = seconds_value(body.get("expires_in"))
        return TokenGrant(
            access_token=body["access_token"],
            refresh_token=refresh_token,
            scope=body["scope"] if isinstance(body.get("scope"), str) else None,
            expires_in=int(lifetime) if lifetime is not None else None,
        )
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        description = body.get("error_description")
        return TokenError(answer.status, body["error"], _text(description))
    return TokenError(answer.status, None, answer.describe_body())


def is_token_text(value: str) -> bool:
    """Whether `value` could be an OAuth token at all: printable ASCII, nothing else (no lone
    surrogate, control character or letter beyond ASCII a hostile answer might carry)."""
    return _TOKEN_CHARACTERS.fullmatch(value) is not None


def seconds_value(value: object) -> float | None:
    """A JSON number of seconds (`expires_in`, `exp`), or None when it is none: not a number,
    a boolean, NaN, infinite or beyond a century from zero."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) and abs(value) > MAX_SECONDS:
        return None  # before float(): float(10**400) overflows
    seconds = float(value)
    return seconds if math.isfinite(seconds) and abs(seconds) <= MAX_SECONDS else None


def _text(value: object) -> str:
    """A server's description as text: a string as it is, anything else (a number, a nested
    object) as its JSON, never as Python's repr of a structure."""
    if value is None or isinstance(value, str):
        return value or ""
    return compact_json(value)


class NotAJwt(ValueError):
    """The token is not a JSON Web Token (for example from the retired sign-on method)."""


def peek_claims(token: str) -> dict[str, Any]:
    """The claims without verifying the signature: enough to explain what is wrong."""
    if token.count(".") != 2:
        raise NotAJwt("the token does not have the three dot-separated parts of a JWT")
    import jwt  # here: pyjwt and cryptography take ~90 ms to import (warmup.py preloads them)

    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, RecursionError) as error:
        # ValueError: a number of more than 4,300 digits; RecursionError: nested hundreds deep.
        raise NotAJwt(f"the token could not be decoded as a JWT ({type(error).__name__})") from None
    if not isinstance(claims, dict):
        raise NotAJwt("the token's payload is not a JSON object")
    if not within_depth(claims, MAX_JSON_DEPTH):
        raise NotAJwt(f"the token's payload is nested more than {MAX_JSON_DEPTH} levels deep")
    claims.setdefault("__alg__", header.get("alg"))
    return claims


class UnreadableKeys(ValueError):
    """The identity server's published keys (JWKS) hold no key that can be used: a signature
    cannot be checked against them, which says nothing about the token."""


def verify_signature(token: str, jwks: dict[str, Any]) -> str | None:
    """Check the signature against the identity server's keys. None when it verifies;
    `UnreadableKeys` when the key set itself cannot be used."""
    import jwt

    try:
        keys = jwt.PyJWKSet.from_dict(jwks)
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise UnreadableKeys(
            f"the identity server's keys (JWKS) cannot be used ({type(error).__name__})"
        ) from None
    try:
        header = jwt.get_unverified_header(token)
        matching = [key for key in keys.keys if key.key_id == header.get("kid")] or keys.keys[:1]
        if not matching:
            raise UnreadableKeys("the identity server publishes no signing keys")
        jwt.decode(
            token,
            key=matching[0].key,
            algorithms=[str(header.get("alg", "RS256"))],
            options={"verify_aud": False, "verify_exp": False, "verify_iat": False},
        )
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        return f"the signature does not verify against the identity server's keys ({type(error).__name__})"
    return None


def expected_issuer(token_url: str) -> str:
    """Sage ID's issuer is the token host's origin with a trailing slash (https://id.sage.com/)."""
    parts = urlsplit(token_url)
    return f"{parts.scheme}://{parts.netloc}/"


CLOCK_SKEW_KEY = "__clock_skew_s__"
"""Set in a token's claims when the API's clock is known to differ from this machine's (this
machine minus the API, in seconds): `seconds_left` then counts by the API's clock."""


def seconds_left(claims: dict[str, Any], *, now: float | None = None) -> float | None:
    """Seconds until `exp` by this machine's clock (or `now`), corrected by a known skew from
    the API's clock; None when `exp` is no time."""
    exp = seconds_value(claims.get("exp"))
    if exp is None:
        return None
    skew = seconds_value(claims.get(CLOCK_SKEW_KEY)) or 0.0
    return exp - ((time.time() if now is None else now) - skew)


def audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [str(item) for item in aud]
    return []


def describe_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "an unknown time"
    seconds = abs(seconds)
    if seconds < 120:
        return f"{int(seconds)} s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def discovery_document(answer: Answer) -> dict[str, Any] | None:
    body = answer.json
    return body if answer.ok and isinstance(body, dict) else None


def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
