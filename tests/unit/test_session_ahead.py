"""Requests sent ahead: answered once, claimed by the exact same GET, never anything but GET."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from sage200_doctor.http.session import Session, build_client
from sage200_doctor.redact import Redactor

URL = "https://api.test/uk/sage200extra/accounts/v1/customers"


def _session(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    concurrency: int = 4,
    redactor: Redactor | None = None,
) -> Session:
    transport = httpx.MockTransport(handler)
    client = build_client(timeout_s=5, ca_bundle=None, transport=transport)
    return Session(client, redactor or Redactor(), sleep=lambda _: None, concurrency=concurrency)


class Counting:
    """A server that counts what it is asked, by method and URL."""

    def __init__(self, status: int = 200) -> None:
        self.seen: list[tuple[str, str]] = []
        self.status = status
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.seen.append((request.method, str(request.url)))
        return httpx.Response(self.status, json=[{"id": len(self.seen)}])


def test_a_get_sent_ahead_is_sent_once_and_recorded_when_asked_for() -> None:
    server = Counting()
    session = _session(server)
    assert session.send_ahead(URL, params={"$top": "50"}, headers={"X-Site": "s"})
    answer = session.request("GET", URL, params={"$top": "50"}, headers={"X-Site": "s"})
    assert answer.ok
    assert len(server.seen) == 1
    assert session.request_count == 1
    [exchange] = session.take_exchanges()
    assert exchange.url.endswith("customers?$top=50")
    session.close()
    assert session.unused_ahead == []


def test_each_request_sent_ahead_answers_one_ask() -> None:
    server = Counting()
    session = _session(server)
    session.send_ahead(URL)
    session.send_ahead(URL)
    first = session.request("GET", URL)
    second = session.request("GET", URL)
    third = session.request("GET", URL)
    assert len(server.seen) == 3
    assert {first.json[0]["id"], second.json[0]["id"]} == {1, 2}
    assert third.json == [{"id": 3}]


def sent(server: Counting, count: int) -> None:
    """Wait until `count` requests reached the server (requests sent ahead leave on their own
    thread; one still queued at close() is withdrawn, not listed)."""
    deadline = time.monotonic() + 10
    while len(server.seen) < count and time.monotonic() < deadline:
        time.sleep(0.005)


def test_a_different_header_is_a_different_request() -> None:
    server = Counting()
    session = _session(server)
    session.send_ahead(URL, headers={"X-Company": "1"})
    session.request("GET", URL, headers={"X-Company": "2"})
    sent(server, 2)
    assert len(server.seen) == 2
    session.close()
    assert session.unused_ahead == [f"GET {URL}"]


def test_requests_sent_ahead_are_in_flight_together() -> None:
    # Every request waits until three have arrived: sent one at a time, the first would time
    # out at the barrier and come back as a problem instead of 200.
    barrier = threading.Barrier(3, timeout=5)

    def handler(request: httpx.Request) -> httpx.Response:
        barrier.wait()
        return httpx.Response(200, json=[])

    session = _session(handler)
    for top in ("1", "2", "3"):
        session.send_ahead(URL, params={"$top": top})
    answers = [session.request("GET", URL, params={"$top": top}) for top in ("1", "2", "3")]
    assert [answer.status for answer in answers] == [200, 200, 200]


def test_one_at_a_time_sends_nothing_ahead() -> None:
    server = Counting()
    session = _session(server, concurrency=1)
    assert not session.send_ahead(URL)
    assert server.seen == []
    session.request("GET", URL)
    assert len(server.seen) == 1


def test_a_429_answer_sent_ahead_is_retried_afresh() -> None:
    answers = iter(
        [httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200, json=[7])]
    )
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return next(answers)

    session = _session(handler)
    session.send_ahead(URL)
    answer = session.request("GET", URL)
    assert (answer.status, answer.retries, answer.json) == (200, 1, [7])
    assert len(seen) == 2
    assert len(session.take_exchanges()) == 2


def test_posts_are_never_answered_from_a_get_sent_ahead() -> None:
    server = Counting()
    session = _session(server)
    session.send_ahead(URL)
    sent(server, 1)
    session.request("POST", URL, form={"grant_type": "refresh_token"})
    assert [method for method, _ in server.seen] == ["GET", "POST"]


def test_unused_requests_are_listed_redacted() -> None:
    redactor = Redactor()
    redactor.add("access_token", "canary-ahead-secret-123")
    server = Counting()
    session = _session(server, redactor=redactor)
    session.send_ahead(URL, params={"$filter": "reference eq 'canary-ahead-secret-123'"})
    sent(server, 1)
    session.close()
    [unused] = session.unused_ahead
    assert unused.startswith("GET ")
    assert "canary-ahead-secret-123" not in unused
    assert "canary-ahead-secret" not in unused.replace("%20", " ")


def test_closing_does_not_wait_for_an_unused_request() -> None:
    # An unused request to a hanging server must not hold the verdict up for a timeout.
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        entered.set()
        release.wait(10)
        finished.set()
        return httpx.Response(200)

    session = _session(handler)
    session.send_ahead(URL)
    assert entered.wait(5)
    session.close()
    assert not finished.is_set(), "close() waited for an answer nobody needed"
    release.set()
