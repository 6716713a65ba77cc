"""The client's one seam to the network: every request goes through `Session.request`.

It never raises for network trouble (a missing answer is data: `Answer.problem`), reads bodies
streamed and capped, waits out 429 answers within a bounded budget, and records every exchange,
redacted, as evidence for the check that made it.

Requests that do not need each other's answers can go out at once: `send_ahead` starts a GET on
a small thread pool, and the `request` that later asks for exactly the same GET (same URL, same
headers) takes its answer instead of sending it again. Checks still ask, judge and record in
order; only the waiting overlaps. Nothing but GET is ever sent ahead.
"""

from __future__ import annotations

import email.utils
import json
import re
import ssl
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import certifi
import httpx

from sage200_doctor import __version__
from sage200_doctor.http.network import NetworkProblem, classify, host_of, proxy_for
from sage200_doctor.redact import Redactor, cut
from sage200_doctor.results import Exchange

MAX_BODY_BYTES = 2_000_000
EXCERPT_CHARS = 2_000
MAX_RETRY_AFTER_S = 5.0
RETRY_BUDGET_S = 12.0
MAX_RETRIES = 3
RUN_RETRY_BUDGET_S = 30.0
"""The most one run waits for rate limits in all, however many requests are limited."""
SHORT_BODY_CHARS = 80
_NOT_JSON = object()
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


@dataclass
class Answer:
    """What came back for one request (after any 429 retries)."""

    url: str
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    text: str = ""
    truncated: bool = False
    elapsed_ms: float = 0.0
    problem: NetworkProblem | None = None
    retries: int = 0
    waited_s: float = 0.0
    redactor: Redactor | None = field(default=None, repr=False, compare=False)
    """The run's redactor (set by `Session`): text quoted from the body is redacted, then cut."""
    _parsed: Any = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def json(self) -> Any:
        """The parsed JSON body, or None when the body is not JSON (HTML error page, truncated)."""
        if self._parsed is None:
            try:
                self._parsed = (
                    json.loads(self.text) if self.text and not self.truncated else _NOT_JSON
                )
            except ValueError:
                self._parsed = _NOT_JSON
        return None if self._parsed is _NOT_JSON else self._parsed

    @property
    def is_json(self) -> bool:
        return self.json is not None

    def excerpt(self, limit: int) -> str:
        """About the first `limit` characters of the body, redacted before they are cut."""
        return self._redact().excerpt(self.text, limit)

    def _redact(self) -> Redactor:
        # An answer made outside a Session (tests) still has credential shapes masked.
        return self.redactor if self.redactor is not None else Redactor()

    def describe_body(self) -> str:
        """A short phrase for findings: what came back, and a hint of what that suggests."""
        if self.status is not None and 300 <= self.status < 400:
            return (
                f"a redirect to {self.headers.get('location', 'an unnamed place')} (not followed)"
            )
        if self.truncated:
            size = MAX_BODY_BYTES // 1_000_000
            return f"a body larger than {size} MB (cut short: only the first {size} MB were read)"
        text = self.text.strip()
        if not text:
            return "an empty body"
        if self.is_json:
            return "a JSON body"
        if text == "null":
            return "a JSON null"
        if "<html" in text[:500].lower() or self.content_type == "text/html":
            title = _html_title(text, self._redact())
            named = f' titled "{title}"' if title else ""
            return f"an HTML page{named} (typically a proxy, firewall or gateway error page)"
        broken = _broken_json(text, self.content_type)
        if broken:
            return broken
        if text.startswith("<?xml") or self.content_type.endswith("xml"):
            return "an XML body, not JSON"
        kind = f" ({self.content_type})" if self.content_type else ""
        return f"a body that is not JSON{kind}{_quoted_if_short(text)}"


def _html_title(text: str, redactor: Redactor) -> str:
    match = _HTML_TITLE.search(text[:5000])
    title = " ".join(match.group(1).split()) if match else ""
    return redactor.excerpt(title, SHORT_BODY_CHARS)


def _broken_json(text: str, content_type: str) -> str | None:
    """'JSON that is cut short' or 'malformed JSON (…)' for a body that means to be JSON."""
    if "json" not in content_type and text[:1] not in ("{", "["):
        return None
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        if error.msg.startswith("Unterminated") or error.pos >= len(text):
            return f"JSON that is cut short (it stops mid-document after {len(text)} characters)"
        return f"malformed JSON ({error.msg} at character {error.pos})"
    except RecursionError:
        return "malformed JSON (nested too deeply to read)"
    return None  # valid JSON, only the literal null: is_json says no


def _quoted_if_short(text: str) -> str:
    line = " ".join(text.split())
    return f': "{line}"' if len(line) <= SHORT_BODY_CHARS and line.isprintable() else ""


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


RequestKey = tuple[str, str, tuple[tuple[str, str], ...]]


class Session:
    """Sends requests and keeps their redacted evidence until the runner collects it."""

    def __init__(
        self,
        client: httpx.Client,
        redactor: Redactor,
        *,
        sleep: Callable[[float], None] = time.sleep,
        concurrency: int = 1,
    ) -> None:
        self._client = client
        self._redactor = redactor
        self._sleep = sleep
        self._exchanges: list[Exchange] = []
        self.request_count = 0
        self.rate_limit_waited_s = 0.0
        self._pool = (
            ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sage200-ahead")
            if concurrency > 1
            else None
        )
        self._ahead: dict[RequestKey, list[Future[Answer]]] = {}
        self.unused_ahead: list[str] = []
        """Requests sent ahead that no check asked for (a failed check made them moot)."""
        self.before_waiting: Callable[[], None] | None = None
        """Called whenever the session is about to wait for an answer: a chance to send more
        ahead (answers that arrived meanwhile may be what the next requests are built from)."""
        self._in_hook = False

    def close(self) -> None:
        if self._pool is not None:
            # Not waiting: an unused request to a hanging server must not hold the verdict up
            # for a whole timeout. Closing the client below ends what is still under way.
            self._pool.shutdown(wait=False, cancel_futures=True)
            for key, futures in self._ahead.items():
                for future in futures:
                    if future.cancelled():
                        self.request_count -= 1  # still queued: it never went out
                    else:
                        self.unused_ahead.append(self._redactor.safe_text(f"GET {key[1]}"))
            self._ahead.clear()
        self._client.close()

    def take_exchanges(self) -> list[Exchange]:
        taken, self._exchanges = self._exchanges, []
        return taken

    def send_ahead(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bool:
        """Start a GET now that a later `request` will ask for; False when sending one at a time.

        The answer is recorded as evidence only when it is asked for, by the check that asks."""
        if self._pool is None:
            return False
        full_url = _with_query(url, params)
        sent = dict(headers or {})
        self.request_count += 1
        future = self._pool.submit(self._transmit, "GET", full_url, sent, None)
        self._ahead.setdefault(_key("GET", full_url, sent), []).append(future)
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
        if not waiting or not waiting[0].done() or waiting[0].exception() is not None:
            return None
        return waiting[0].result()

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
        waiting = self._ahead.get(_key(method, url, headers)) if first and form is None else None
        if waiting:
            future = waiting.pop(0)
            if not future.done():
                self._about_to_wait()
            answer = future.result()
        else:
            self._about_to_wait()
            self.request_count += 1
            answer = self._transmit(method, url, headers, form)
        self._record(method, url, headers, form, answer)
        if answer.problem is not None:
            # The evidence keeps the status line of an answer that broke off mid-body, but to
            # the checks a broken answer is no answer: a 200 without its body is not a 200.
            answer.status = None
        return answer

    def _transmit(
        self, method: str, url: str, headers: Mapping[str, str], form: Mapping[str, str] | None
    ) -> Answer:
        """One exchange on the wire. Touches no session state: it also runs on the pool."""
        started = time.perf_counter()
        answer = Answer(url=url, redactor=self._redactor)
        try:
            with self._client.stream(method, url, headers=dict(headers), data=form) as response:
                answer.status = response.status_code
                answer.headers = {k.lower(): v for k, v in response.headers.items()}
                answer.text, answer.truncated = _read_capped(response)
        except httpx.HTTPError as error:
            answer.problem = classify(error, host_of(url), proxy=proxy_for(url))
        except (ValueError, ssl.SSLError, OSError) as error:
            # Malformed URLs and low-level socket errors that httpx did not wrap.
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
        self._exchanges.append(
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
        if not answer.is_json:
            return self._redactor.excerpt(answer.text, EXCERPT_CHARS, suffix=" …(cut)")
        try:
            text = self._json_head(answer.json)
        except Exception:
            return "[dropped: could not be redacted safely]"
        return cut(text, EXCERPT_CHARS, suffix=" …(cut)")

    def _json_head(self, body: Any) -> str:
        """The redacted JSON text, as far as the excerpt shows it.

        A list is redacted item by item only until the excerpt is full: a page of 50 customers
        would otherwise cost thousands of masking passes for text that is then cut away. The
        items kept serialise to exactly the start of the whole list's text."""
        if not isinstance(body, list):
            return json.dumps(self._redactor.data(body), ensure_ascii=False)
        parts: list[str] = []
        length = 1  # "["
        for item in body:
            parts.append(json.dumps(self._redactor.data(item), ensure_ascii=False))
            length += len(parts[-1]) + (2 if len(parts) > 1 else 0)  # ", " between items
            if length > EXCERPT_CHARS:
                break
        return "[" + ", ".join(parts) + "]"


def _with_query(url: str, params: Mapping[str, str] | None) -> str:
    # Spaces as %20, not "+": Sage's query-parameter guide asks for percent-encoding.
    query = urlencode(params, safe="$,()", quote_via=quote) if params else ""
    return f"{url}?{query}" if query else url


def _key(method: str, url: str, headers: Mapping[str, str]) -> RequestKey:
    return method, url, tuple(sorted(headers.items()))


def _read_capped(response: httpx.Response) -> tuple[str, bool]:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"".join(chunks)[:MAX_BODY_BYTES].decode("utf-8", "replace"), True
    raw = b"".join(chunks)
    return raw.decode(response.encoding or "utf-8", "replace"), False


def _retry_delay(answer: Answer) -> float | None:
    """Seconds to wait before retrying a 429, or None when it should not be retried."""
    if answer.status != 429:
        return None
    value = answer.headers.get("retry-after", "").strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    return max(0.0, min(moment.timestamp() - time.time(), MAX_RETRY_AFTER_S))
