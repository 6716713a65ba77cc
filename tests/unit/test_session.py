"""The HTTP seam: no exceptions for network trouble, bounded 429 waits, capped bodies, evidence."""

from __future__ import annotations

import httpx
import pytest

from sage200_doctor.http import session as session_module
from sage200_doctor.http.network import classify
from sage200_doctor.http.session import Session, build_client
from sage200_doctor.redact import Redactor


def _session(handler: object, slept: list[float] | None = None) -> Session:
    client = build_client(timeout_s=2, ca_bundle=None, transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    sleeps = slept if slept is not None else []
    return Session(client, Redactor(), sleep=sleeps.append)


def test_a_429_is_waited_out_as_asked_then_retried() -> None:
    answers = iter(
        [httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200, json=[1])]
    )
    slept: list[float] = []
    answer = _session(lambda request: next(answers), slept).request("GET", "https://api.test/x")
    assert answer.status == 200
    assert answer.retries == 1
    assert slept == [2.0]


def test_429_waits_are_bounded_in_count_and_total() -> None:
    slept: list[float] = []
    session = _session(lambda request: httpx.Response(429, headers={"Retry-After": "60"}), slept)
    answer = session.request("GET", "https://api.test/x")
    assert answer.status == 429
    assert len(slept) <= session_module.MAX_RETRIES
    assert sum(slept) <= session_module.RETRY_BUDGET_S
    assert all(wait <= session_module.MAX_RETRY_AFTER_S for wait in slept)


def test_token_requests_are_never_retried() -> None:
    slept: list[float] = []
    session = _session(lambda request: httpx.Response(429, headers={"Retry-After": "1"}), slept)
    assert (
        session.request("POST", "https://id.test/oauth/token", retry_rate_limit=False).status == 429
    )
    assert slept == []


def test_a_huge_body_is_read_capped_and_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "MAX_BODY_BYTES", 1000)
    answer = _session(
        lambda request: httpx.Response(200, content=b"[" + b"1," * 5000 + b"1]")
    ).request("GET", "https://api.test/x")
    assert answer.truncated
    assert answer.json is None
    assert "cut short" in answer.describe_body()


def test_an_html_error_page_is_described_not_parsed() -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    answer = _session(
        lambda request: httpx.Response(502, text=page, headers={"content-type": "text/html"})
    ).request("GET", "https://api.test/x")
    assert answer.json is None
    assert "HTML page" in answer.describe_body()


def test_a_connection_error_becomes_a_named_problem_and_evidence() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    session = _session(refuse)
    answer = session.request("GET", "https://api.test/x")
    assert answer.status is None
    assert answer.problem is not None
    assert answer.problem.kind == "refused"
    evidence = session.take_exchanges()
    assert evidence[0].error is not None
    assert session.take_exchanges() == []


def test_redirects_are_not_followed() -> None:
    answer = _session(
        lambda request: httpx.Response(302, headers={"Location": "https://elsewhere.test/"})
    ).request("GET", "https://api.test/x")
    assert answer.status == 302


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ConnectError("[Errno -2] Name or service not known"), "dns"),
        (httpx.ConnectTimeout("timed out"), "connect-timeout"),
        (httpx.ReadTimeout("timed out"), "read-timeout"),
        (
            httpx.ConnectError(
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"
            ),
            "tls-untrusted",
        ),
        (httpx.ConnectError("certificate verify failed: certificate has expired"), "tls-expired"),
        (
            httpx.ConnectError(
                "certificate verify failed: Hostname mismatch, certificate is not valid for 'x'"
            ),
            "tls-hostname",
        ),
        (
            httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            ),
            "reset",
        ),
        (httpx.ProxyError("407 Proxy Authentication Required"), "proxy"),
    ],
)
def test_network_errors_are_classified(error: httpx.HTTPError, kind: str) -> None:
    assert classify(error, "api.test").kind == kind


def test_evidence_masks_secrets_in_headers_and_form_fields() -> None:
    redactor = Redactor()
    redactor.add("refresh_token", "refresh-canary-123456")
    client = build_client(
        timeout_s=2,
        ca_bundle=None,
        transport=httpx.MockTransport(
            lambda r: httpx.Response(200, json={"access_token": "minted-canary-999999"})
        ),
    )
    session = Session(client, redactor)
    session.request(
        "POST",
        "https://id.test/oauth/token",
        headers={"Authorization": "Basic abcdefghijklmnopqrstu"},
        form={"grant_type": "refresh_token", "refresh_token": "refresh-canary-123456"},
    )
    exchange = session.take_exchanges()[0]
    text = repr(exchange)
    assert "refresh-canary-123456" not in text
    assert "minted-canary-999999" not in text
    assert "abcdefghijklmnopqrstu" not in text
