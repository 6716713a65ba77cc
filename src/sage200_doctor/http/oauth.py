"""The client side of Sage ID: the refresh grant, token answers, and local JWT inspection."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlsplit

from sage200_doctor.http.session import Answer, Session

CLOCK_SKEW_S = 60
"""Tolerance for a clock that is a little off; more than this and the token is really expired."""


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
        expires_in = body.get("expires_in")
        return TokenGrant(
            access_token=body["access_token"],
            refresh_token=refresh_token if isinstance(refresh_token, str) else None,
            scope=body["scope"] if isinstance(body.get("scope"), str) else None,
            expires_in=int(expires_in) if isinstance(expires_in, int | float) else None,
        )
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        description = body.get("error_description")
        return TokenError(answer.status, body["error"], str(description or ""))
    return TokenError(answer.status, None, answer.describe_body())


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
    except jwt.PyJWTError as error:
        raise NotAJwt(f"the token could not be decoded as a JWT ({type(error).__name__})") from None
    if not isinstance(claims, dict):
        raise NotAJwt("the token's payload is not a JSON object")
    claims.setdefault("__alg__", header.get("alg"))
    return claims


def verify_signature(token: str, jwks: dict[str, Any]) -> str | None:
    """Check the signature against the identity server's keys. None when it verifies."""
    import jwt

    try:
        header = jwt.get_unverified_header(token)
        keys = jwt.PyJWKSet.from_dict(jwks)
        matching = [key for key in keys.keys if key.key_id == header.get("kid")] or keys.keys[:1]
        if not matching:
            return "the identity server publishes no signing keys"
        jwt.decode(
            token,
            key=matching[0].key,
            algorithms=[header.get("alg", "RS256")],
            options={"verify_aud": False, "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as error:
        return f"the signature does not verify against the identity server's keys ({type(error).__name__})"
    return None


def expected_issuer(token_url: str) -> str:
    """Sage ID's issuer is the token host's origin with a trailing slash (https://id.sage.com/)."""
    parts = urlsplit(token_url)
    return f"{parts.scheme}://{parts.netloc}/"


def seconds_left(claims: dict[str, Any], *, now: float | None = None) -> float | None:
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        return None
    return float(exp) - (time.time() if now is None else now)


def audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [str(item) for item in aud]
    return []


def describe_duration(seconds: float) -> str:
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
