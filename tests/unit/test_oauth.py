"""Token answers and local JWT inspection."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from sage200_doctor.http import oauth
from sage200_doctor.http.odata import equals, quote_string
from sage200_doctor.http.session import Answer


def _answer(status: int, body: object) -> Answer:
    response = httpx.Response(status, json=body)
    return Answer(
        url="https://id.test/oauth/token",
        status=status,
        headers=dict(response.headers),
        text=response.text,
    )


def test_a_token_answer_is_parsed() -> None:
    grant = oauth.parse_token_answer(
        _answer(
            200,
            {
                "access_token": "a" * 20,
                "refresh_token": "r" * 20,
                "scope": "openid offline_access",
                "expires_in": 3600,
            },
        )
    )
    assert isinstance(grant, oauth.TokenGrant)
    assert (grant.refresh_token, grant.scope, grant.expires_in) == (
        "r" * 20,
        "openid offline_access",
        3600,
    )


@pytest.mark.parametrize("code", ["invalid_client", "invalid_grant", "unauthorized_client"])
def test_oauth_errors_keep_their_code(code: str) -> None:
    error = oauth.parse_token_answer(_answer(403, {"error": code, "error_description": "no"}))
    assert isinstance(error, oauth.TokenError)
    assert error.error == code


def test_a_non_json_answer_is_said_so() -> None:
    answer = Answer(
        url="u", status=502, headers={"content-type": "text/html"}, text="<html>Bad gateway</html>"
    )
    error = oauth.parse_token_answer(answer)
    assert isinstance(error, oauth.TokenError)
    assert error.error is None
    assert "HTML" in error.description


def test_an_opaque_token_is_not_a_jwt() -> None:
    with pytest.raises(oauth.NotAJwt):
        oauth.peek_claims("d5f1a0c2b3e4opaque-legacy-token")


def test_signature_verification_against_jwks() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(
        {"exp": time.time() + 60, "aud": "s200ukipd/sage200"},
        key,
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"kid": "k1"}
    wrong = jwt.algorithms.RSAAlgorithm.to_jwk(other.public_key(), as_dict=True) | {"kid": "k1"}
    assert oauth.verify_signature(token, {"keys": [jwk]}) is None
    assert oauth.verify_signature(token, {"keys": [wrong]}) is not None
    claims = oauth.peek_claims(token)
    assert oauth.audiences(claims) == ["s200ukipd/sage200"]
    left = oauth.seconds_left(claims)
    assert left is not None
    assert 0 < left <= 60


def test_issuer_is_the_token_hosts_origin() -> None:
    assert oauth.expected_issuer("https://id.sage.com/oauth/token") == "https://id.sage.com/"


def test_odata_strings_double_their_apostrophes() -> None:
    assert quote_string("O'Brien") == "'O''Brien'"
    assert equals("reference", "A1D001") == "reference eq 'A1D001'"
