"""Fault injection: the answers a proxy, a load balancer or a broken server gives instead.

A `FaultRule` names where (a face and/or a path pattern) and what (a `FaultKind`); the first
matching rule in `EmulatorConfig.faults` decides. Chaos mode (`chaos_seed`) gives each request,
independently and at `chaos_rate`, a fault drawn from the seed and the request's identity (its
method, path, query, the shape of the headers that make it a different request, and how many
times that identity came before): the same seed gives the same faults whatever order requests
sent at once arrive in. `/_emulator/` is never faulted, so a test may look at the log mid-run
without changing what comes next. Each faulted request is logged with its fault.

Every fault except `slow` is answered here, before the request reaches the emulated service
(as when something in front of the service answers): nothing is minted, rotated or counted.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import random
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FaultKind = Literal[
    "html-error-page",
    "non-json",
    "truncated-json",
    "huge-body",
    "redirect",
    "status-500",
    "status-502",
    "status-503",
    "status-504",
    "rate-limit-forever",
    "quota-exceeded",
    "reset-mid-body",
    "slow",
    "trickle",
]
FaultFace = Literal["identity", "api", "any"]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
FAULT_FACES: tuple[FaultFace, ...] = get_args(FaultFace)

HUGE_BODY_BYTES = 64 * 1024 * 1024
"""Far past any sane answer; a client that reads it all (or buffers it) has a bug."""
REDIRECT_TARGET = "https://portal.proxy.invalid/login"
TRICKLE_INTERVAL_S = 0.25
"""The `trickle` fault's pace: one byte this often, never silent long enough for a read timeout."""
_CHUNK = 64 * 1024
_IDENTITY_HEADERS = ("authorization", "ocp-apim-subscription-key", "x-site", "x-company")
"""Headers that make a request a different one (the key probe and sites.list differ only here)."""
_CREDENTIAL = re.compile(r"[A-Za-z0-9\-_.~+/=]{16,}")
"""Tokens and keys change every run: a request's identity keeps only where they are."""


@dataclass(frozen=True)
class FaultRule:
    """Answer requests on `face` whose path matches `path` (a regex, searched) with `kind`.

    `face="api"` is everything behind the gateway (`/uk/...`); `"identity"` is the Sage ID
    look-alike (every other path); `"any"` is both. `path=""` matches every path of the face.
    """

    kind: FaultKind
    face: FaultFace = "any"
    path: str = ""

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if self.face not in FAULT_FACES:
            raise ValueError(f"unknown face {self.face!r}; known: {', '.join(FAULT_FACES)}")
        try:
            re.compile(self.path)
        except re.error as error:
            raise ValueError(
                f"fault path {self.path!r} is not a regular expression: {error}"
            ) from None

    def matches(self, path: str) -> bool:
        on_api = path.startswith("/uk/")
        face_ok = self.face == "any" or (self.face == "api") == on_api
        return face_ok and re.search(self.path, path) is not None


def parse_fault_rule(text: str) -> FaultRule:
    """`KIND[@FACE][:PATH]`, e.g. `status-503@api:/sites$` (for a command-line flag)."""
    head, _, path = text.partition(":")
    kind, _, face = head.partition("@")
    return FaultRule(kind=kind, face=face or "any", path=path)  # type: ignore[arg-type] # checked in __post_init__


def request_identity(
    method: str, path: str, query: str, headers: Iterable[tuple[str, str]] = ()
) -> str:
    """What makes a request the same request from one run to the next: its method, path and
    query, and the headers that change what it asks, with credentials replaced by a mark
    (their values change every run, their presence and shape do not)."""
    shaped = sorted(
        f"{name}={_CREDENTIAL.sub('<credential>', value)}"
        for name, value in ((n.lower(), v) for n, v in headers)
        if name in _IDENTITY_HEADERS
    )
    return "\n".join([method.upper(), path, query, *shaped])


def chaos_fault(
    seed: int,
    rate: float,
    identity: str,
    attempt: int = 0,
    kinds: tuple[FaultKind, ...] = FAULT_KINDS,
) -> FaultKind | None:
    """The fault the `attempt`-th request (from 0) with this identity gets under `seed`."""
    dice = random.Random(f"{seed}\n{attempt}\n{identity}")  # noqa: S311 - reproducible chaos
    hit = dice.random() < rate
    kind = dice.choice(kinds)
    return kind if hit else None


class ChaosDice:
    """The seeded fault of each request, from its identity and how often that identity came
    before (a retry is another attempt): independent of the order requests arrive in."""

    def __init__(self, seed: int, rate: float, kinds: tuple[FaultKind, ...] = FAULT_KINDS) -> None:
        self._seed = seed
        self._rate = rate
        self._kinds = kinds
        self._attempts: Counter[str] = Counter()

    def roll(self, identity: str) -> FaultKind | None:
        attempt = self._attempts[identity]
        self._attempts[identity] += 1
        return chaos_fault(self._seed, self._rate, identity, attempt, self._kinds)


def chaos_plan(seed: int, rate: float, identities: Iterable[str]) -> list[FaultKind | None]:
    """The faults these requests get under this seed, in the order given (for tests, docs)."""
    dice = ChaosDice(seed, rate)
    return [dice.roll(identity) for identity in identities]


class FaultSettings(Protocol):
    """What the middleware reads of the emulator's config (config.py imports this module, so
    it names the fields rather than the class)."""

    @property
    def faults(self) -> tuple[FaultRule, ...]: ...
    @property
    def slow_fault_s(self) -> float: ...
    @property
    def rate_limit_retry_after_s(self) -> int: ...
    @property
    def chaos_seed(self) -> int | None: ...
    @property
    def chaos_rate(self) -> float: ...
    @property
    def quota_renewal_s(self) -> int: ...


class FaultMiddleware:
    """Answers a faulted request itself; passes every other request through untouched."""

    def __init__(self, app: ASGIApp, config: FaultSettings) -> None:
        self.app = app
        self.rules = config.faults
        self.slow_s = config.slow_fault_s
        self.retry_after_s = config.rate_limit_retry_after_s
        self.quota_renewal_s = config.quota_renewal_s
        seed = config.chaos_seed
        self.dice = None if seed is None else ChaosDice(seed, config.chaos_rate)
        if self.rules or self.dice:
            _quiet_deliberate_resets()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/_emulator/"):
            await self.app(scope, receive, send)
            return
        kind = self.fault_for(path, _identity(scope))
        if kind is None:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["fault"] = kind  # the request log records it
        if kind == "slow":
            await self._slow(scope, receive, send)
        elif not await _drain(receive):
            return
        elif kind == "trickle":
            await _trickle(receive, send)
        else:
            await _ANSWERS[kind](self, scope, send)

    def fault_for(self, path: str, identity: str = "") -> FaultKind | None:
        # The dice roll for every faultable request, ruled or not: whether a rule answers one
        # request never changes which fault chaos gives another.
        roll = self.dice.roll(identity or path) if self.dice else None
        rule = next((rule for rule in self.rules if rule.matches(path)), None)
        return rule.kind if rule else roll

    async def _slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer for real, but only after `slow_s`; a client that gave up by then gets nothing."""
        received = [await receive()]
        while received[-1]["type"] == "http.request" and received[-1].get("more_body"):
            received.append(await receive())
        if received[-1]["type"] == "http.disconnect":
            return
        try:
            await asyncio.wait_for(_disconnected(receive), timeout=self.slow_s)
        except TimeoutError:
            pending = iter(received)

            async def replay() -> Message:
                return next(pending, None) or await receive()

            await self.app(scope, replay, send)


def _identity(scope: Scope) -> str:
    headers = [
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]
    ]
    query = scope.get("query_string", b"").decode("latin-1")
    return request_identity(scope["method"], scope.get("path", ""), query, headers)


async def _drain(receive: Receive) -> bool:
    """Read the request body (so the connection stays usable); False when the client left."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return False
        if not message.get("more_body"):
            return True


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _trickle(receive: Receive, send: Send) -> None:
    """200 promising a JSON body, then one byte every TRICKLE_INTERVAL_S until the client
    leaves: never silent long enough for a read timeout, never finished."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"100000")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"[", "more_body": True})
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        while not gone.done():
            await asyncio.wait({gone}, timeout=TRICKLE_INTERVAL_S)
            await send({"type": "http.response.body", "body": b" ", "more_body": True})
    finally:
        gone.cancel()


async def _answer(
    send: Send, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
) -> None:
    raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(key.encode(), value.encode()) for key, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


_PROXY_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body>\n"
    "<h1>Bad Gateway</h1>\n<p>The proxy server received an invalid response from an upstream "
    "server.</p>\n<hr><address>corporate-proxy/3.1 at the edge</address>\n</body></html>\n"
)
# What an ASP.NET Web API answers when the Accept header does not ask for JSON.
_XML = (
    '<?xml version="1.0" encoding="utf-8"?>\n<ArrayOfSite xmlns:i="http://www.w3.org/2001/'
    'XMLSchema-instance"><Site><site_name>Demo</site_name></Site></ArrayOfSite>\n'
)
_CUT_SHORT = b'[{"id": 1, "reference": "A1D001", "name": "An answer that stops in the mid'
_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


async def _html_page(middleware: FaultMiddleware, scope: Scope, send: Send) -> None:
    await _answer(send, 502, "text/html; charset=utf-8", _PROXY_PAGE.encode())


async def _non_json(middleware: FaultMiddleware, scope: Scope, send: Send) -> None:
    await _answer(send, 200, "application/xml; charset=utf-8", _XML.encode())


async def _truncated_json(middleware: FaultMiddleware, scope: Scope, send: Send) -> None:
    await _answer(send, 200, "application/json; charset=utf-8", _CUT_SHORT)


async def _huge_body(middleware: FaultMiddleware, scope: Scope, send: Send) -> None:
    """A valid JSON array of HUGE_BODY_BYTES, streamed; sends after a disconnect are no-ops."""
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json; charset=utf-8")],
    }
    await send(start)
    item = b'{"id": 0, "pad": "' + b"x" * 100 + b'"},'
    chunk = item * (_CHUNK // len(item))
    await send({"type": "http.response.body", "body": b"[", "more_body": True})
    for _ in range(HUGE_BODY_BYTES // len(chunk)):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await asyncio.sleep(0)  # lets a disconnect land, so later sends are quiet no-ops
    await send({"type": "http.response.body", "body": b"{}]"})


async def _redirect(middleware: FaultMiddleware, scope: Scope, send: Send) -> None:
    location = f"{REDIRECT_TARGET}?return={scope['path']}"
    await _answer(send, 302, "text/html; charset=utf-8", b"", {"location": location})


def _status(code: int) -> Callable[[FaultMiddleware, Scope, Send], Awaitable[None]]:
    async def answer(middleware: FaultMiddleware, scope: Scope, send: Send) -> None:
        if code == 500:  # the Sage 200 Web API's (ASP.NET) answer to an unhandled exception
            body = json.dumps({"Message": "An error has occurred."}).encode()
            await _answer(send, 500, "application/json; charset=utf-8", body)
        else:  # a load balancer's bare answer
            await _answer(send, code, "text/plain", f"{code} {_REASONS[code]}".encode())

    return answer


async def _reset_mid_body(middleware: FaultMiddleware, scope: Scope, send: Send) -> None:
    """Promise 5000 bytes, send a few, then return: the server closes the connection."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"5000")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": _CUT_SHORT[:20], "more_body": True})
    _DELIBERATE_RESET.set(True)


async def _rate_limit(middleware: FaultMiddleware, scope: Scope, send: Send) -> None:
    """API Management's answer, every time: waiting as Retry-After asks never helps."""
    wait = middleware.retry_after_s
    message = f"Rate limit is exceeded. Try again in {wait} seconds."
    body = json.dumps({"statusCode": 429, "message": message}).encode()
    await _answer(send, 429, "application/json", body, {"retry-after": str(wait)})


async def _quota(middleware: FaultMiddleware, scope: Scope, send: Send) -> None:
    """API Management's quota policy, spent: 403, its message and when it renews."""
    renewal = middleware.quota_renewal_s
    hours, rest = divmod(renewal, 3600)
    when = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    message = f"Out of call volume quota. Quota will be replenished in {when}."
    body = json.dumps({"statusCode": 403, "message": message}).encode()
    await _answer(send, 403, "application/json", body, {"retry-after": str(renewal)})


_ANSWERS: dict[str, Callable[[FaultMiddleware, Scope, Send], Awaitable[None]]] = {
    "html-error-page": _html_page,
    "non-json": _non_json,
    "truncated-json": _truncated_json,
    "huge-body": _huge_body,
    "redirect": _redirect,
    "status-500": _status(500),
    "status-502": _status(502),
    "status-503": _status(503),
    "status-504": _status(504),
    "rate-limit-forever": _rate_limit,
    "quota-exceeded": _quota,
    "reset-mid-body": _reset_mid_body,
}

# uvicorn logs an error when an app leaves a response unfinished; for reset-mid-body that is the
# point, so the one record per deliberate reset is dropped (the flag lives in the request's task).
_DELIBERATE_RESET: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sage200_emulator_deliberate_reset", default=False
)


class _DeliberateResetFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            _DELIBERATE_RESET.get() and "without completing response" in record.getMessage()
        )


def _quiet_deliberate_resets() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(existing, _DeliberateResetFilter) for existing in logger.filters):
        logger.addFilter(_DeliberateResetFilter())
