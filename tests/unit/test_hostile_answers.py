"""Hostile answers are data, never a crash: deep JSON, huge numbers, no-time times, no-token
tokens, key sets that cannot be used, URLs that cannot be requested, clients that cannot be built."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import httpx
import pytest

from sage200_doctor.commands.diff import DiffInputError, load_report
from sage200_doctor.http import oauth
from sage200_doctor.http.answer import MAX_JSON_DEPTH, Answer, JsonTooDeep, parse_json
from sage200_doctor.http.session import Session, build_client, client_problem
from sage200_doctor.redact import Redactor
from sage200_doctor.rules.token import judge_token_error

DEEP = "[" * 990 + "]" * 990
"""2 KB of JSON that Python's own parser reads, but that no recursive walk over it survives."""
DIGITS = "9" * 5000
"""More digits than Python converts to an int (4,300): json.loads raises ValueError."""


def _answer(status: int, text: str, content_type: str = "application/json") -> Answer:
    return Answer(
        url="https://id.test/x", status=status, headers={"content-type": content_type}, text=text
    )


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 990, 100_000])
def test_json_nested_past_the_limit_is_refused(depth: int) -> None:
    with pytest.raises(JsonTooDeep):
        parse_json("[" * depth + "]" * depth)
    assert parse_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (DEEP, f"malformed JSON (nested more than {MAX_JSON_DEPTH} levels deep)"),
        ('{"expires_in": ' + DIGITS + "}", "malformed JSON (a number with more digits"),
        ('{"a": [1, 2', "JSON that is cut short"),
    ],
)
def test_unreadable_json_is_no_json_and_says_why(text: str, said: str) -> None:
    answer = _answer(200, text)
    assert answer.json is None
    assert not answer.is_json
    assert answer.describe_body().startswith(said)


@pytest.mark.parametrize(
    "expires_in", ["1e999", "-1e999", "NaN", "Infinity", "1" + "0" * 400, "true"]
)
def test_a_lifetime_that_is_no_time_is_no_lifetime(expires_in: str) -> None:
    body = '{"access_token": "aaaa.bbbb.cccc", "expires_in": ' + expires_in + "}"
    grant = oauth.parse_token_answer(_answer(200, body))
    assert isinstance(grant, oauth.TokenGrant)
    assert grant.expires_in is None


def test_a_real_lifetime_is_kept() -> None:
    grant = oauth.parse_token_answer(
        _answer(200, '{"access_token": "a.b.c", "expires_in": 3599.9}')
    )
    assert isinstance(grant, oauth.TokenGrant)
    assert grant.expires_in == 3599


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("refresh_token", "\\ud800rotated"),  # a lone surrogate: no file can hold it as UTF-8
        ("refresh_token", "rotated\\u001b[31m"),
        ("refresh_token", "rotat\\u00e9d"),
        ("access_token", "\\udfffa.b.c"),
        ("access_token", ""),
    ],
)
def test_a_token_that_no_token_can_be_is_refused_unused(field: str, value: str) -> None:
    body = {"access_token": "a.b.c", "refresh_token": "r-1", field: "__VALUE__"}
    text = json.dumps(body).replace("__VALUE__", value)
    error = oauth.parse_token_answer(_answer(200, text))
    assert isinstance(error, oauth.TokenError)
    assert error.unusable == field
    judgement = judge_token_error(error)
    assert judgement.check == "token.refresh"
    assert judgement.outcome == "failed"
    assert f"a {field} that is not a token" in judgement.summary
    assert "Nothing from this answer was used or saved" in judgement.detail


def test_an_empty_refresh_token_is_none_issued() -> None:
    grant = oauth.parse_token_answer(_answer(200, '{"access_token": "a.b.c", "refresh_token": ""}'))
    assert isinstance(grant, oauth.TokenGrant)
    assert grant.refresh_token is None


def test_an_error_description_that_is_not_text_is_quoted_as_json() -> None:
    error = oauth.parse_token_answer(
        _answer(400, '{"error": "invalid_grant", "error_description": {"a": [1]}}')
    )
    assert isinstance(error, oauth.TokenError)
    assert error.description == '{"a": [1]}'


@pytest.mark.parametrize("exp", [float("nan"), float("inf"), 10**400, True, "soon"])
def test_an_expiry_that_is_no_time_means_no_expiry(exp: object) -> None:
    assert oauth.seconds_left({"exp": exp}) is None
    assert oauth.describe_duration(float("inf")) == "an unknown time"


def test_claims_nested_past_the_limit_are_not_a_jwt() -> None:
    pytest.importorskip("jwt")
    import jwt

    token = jwt.encode({"x": json.loads("[" * 100 + "]" * 100)}, "k" * 32, algorithm="HS256")
    with pytest.raises(oauth.NotAJwt, match="nested more than"):
        oauth.peek_claims(token)


@pytest.mark.parametrize(
    "jwks",
    [
        {"keys": "abc"},
        {"keys": [1, None]},
        {"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB"}]},
        {"keys": []},
        {},
    ],
)
def test_a_key_set_that_cannot_be_used_is_not_a_bad_signature(jwks: dict[str, object]) -> None:
    with pytest.raises(oauth.UnreadableKeys):
        oauth.verify_signature("aaaa.bbbb.cccc", jwks)


@pytest.mark.parametrize(
    "url",
    ["http://[::1/jwks", "http://127.0.0.1:abc/jwks", "http://\x00/jwks", "http://a b/\x7f"],
)
def test_a_url_that_cannot_be_requested_is_a_problem_not_an_exception(url: str) -> None:
    client = build_client(
        timeout_s=1, ca_bundle=None, transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    answer = Session(client, Redactor()).request("GET", url)
    assert answer.status is None
    assert answer.problem is not None
    assert answer.problem.kind in ("invalid-url", "other")


@pytest.mark.parametrize(
    ("error", "names"),
    [
        (ImportError("Using SOCKS proxy, but the 'socksio' package is not installed."), "socksio"),
        (httpx.InvalidURL("Invalid port: 'abc'"), "proxy variable"),
        (ValueError("Unknown scheme for proxy URL URL('ftp://u:pw@proxy')"), "proxy variable"),
        (ssl.SSLError(0, "no certificate or crl found"), "SAGE200_CA_BUNDLE"),
        (FileNotFoundError(2, "No such file"), "SAGE200_CA_BUNDLE"),
    ],
)
def test_a_client_that_cannot_be_built_is_a_problem_of_each_request(
    error: Exception, names: str
) -> None:
    def broken() -> httpx.Client:
        raise error

    session = Session(broken, Redactor())
    answer = session.request("GET", "https://api.test/sites")
    assert answer.problem is not None
    assert answer.problem.kind == "client"
    assert names in answer.problem.sentence
    assert "pw" not in answer.problem.sentence  # the exception's text (a proxy URL) is not quoted
    assert session.take_exchanges()[0].error == answer.problem.sentence
    assert client_problem(error).sentence == answer.problem.sentence


@pytest.mark.parametrize(
    "text",
    [
        '{"schema": "sage200-doctor/report@1", "checks": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"schema": "sage200-doctor/report@1", "checks": ' + DEEP + "}",
        '{"schema": "sage200-doctor/report@1", "checks": [], "n": ' + DIGITS + "}",
    ],
)
def test_diff_refuses_a_hostile_report_with_a_sentence(text: str, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DiffInputError, match=r"report\.json is not"):
        load_report(path)
