"""RS256 signing key, JWKS, and minting/verifying the emulator's JWTs.

The RSA key is generated once per process and cached: generating one per emulator would make
per-scenario servers slow to start. It is process state, not app state, but it holds nothing
scenario-specific and every emulator in a process may share it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import threading
import time
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from .seed import USER_SUB

IDENTITY_CLAIM = "https://sage.com/sci/identity_ids"


_KEY_LOCK = threading.Lock()


@functools.cache
def signing_key() -> rsa.RSAPrivateKey:
    # functools.cache does not stop two threads from each making a key; emulators started in
    # parallel would then sign with a key their JWKS does not serve. One key per process.
    with _KEY_LOCK:
        return _generate_key()


@functools.cache
def _generate_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def public_jwk() -> dict[str, Any]:
    """The public key as a JWK, with an RFC 7638 thumbprint as its kid."""
    jwk: dict[str, Any] = dict(RSAAlgorithm.to_jwk(signing_key().public_key(), as_dict=True))
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    jwk.update(kid=base64.urlsafe_b64encode(digest).rstrip(b"=").decode(), use="sig", alg="RS256")
    return jwk


def key_id() -> str:
    return str(public_jwk()["kid"])


def mint_access_token(
    *,
    issuer: str,
    audience: str,
    client_id: str,
    scope: tuple[str, ...],
    lifetime_s: int,
    issued_at: float | None = None,
) -> str:
    now = int(time.time() if issued_at is None else issued_at)
    audiences = [audience] + ([f"{issuer}userinfo"] if "openid" in scope else [])
    claims = {
        "iss": issuer,
        "sub": USER_SUB,
        "aud": audiences,
        "iat": now,
        "exp": now + lifetime_s,
        "scope": " ".join(scope),
        "azp": client_id,
        IDENTITY_CLAIM: [USER_SUB.removeprefix("auth0|")],
    }
    return _sign(claims)


def mint_id_token(
    *, issuer: str, client_id: str, email: str, nonce: str | None, lifetime_s: int
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": issuer,
        "sub": USER_SUB,
        "aud": client_id,
        "iat": now,
        "exp": now + lifetime_s,
        "email": email,
        "email_verified": True,
        "name": "API User",
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return _sign(claims)


def verify_access_token(
    token: str, *, issuer: str, audience: str, now: float | None = None
) -> Mapping[str, Any] | None:
    """The claims of a valid token, or None; expiry is checked with no leeway, at `now` (the
    services' clock; default the machine's)."""
    try:
        if jwt.get_unverified_header(token).get("kid") != key_id():
            return None
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key().public_key(),
            algorithms=["RS256"],
            audience=audience,
            issuer=issuer,
            leeway=0,
            options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_exp": False},
        )
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= (time.time() if now is None else now):
        return None
    return claims


def _sign(claims: Mapping[str, object]) -> str:
    return jwt.encode(dict(claims), signing_key(), algorithm="RS256", headers={"kid": key_id()})
