"""Redaction: by name, by known value and its encodings, by credential shape; failing closed."""

from __future__ import annotations

import base64
import html
import json
import logging
from urllib.parse import quote, quote_plus, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sage200_doctor.redact import (
    DROPPED,
    MASK,
    QUIET_LOGGERS,
    RedactingFilter,
    Redactor,
    is_secret_name,
    quiet_http_loggers,
)

SECRET = 'S3cr3t/with+odd=chars&"quote"\\é'
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlLWNhbmFyeQ"


class FakeSecret:
    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return "**********"


def redactor() -> Redactor:
    r = Redactor()
    r.add("client_secret", FakeSecret(SECRET))
    r.add("access_token", TOKEN)
    r.add_basic_credentials("my-client", FakeSecret(SECRET))
    return r


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        quote(SECRET, safe=""),
        quote(SECRET),
        quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
        json.dumps(SECRET, ensure_ascii=False)[1:-1],
        html.escape(SECRET),
        base64.b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="),
        base64.b64encode(f"my-client:{SECRET}".encode()).decode(),
        base64.b64encode(f"my-client:{quote_plus(SECRET)}".encode()).decode(),
    ],
)
def test_known_values_are_masked_in_every_encoding(form: str) -> None:
    masked = redactor().text(f"before {form} after")
    assert form not in masked
    assert masked.startswith("before [redacted")
    assert masked.endswith("] after")


def test_masks_say_what_they_hid() -> None:
    assert redactor().text(f"x {SECRET} y") == "x [redacted:client_secret] y"
    pair = base64.b64encode(f"my-client:{SECRET}".encode()).decode()
    assert redactor().text(pair) == "[redacted:client_credentials]"


def test_a_token_learned_at_run_time_is_masked_from_then_on() -> None:
    r = Redactor()
    later = "refresh-token-learned-mid-run-0123456789"
    assert r.text(later) == later
    r.add("refresh_token", later)
    assert later not in r.text(f"body {later}")


def test_pasted_variants_of_a_value_are_masked() -> None:
    r = Redactor()
    r.add("access_token", f" “Bearer {TOKEN}” ")
    assert TOKEN not in r.text(f"token={TOKEN}")
    assert TOKEN not in r.text(TOKEN)


def test_short_and_non_string_values_are_ignored() -> None:
    r = Redactor()
    r.add("x", "abc")
    r.add("y", None)
    r.add("z", 12345678)
    assert r.text("abc 12345678") == "abc 12345678"
    assert r.secret_count == 0


def test_headers_masked_by_name_and_authorization_keeps_its_scheme() -> None:
    masked = redactor().headers(
        {
            "Authorization": f"Bearer {TOKEN}",
            "Ocp-Apim-Subscription-Key": "abcdef0123456789",
            "Cookie": "session=1",
            "X-CSRF-Token": "t",
            "x-api-key": "k",
            "Accept": "application/json",
            "X-Site": "6800e15c-6a18-4a3d-bc22-a09f89ac2d01",
        }
    )
    assert masked["Authorization"] == "Bearer [redacted]"
    for name in ("Ocp-Apim-Subscription-Key", "Cookie", "X-CSRF-Token", "x-api-key"):
        assert masked[name] == MASK
    assert masked["Accept"] == "application/json"
    assert masked["X-Site"] == "6800e15c-6a18-4a3d-bc22-a09f89ac2d01"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"Bearer{TOKEN}", "Bearer[redacted]"),  # the missing space stays visible
        (f"bearer  {TOKEN}", "bearer  [redacted]"),
        ("Basic bXktY2xpZW50OnNvbWUtb3RoZXItc2VjcmV0", "Basic [redacted]"),
        ("Token abcdefghijklmnopqrstuvwxyz", "Token [redacted]"),
    ],
)
def test_authorization_values(value: str, expected: str) -> None:
    assert Redactor().headers([("authorization", value)]) == {"authorization": expected}


def test_data_masks_fields_by_name_at_any_depth() -> None:
    data = {
        "access_token": "a",
        "refreshToken": "b",
        "nested": [{"client_secret": "c", "id_token": "d", "Authorization": f"Bearer {TOKEN}"}],
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "openid offline_access",
        "subscription key": "accepted",  # a capability fact's label, not a field name
        "error": {"code": "invalid_grant", "message": f"secret {SECRET} rejected"},
        "code": "SplxlOBeZQQYbYS6WxSbIA",
    }
    masked = redactor().data(data)
    assert masked["access_token"] == MASK
    assert masked["refreshToken"] == MASK
    assert masked["nested"][0]["client_secret"] == MASK
    assert masked["nested"][0]["id_token"] == MASK
    assert masked["nested"][0]["Authorization"] == "Bearer [redacted]"
    assert masked["token_type"] == "Bearer"
    assert masked["expires_in"] == 3600
    assert masked["scope"] == "openid offline_access"
    assert masked["subscription key"] == "accepted"
    assert masked["error"]["code"] == "invalid_grant"  # an error code stays readable
    assert masked["error"]["message"] == "secret [redacted:client_secret] rejected"
    assert masked["code"] == MASK  # an authorization code does not


def test_data_handles_every_json_like_type() -> None:
    r = redactor()
    assert r.data((1, 2.5, True, None)) == [1, 2.5, True, None]
    assert r.data(SECRET.encode()) == "[redacted:client_secret]"
    assert r.data({SECRET: 1}) == {"[redacted:client_secret]": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz", "/cb?code=[redacted]&state=xyz"),
        (
            "/cb?error=access_denied&code=invalid_grant",
            "/cb?error=access_denied&code=invalid_grant",
        ),
        (
            "grant_type=refresh_token&refresh_token=r1&client_secret=s1",
            "grant_type=refresh_token&refresh_token=[redacted]&client_secret=[redacted]",
        ),
        ("https://x.test/?subscription-key=abc123", "https://x.test/?subscription-key=[redacted]"),
        ("next=%2Fcb%3Fcode%3DSplxlOBeZQ%26x%3D1", "next=%2Fcb%3Fcode%3D[redacted]%26x%3D1"),
        ("SAGE200_CLIENT_SECRET=xyz and more", "SAGE200_CLIENT_SECRET=[redacted] and more"),
        ('{"access_token": "unparsed\\"value", "x"', '{"access_token": "[redacted]", "x"'),
        (f"sent Bearer {TOKEN[:30]} to the API", "sent Bearer [redacted] to the API"),
        (f"unknown jwt {TOKEN}.", "unknown jwt [redacted:jwt]."),
        ("bearer_scheme_case_sensitive=false", "bearer_scheme_case_sensitive=false"),
        ("the token_type is Bearer", "the token_type is Bearer"),
        # Words after the scheme are prose (a file or a scenario name), not a credential...
        ("caution-bearer-no-space-collection.json", "caution-bearer-no-space-collection.json"),
        ("scenario basic-auth-rejected-by-idp", "scenario basic-auth-rejected-by-idp"),
        # ...but a token that happens to start with letters is still masked.
        ("Bearer abcdefghijklmnop1", "Bearer [redacted]"),
        ("Bearer-abcdefghijklmnopQ", "Bearer[redacted]"),
    ],
)
def test_credential_shapes_are_masked_without_being_told(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


def test_text_is_idempotent_on_its_own_output() -> None:
    r = redactor()
    once = r.text(f"Authorization: Bearer {TOKEN} client_secret={SECRET}")
    assert r.text(once) == once


_ALPHABET = st.characters(codec="utf-8", exclude_characters="[]")


@settings(max_examples=150, deadline=None, database=None)
@given(
    secret=st.text(_ALPHABET, min_size=8, max_size=40).filter(lambda s: s.strip() == s),
    before=st.text(_ALPHABET, max_size=30),
    after=st.text(_ALPHABET, max_size=30),
)
def test_no_encoding_of_a_known_secret_survives(secret: str, before: str, after: str) -> None:
    r = Redactor()
    r.add("client_secret", secret)
    r.add_basic_credentials("client", secret)
    forms = [
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(f"client:{secret}".encode()).decode(),
    ]
    for form in forms:
        assert form not in r.text(before + form + after)
    body = urlencode({"client_secret": secret, "grant_type": "refresh_token"})
    assert quote_plus(secret) not in r.text(body)
    assert secret not in json.dumps(r.data({"note": f"{before}{secret}{after}"}))


def test_redaction_fails_closed() -> None:
    class Exploding(Redactor):
        def text(self, value: str) -> str:
            raise RuntimeError("boom")

    r = Exploding()
    assert r.safe_text(f"x {SECRET}") == DROPPED
    assert r.headers({"X-Thing": SECRET}) == {"X-Thing": DROPPED}
    assert r.data({"note": SECRET}) == {DROPPED: DROPPED}  # keys are masked too

    class Unprintable:
        def __str__(self) -> str:
            raise ValueError("no")

    assert Redactor().safe_data([Unprintable()]) == DROPPED


def test_is_secret_name() -> None:
    for name in ("access_token", "AccessToken", "X-CSRF-Token", "client-secret", "apiKey"):
        assert is_secret_name(name)
    for name in ("token_type", "expires_in", "scope", "subscription key", "X-Site"):
        assert not is_secret_name(name)


def test_logging_filter_masks_messages_and_drops_broken_records() -> None:
    r = redactor()
    log_filter = RedactingFilter(r)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sent %s", (SECRET,), None)
    assert log_filter.filter(record)
    assert record.getMessage() == "sent [redacted:client_secret]"
    broken = logging.LogRecord("x", logging.INFO, __file__, 1, "%d", ("not a number",), None)
    assert not log_filter.filter(broken)


def test_quiet_http_loggers(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in QUIET_LOGGERS:
        monkeypatch.setattr(logging.getLogger(name), "level", logging.DEBUG)
    monkeypatch.setattr(logging.getLogger("httpcore"), "level", logging.ERROR)
    quiet_http_loggers()
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.ERROR  # already quieter: kept


def test_a_text_masked_before_a_secret_was_learned_is_masked_again_after() -> None:
    # Short texts are remembered once masked; learning a secret must forget them.
    r = Redactor()
    later = "access-token-learned-mid-run-0123456789"
    assert r.text(later) == later
    r.add("access_token", later)
    assert later not in r.text(later)
