"""The client's one seam to the network: every request goes through `Session.request`.

It never raises for network trouble (a missing answer is data: `Answer.problem`), reads bodies
streamed and capped, gives every request a wall-clock deadline, waits out 429 answers within a
bounded budget, stops when the run is stopped, and records every exchange, redacted, as evidence
for the check that made it.

Requests that do not need each other's answers can go out at once: `send_ahead` starts a GET on a
lane of worker threads, and the `request` that later asks for exactly the same GET (same URL, same
headers) takes its answer instead of sending it again. Checks still ask, judge and record in
order; only the waiting overlaps. Nothing but GET is ever sent ahead. Whenever an answer arrives
while the run waits, `before_waiting` is asked again, so a request built from that answer leaves
at once rather than at the next check.
"""

from __future__ import annotations

import email.utils
import json
import math
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent import futures
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import certifi
import httpx

from sage200_doctor import __version__
from sage200_doctor.engine.control import RunControl
from sage200_doctor.engine.results import Exchange
from sage200_doctor.http.answer import MAX_BODY_BYTES, Answer
from sage200_doctor.http.lanes import Flight, Lane, start_alone
from sage200_doctor.http.network import NetworkProblem, classify, host_of, proxy_for
from sage200_doctor.redact import Redactor, cut

__all__ = ["Answer", "Session", "body_excerpt", "build_client", "tls_context"]

EXCERPT_CHARS = 2_000
MAX_RETRY_AFTER_S = 5.0
RETRY_BUDGET_S = 12.0
MAX_RETRIES = 3
RUN_RETRY_BUDGET_S = 30.0
"""The most one run waits for rate limits in all, however many requests are limited."""
RUN_BUDGET_DEADLINES = 8
MIN_RUN_BUDGET_S = 60.0
POLL_S = 0.05
"""How often a waiting asker looks at its deadline and the run's stop switch."""


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Certifi's roots plus the user's extra CA (TLS inspection). Verification is never off."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


def build_client(
    *, timeout_s: float, ca_bundle: str | None, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """The one place an httpx.Client is made: explicit timeout, no silent redirects, a UA."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        headers={"User-Agent": f"sage200-doctor/{__version__}", "Accept": "application/json"},
        verify=tls_context(ca_bundle),
        transport=transport,
        trust_env=True,
    )


def run_budget(deadline_s: float) -> float:
    """The wall-clock limit of a whole run's requests, from its first: eight request deadlines,
    at least a minute (about four minutes with the default 20 s timeout). Each request is
    bounded by its deadline, but requests sent one after another (SAGE200_CONCURRENCY=1, or
    checks that need each other's answers) could each run theirs out: eleven trickled
    resource reads alone would take eleven deadlines."""
    return max(MIN_RUN_BUDGET_S, RUN_BUDGET_DEADLINES * deadline_s)


T = TypeVar("T")
RequestKey = tuple[str, str, tuple[tuple[str, str], ...]]
ClientSource = httpx.Client | Callable[[], httpx.Client]


class Session:
    """Sends requests and keeps their redacted evidence until the runner collects it.

    `client` may be a factory: it is then built on the first request, so a client that cannot
    be built (a broken CA bundle, a malformed proxy) is a finding of that request, not a crash.
    """

    def __init__(
        self,
        client: ClientSource,
        redactor: Redactor,
        *,
        sleep: Callable[[float], None] | None = None,
        concurrency: int = 1,
        deadline_s: float | None = None,
        control: RunControl | None = None,
    ) -> None:
        self._client_source = client
        self._client: httpx.Client | None = client if isinstance(client, httpx.Client) else None
        self._client_lock = threading.Lock()
        self._redactor = redactor
        self._control = control or RunControl()
        self._sleep = sleep or self._control.sleep
        self._deadline_s = deadline_s
        self._budget_s = run_budget(deadline_s) if deadline_s is not None else None
        self._began: float | None = None
        """When the first request left (monotonic): the run budget counts from there."""
        self._exchanges: list[Exchange] = []
        self._recording = threading.local()
        """Where this thread's exchanges go, when not to the check now running (`recording`)."""
        self._set_aside: list[list[Exchange]] = []
        """Evidence recorded elsewhere that no check has adopted yet (see `recording`)."""
        self._counting = threading.Lock()
        self.request_count = 0
        self.rate_limit_waited_s = 0.0
        self._lane = Lane(concurrency, name="sage200-ahead") if concurrency > 1 else None
        self._ahead: dict[RequestKey, list[Flight[Answer]]] = {}
        self._flights: list[Flight[Answer]] = []
        """Every request that left, so close() can let the unfinished ones end first."""
        self.unused_ahead: list[str] = []
        """Requests sent ahead that no check asked for (a failed check made them moot)."""
        self.before_waiting: Callable[[], None] | None = None
        """Called whenever the session is about to wait for an answer, and again each time an
        answer arrives while it waits: a chance to send more ahead (the answer may be what the
        next requests are built from). Only on `hook_thread` (the engine's): it reads and
        changes the run's state, which no other thread touches."""
        self.hook_thread: threading.Thread | None = None
        self._in_hook = False
        self._arrival = threading.Condition()
        self._arrivals = 0
        """Answers (or other awaited work) finished so far: a waiter that sees it change asks
        `before_waiting` again."""
        self._examined = 0
        """`_arrivals` when `before_waiting` was last asked: what arrived since is news."""
        self.on_wait: Callable[[float], None] | None = None
        """Told how long the session is about to wait before retrying (progress display)."""

    def close(self) -> None:
        """End the session without waiting for anything still on the wire."""
        if self._lane is not None:
            self._lane.stop()
        for evidence in self._set_aside:
            self.unused_ahead += [self._redactor.safe_text(f"{e.method} {e.url}") for e in evidence]
        self._set_aside.clear()
        for key, flights in self._ahead.items():
            for flight in flights:
                if flight.future.cancel():
                    self._count(-1)  # still queued: it never went out
                else:
                    self.unused_ahead.append(self._redactor.safe_text(f"GET {key[1]}"))
        self._ahead.clear()
        if self._client is not None:
            self._close_client(self._client)

    def _close_client(self, client: httpx.Client) -> None:
        """Close the client once the requests still on the wire have ended. Closing it under a
        request that is still connecting would leave that socket open, so unfinished requests
        (moot ones sent ahead) are let run out, bounded by their deadline, on a daemon thread:
        the run does not wait for them."""
        unfinished = [f.future for f in self._flights if not f.future.done()]
        if not unfinished:
            client.close()
            return

        def close_after() -> None:
            futures.wait(unfinished, timeout=self._deadline_s or 5.0)
            client.close()

        threading.Thread(target=close_after, name="sage200-close", daemon=True).start()

    def take_exchanges(self) -> list[Exchange]:
        taken, self._exchanges = self._exchanges, []
        return taken

    @contextmanager
    def recording(self, into: list[Exchange]) -> Iterator[None]:
        """Record this thread's exchanges into `into` rather than the running check's evidence
        (work started early on another thread); a check `adopt`s them when it uses the result.
        Not adopted by the end, they are reported as sent ahead and unused."""
        self._set_aside.append(into)
        self._recording.into = into
        try:
            yield
        finally:
            self._recording.into = None

    def adopt(self, evidence: list[Exchange]) -> None:
        """Make exchanges recorded elsewhere (`recording`) evidence of the check now running."""
        if any(evidence is kept for kept in self._set_aside):
            self._set_aside = [kept for kept in self._set_aside if kept is not evidence]
        self._exchanges.extend(evidence)

    def wake(self) -> None:
        """Tell a waiting asker that something it may build on has arrived (see
        `before_waiting`): an answer, or work finished on another thread."""
        with self._arrival:
            self._arrivals += 1
            self._arrival.notify_all()

    def wait_for(self, future: futures.Future[T]) -> T:
        """Wait for work done on another thread as for an answer: sending ahead whatever the
        answers arriving meanwhile allow, and stopping when the run is stopped."""
        self._wait_until(future.done)
        return future.result()

    def _count(self, change: int = 1) -> None:
        with self._counting:
            self.request_count += change

    def send_ahead(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bool:
        """Start a GET now that a later `request` will ask for; False when sending one at a time.

        The answer is recorded as evidence only when it is asked for, by the check that asks."""
        if self._lane is None or self._control.stopped:
            return False
        full_url = _with_query(url, params)
        sent = dict(headers or {})
        self._count()
        flight = self._lane.submit(lambda: self._transmit("GET", full_url, sent, None))
        flight.future.add_done_callback(lambda _: self.wake())
        self._flights.append(flight)
        self._ahead.setdefault(_key("GET", full_url, sent), []).append(flight)
        return True

    def peek(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer | None:
        """The answer to a GET sent ahead, if it is in, without taking it: None otherwise."""
        waiting = self._ahead.get(_key("GET", _with_query(url, params), headers or {}))
        if not waiting or not waiting[0].future.done() or waiting[0].future.cancelled():
            return None
        future = waiting[0].future
        return None if future.exception() is not None else future.result()

    def was_sent_ahead(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bool:
        return bool(self._ahead.get(_key("GET", _with_query(url, params), headers or {})))

    def _about_to_wait(self) -> None:
        if self.before_waiting is None or self._in_hook:
            return
        if self.hook_thread is not None and threading.current_thread() is not self.hook_thread:
            return
        self._examined = self._arrivals
        self._in_hook = True
        try:
            self.before_waiting()
        finally:
            self._in_hook = False

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        retry_rate_limit: bool = True,
    ) -> Answer:
        full_url = _with_query(url, params)
        waited = 0.0
        retries = 0
        while True:
            answer = self._send_once(method, full_url, headers or {}, form, first=retries == 0)
            answer.retries, answer.waited_s = retries, waited
            delay = _retry_delay(answer) if retry_rate_limit else None
            if delay is None or retries >= MAX_RETRIES or not self._may_wait(waited, delay):
                return answer
            if self.on_wait is not None:
                self.on_wait(delay)
            self._sleep(delay)
            waited += delay
            self.rate_limit_waited_s += delay
            retries += 1

    def _may_wait(self, waited: float, delay: float) -> bool:
        """Within this request's budget and the run's: rate limits never stall a run for long."""
        return (
            waited + delay <= RETRY_BUDGET_S
            and self.rate_limit_waited_s + delay <= RUN_RETRY_BUDGET_S
        )

    def _send_once(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        form: Mapping[str, str] | None,
        *,
        first: bool,
    ) -> Answer:
        self._control.raise_if_stopped()
        flight = self._claim_ahead(method, url, headers) if first and form is None else None
        if flight is None and self._budget_left() <= 0:
            answer = _budget_answer(method, url, self._budget_s or 0.0, sent=False)
            self._record(method, url, headers, form, answer)
            return answer
        if flight is None:
            self._about_to_wait()
            self._control.raise_if_stopped()
            self._count()
            flight = self._send_now(method, url, headers, form)
        elif not flight.future.done():
            self._about_to_wait()
        answer = self._await(flight, method, url)
        self._record(method, url, headers, form, answer)
        if answer.problem is not None:
            # The evidence keeps the status line of an answer that broke off mid-body, but to
            # the checks a broken answer is no answer: a 200 without its body is not a 200.
            answer.status = None
        return answer

    def _send_now(
        self, method: str, url: str, headers: Mapping[str, str], form: Mapping[str, str] | None
    ) -> Flight[Answer]:
        """A request on its own thread, so the asker can walk away at the deadline; without a
        deadline (tests driving a session directly) it simply runs here."""
        if self._deadline_s is None:
            flight: Flight[Answer] = Flight(lambda: self._transmit(method, url, headers, form))
            flight.run()
            return flight
        flight = Flight(lambda: self._transmit(method, url, headers, form))
        flight.future.add_done_callback(lambda _: self.wake())
        self._flights.append(flight)
        start_alone(flight, name="sage200-request")
        return flight

    def _claim_ahead(
        self, method: str, url: str, headers: Mapping[str, str]
    ) -> Flight[Answer] | None:
        """The flight sent ahead for exactly this request, if it has left. One still queued
        behind others is withdrawn: the asker sends it at once rather than wait its turn."""
        waiting = self._ahead.get(_key(method, url, headers))
        if not waiting:
            return None
        flight = waiting.pop(0)
        if flight.future.cancel():
            self._count(-1)
            return None
        return flight

    def _await(self, flight: Flight[Answer], method: str, url: str) -> Answer:
        """The flight's answer; a deadline problem if it takes longer than the deadline or
        outlasts the run budget; stops waiting (RunInterrupted) when the run is stopped, unless
        a critical stretch needs it."""

        def give_up() -> bool:
            return self._past_deadline(flight) or self._budget_left() < 0

        if self._wait_until(flight.future.done, give_up=give_up):
            return flight.future.result()
        if self._past_deadline(flight):
            return _deadline_answer(method, url, self._deadline_s or 0.0)
        return _budget_answer(method, url, self._budget_s or 0.0, sent=True)

    def _wait_until(
        self, done: Callable[[], bool], *, give_up: Callable[[], bool] | None = None
    ) -> bool:
        """Wait until `done()` (True) or `give_up()` (False). Each time something else arrives
        meanwhile, `before_waiting` is asked again: the follow-ups of an answer leave the
        moment it is in, not when the check that waits for another answer is done."""
        seen = self._examined  # an answer that came in since the hook last ran is news too
        while not done():
            with self._arrival:
                if self._arrivals == seen and not done():
                    self._arrival.wait(POLL_S)
                arrived = self._arrivals != seen
                seen = self._arrivals
            if done():
                break
            self._control.raise_if_stopped()
            if give_up is not None and give_up():
                return False
            if arrived:
                self._about_to_wait()
        return True

    def _past_deadline(self, flight: Flight[Answer]) -> bool:
        started = flight.started
        return (
            self._deadline_s is not None
            and started is not None
            and time.monotonic() - started > self._deadline_s
        )

    def _budget_left(self) -> float:
        """Seconds left of the run budget (infinite without one, or before the first request)."""
        if self._budget_s is None or self._began is None:
            return math.inf
        return self._budget_s - (time.monotonic() - self._began)

    def _started(self) -> float:
        """Note when the first request leaves; the monotonic time at which this one gives up
        reading a body that never ends."""
        now = time.monotonic()
        if self._began is None:
            self._began = now
        return now + (self._deadline_s if self._deadline_s is not None else math.inf)

    def _client_for_run(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                assert callable(self._client_source)
                self._client = self._client_source()
            return self._client

    def _transmit(
        self, method: str, url: str, headers: Mapping[str, str], form: Mapping[str, str] | None
    ) -> Answer:
        """One exchange on the wire, on a worker thread: it touches no session state but the
        moment the run budget counts from."""
        started = time.perf_counter()
        give_up_at = self._started()
        answer = Answer(url=url, redactor=self._redactor)
        try:
            client = self._client_for_run()
        except CLIENT_BUILD_ERRORS as error:
            answer.problem = client_problem(error)
            return answer
        try:
            with client.stream(method, url, headers=dict(headers), data=form) as response:
                answer.status = response.status_code
                answer.headers = {k.lower(): v for k, v in response.headers.items()}
                answer.text, answer.truncated = _read_capped(response, give_up_at)
        except _TooSlow:
            # The asker has walked away by now; ending the read frees this thread and the
            # connection instead of reading one byte a second for ever.
            return _deadline_answer(method, url, self._deadline_s or 0.0)
        except httpx.HTTPError as error:
            answer.problem = classify(error, host_of(url), proxy=_proxy(url))
        except httpx.InvalidURL:
            # A URL from a server's answer (a discovery document's jwks_uri) that no request
            # can go to; never quoted (it may carry user:password).
            answer.problem = NetworkProblem(
                "invalid-url",
                f"The URL on {host_of(url)} is not well-formed, so it was not requested.",
            )
        except (ValueError, ssl.SSLError, OSError) as error:
            # A header value that cannot be sent (not ASCII), socket errors httpx left as is.
            answer.problem = NetworkProblem(
                "other", f"The request could not be sent: {type(error).__name__}."
            )
        answer.elapsed_ms = (time.perf_counter() - started) * 1000
        return answer

    def _record(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        form: Mapping[str, str] | None,
        answer: Answer,
    ) -> None:
        redact = self._redactor
        body: str | None = None
        if form is not None:
            body = urlencode(redact.data(dict(form)))
        into = getattr(self._recording, "into", None)
        (self._exchanges if into is None else into).append(
            Exchange(
                method=method,
                url=redact.safe_text(url),
                request_headers=redact.headers(headers),
                request_body=body,
                status=answer.status,
                response_headers=redact.headers(dict(answer.headers)),
                body_excerpt=self._excerpt(answer),
                elapsed_ms=answer.elapsed_ms,
                error=redact.safe_text(answer.problem.sentence) if answer.problem else None,
            )
        )

    def _excerpt(self, answer: Answer) -> str:
        return body_excerpt(answer, self._redactor)


def body_excerpt(answer: Answer, redactor: Redactor) -> str:
    """The start of an answer's body for evidence, redacted before it is cut (JSON by field
    name and value, anything else as text)."""
    if not answer.is_json:
        return redactor.excerpt(answer.text, EXCERPT_CHARS, suffix=" …(cut)")
    try:
        text = _json_head(answer.json, redactor)
    except Exception:
        return "[dropped: could not be redacted safely]"
    return cut(text, EXCERPT_CHARS, suffix=" …(cut)")


def _json_head(body: Any, redactor: Redactor) -> str:
    """The redacted JSON text, as far as the excerpt shows it.

    A list is redacted item by item only until the excerpt is full: a page of 50 customers
    would otherwise cost thousands of masking passes for text that is then cut away. The
    items kept serialise to exactly the start of the whole list's text."""
    if not isinstance(body, list):
        return json.dumps(redactor.data(body), ensure_ascii=False)
    parts: list[str] = []
    length = 1  # "["
    for item in body:
        parts.append(json.dumps(redactor.data(item), ensure_ascii=False))
        length += len(parts[-1]) + (2 if len(parts) > 1 else 0)  # ", " between items
        if length > EXCERPT_CHARS:
            break
    return "[" + ", ".join(parts) + "]"


CLIENT_BUILD_ERRORS = (httpx.InvalidURL, ValueError, ImportError, ssl.SSLError, OSError)
"""What building the client can raise: a proxy variable httpx refuses (malformed, an unknown
scheme), a SOCKS proxy without socksio installed, a CA bundle that breaks when it is loaded."""


def client_problem(error: BaseException) -> NetworkProblem:
    """Why no request could be sent at all, in words that point at the setting to fix. The
    exception's own text is never quoted: it may hold a proxy URL with its password."""
    if isinstance(error, ImportError):
        reason = (
            "a SOCKS proxy is configured (HTTPS_PROXY / ALL_PROXY) but the socksio package is "
            "not installed; use an http:// proxy, or pip install 'httpx[socks]'"
        )
    elif isinstance(error, ssl.SSLError | OSError):
        reason = f"the CA bundle (SAGE200_CA_BUNDLE) could not be loaded ({type(error).__name__})"
    else:
        reason = (
            "a proxy variable (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY) is not a URL an HTTP client "
            f"can use ({type(error).__name__})"
        )
    return NetworkProblem("client", f"No request could be sent: {reason}.")


def _proxy(url: str) -> str | None:
    try:
        return proxy_for(url)
    except ValueError:
        return None


def _request_line(method: str, url: str) -> str:
    """'GET /uk/…/customers on host:port', without the query (it is in the finding already)."""
    try:
        path = urlsplit(url).path or "/"
    except ValueError:
        path = "/"
    return f"{method} {path} on {host_of(url)}"


def _deadline_answer(method: str, url: str, deadline_s: float) -> Answer:
    return Answer(
        url=url,
        problem=NetworkProblem(
            "deadline",
            f"{_request_line(method, url)} was still answering {deadline_s:g} s after it was "
            "sent (1.5 times SAGE200_TIMEOUT_S + 1 s): the server sends its answer too slowly, "
            "or keeps the connection open without finishing it.",
        ),
    )


def _budget_answer(method: str, url: str, budget_s: float, *, sent: bool) -> Answer:
    what = "was still answering when" if sent else "was not sent:"
    return Answer(
        url=url,
        problem=NetworkProblem(
            "run-budget",
            f"{_request_line(method, url)} {what} the run's time budget of {budget_s:g} s "
            f"({RUN_BUDGET_DEADLINES} request deadlines) ran out, spent waiting on answers that "
            "came too slowly.",
        ),
    )


class _TooSlow(Exception):
    """A body still arriving at the request's deadline."""


def _with_query(url: str, params: Mapping[str, str] | None) -> str:
    # Spaces as %20, not "+": Sage's query-parameter guide asks for percent-encoding.
    query = urlencode(params, safe="$,()", quote_via=quote) if params else ""
    return f"{url}?{query}" if query else url


def _key(method: str, url: str, headers: Mapping[str, str]) -> RequestKey:
    return method, url, tuple(sorted(headers.items()))


def _read_capped(response: httpx.Response, give_up_at: float = math.inf) -> tuple[str, bool]:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        if time.monotonic() > give_up_at:
            raise _TooSlow
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"".join(chunks)[:MAX_BODY_BYTES].decode("utf-8", "replace"), True
    return _decode(b"".join(chunks), response.encoding), False


def _decode(raw: bytes, encoding: str | None) -> str:
    """The body as text; a charset Python does not know (a hostile header) falls back to UTF-8."""
    try:
        return raw.decode(encoding or "utf-8", "replace")
    except LookupError:
        return raw.decode("utf-8", "replace")


def _retry_delay(answer: Answer) -> float | None:
    """Seconds to wait before retrying a 429, or None when it should not be retried."""
    if answer.status != 429:
        return None
    value = answer.headers.get("retry-after", "").strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return 1.0
    return max(0.0, min(moment.timestamp() - time.time(), MAX_RETRY_AFTER_S))
