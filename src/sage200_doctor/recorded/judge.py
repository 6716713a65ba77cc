"""Every Sage exchange of a capture, judged as it is read, layer by layer.

An API request passes the layers a live run checks, in the same order: was it answered
(network.api), did the gateway accept the key (gateway.subscription_key), is the Authorization
header well-formed (header.authorization), was the token good at that moment (token.*), are
X-Site / X-Company there and listed (sites.selection), and what did the API answer (data.py).
The first layer whose rule explains a refusal owns it, so one 401 is one finding, where a live
run would have stopped at that check. Sage ID requests feed network.identity and token.*.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

from sage200_doctor.engine.registry import CheckSpec
from sage200_doctor.http.answer import Answer
from sage200_doctor.http.network import NetworkProblem
from sage200_doctor.http.sage import denial, status_phrase
from sage200_doctor.redact import Redactor
from sage200_doctor.rules import Judgement
from sage200_doctor.rules.answers import (
    gateway_limit,
    judge_answered_in_between,
    judge_gateway_key,
    judge_limit,
    unsigned_failure,
)
from sage200_doctor.rules.authorization import bare_token, judge_sent_header, refused_by_api
from sage200_doctor.rules.query import judge_query

from .conformance import CAPABILITY_PROBES, Conformance
from .data import DataAnswers, Request
from .exchanges import answer_of, api_path, problem_of
from .hosts import Face, SageHosts
from .ledger import Ledger, trimmed
from .model import RecordedExchange
from .selection import Selection
from .tokens import TokenJudge, token_endpoint

MAX_PENDING_LIMITS = 256
GUIDE_NETWORK = ("guide.network",)


@dataclass
class Reach:
    """How one face (Sage ID, the API) answered in the capture."""

    check: str
    answered: int = 0
    unanswered: int = 0
    hosts: list[str] = field(default_factory=list)
    first_unanswered: RecordedExchange | None = None
    problem: NetworkProblem | None = None

    def met(self, exchange: RecordedExchange) -> None:
        host = urlsplit(exchange.request.url).netloc.rpartition("@")[2]
        if host not in self.hosts and len(self.hosts) < 5:
            self.hosts.append(host)
        if exchange.answered:
            self.answered += 1
            return
        self.unanswered += 1
        if self.first_unanswered is None:
            self.first_unanswered = trimmed(exchange)
            self.problem = problem_of(exchange)


@dataclass
class Seen:
    """What the capture shows of the set-up (the report's environment), no secrets."""

    api_bases: list[str] = field(default_factory=list)
    editions: set[str] = field(default_factory=set)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    first: datetime | None = None
    last: datetime | None = None
    sage: int = 0

    def met(self, exchange: RecordedExchange) -> None:
        self.sage += 1
        moment = exchange.started
        if moment is not None:
            self.first = moment if self.first is None else min(self.first, moment)
            self.last = moment if self.last is None else max(self.last, moment)


class CaptureJudge:
    """Judges the Sage exchanges of one capture into a `Ledger`, one exchange at a time."""

    def __init__(
        self,
        specs: list[CheckSpec],
        *,
        hosts: SageHosts,
        audience: str,
        issuer: str,
        redactor: Redactor,
    ) -> None:
        self.ledger = Ledger(specs)
        self.hosts = hosts
        self.redactor = redactor
        self.tokens = TokenJudge(self.ledger, audience=audience, issuer=issuer)
        self.selection = Selection(self.ledger)
        self.conformance = Conformance(self.ledger)
        self.data = DataAnswers(self.ledger, self.selection, self.conformance)
        self.reach: dict[Face, Reach] = {
            "identity": Reach("network.identity"),
            "api": Reach("network.api"),
        }
        self.gateway: Counter[str] = Counter()
        self.unauthorized: Counter[str] = Counter()
        self.first_denied_without_header: RecordedExchange | None = None
        self.credentials_recorded = 0
        """Requests with an Authorization or Cookie header (a sanitized export has none)."""
        self.pending_limits: dict[bytes, tuple[Judgement, RecordedExchange]] = {}
        self.retried: Counter[str] = Counter()
        self.signers: Counter[str] = Counter()
        """Who wrote the API host's answers: "sage" (API Management or the Web API), "unsigned"
        (a 5xx page neither wrote, for a path no API serves), "other"."""
        self.first_unsigned: RecordedExchange | None = None
        self.seen = Seen()

    def exchange(self, exchange: RecordedExchange) -> Face | None:
        """Judge one exchange; its face, or None when it is not Sage traffic (passed over)."""
        request = exchange.request
        if request.header("authorization") or request.header("cookie"):
            self.credentials_recorded += 1
        face = self.hosts.classify(request.url)
        if face is None:
            return None
        self.seen.met(exchange)
        self.reach[face].met(exchange)
        answer = answer_of(exchange, self.redactor)
        if face == "identity":
            self._identity(exchange, answer)
        elif exchange.answered:
            self._api(exchange, answer)
        return face

    # --- Sage ID ----------------------------------------------------------------------------

    def _identity(self, exchange: RecordedExchange, answer: Answer) -> None:
        if not exchange.answered:
            return
        self.ledger.observed("network.identity", exchange)
        request = exchange.request
        if request.method == "POST" and token_endpoint(request.url):
            self.tokens.token_request(exchange, answer)
        elif urlsplit(request.url).path.rstrip("/").lower().endswith("/authorize"):
            self.tokens.sign_in(exchange)

    # --- the API, layer by layer ------------------------------------------------------------

    def _api(self, exchange: RecordedExchange, answer: Answer) -> None:
        path = api_path(exchange.request.url)
        self._remember(exchange, path.base, path.edition)
        self.ledger.observed("network.api", exchange)
        self._signed(exchange, answer, published=path.published)
        if path.resource is None:
            return  # the API's root: only whether it answers
        if self._rate_limited(exchange, answer, path.resource):
            return
        if not self._gateway(exchange, answer):
            return
        authorization = exchange.request.header("authorization")
        if authorization is None:
            if not self._without_header(exchange, answer):
                return
        elif not self._authorization(exchange, answer, authorization):
            return
        pair = None
        if path.company_scoped:
            pair = self.selection.request(exchange, answer, path.label())
            if pair is None and refused_by_api(answer):
                return  # no pair (or a malformed one), and the API denied it: judged there
            if pair is not None and len(self.seen.pairs) < 8 and pair not in self.seen.pairs:
                self.seen.pairs.append(pair)
        scope = (path.base, *(pair or ("", "")))
        linted = self._lint(exchange, probing=self.conformance.has_sample(scope))
        params = dict(exchange.request.query)
        self.data.judge(Request(exchange, answer, path, params, pair, linted))

    def _remember(self, exchange: RecordedExchange, base: str, edition: str | None) -> None:
        if base not in self.seen.api_bases and len(self.seen.api_bases) < 5:
            self.seen.api_bases.append(base)
        if edition:
            self.seen.editions.add(edition)

    def _signed(self, exchange: RecordedExchange, answer: Answer, *, published: bool) -> None:
        if answer.ok or denial(answer).layer != "unknown":
            self.signers["sage"] += 1
        elif unsigned_failure(answer) and not published:
            # API Management answers a path no API is published on itself: an error page
            # nobody at Sage signed for one came from something in front of the gateway. (For
            # an API's own path it may be the site behind the gateway: judged by the data.)
            self.signers["unsigned"] += 1
            if self.first_unsigned is None:
                self.first_unsigned = trimmed(exchange)
        else:
            self.signers["other"] += 1

    def _rate_limited(self, exchange: RecordedExchange, answer: Answer, resource: str) -> bool:
        """A gateway limit is a finding only if the same request was not answered later
        (a client that waits and retries, as the live run does, gets past it)."""
        key = _request_key(exchange)
        if answer.status in (403, 429) and gateway_limit(answer) is not None:
            owner = {"sites": "sites.list", "customers": "customers.list"}.get(
                resource, "api.resources"
            )
            judgement = judge_limit(answer, f"GET {resource}", check=owner)
            if judgement is not None and len(self.pending_limits) < MAX_PENDING_LIMITS:
                self.pending_limits.setdefault(key, (judgement, trimmed(exchange)))
            else:
                self.ledger.judged(judgement, exchange)
            return True
        held = self.pending_limits.pop(key, None)
        if held is not None:
            self.retried[held[0].check] += 1
        return False

    def _gateway(self, exchange: RecordedExchange, answer: Answer) -> bool:
        """The gateway's word on the key; False when it refused the request."""
        key_sent = exchange.request.header("ocp-apim-subscription-key") is not None
        if answer.status in (401, 403):
            judgement = judge_gateway_key(answer, key_sent=key_sent, live=False)
            if self.ledger.judged(judgement, exchange):
                return False
        reached = answer.ok or (answer.status is not None and denial(answer).layer == "api")
        if reached:
            self.gateway["accepted" if key_sent else "not required"] += 1
            self.ledger.observed("gateway.subscription_key", exchange)
        else:
            self.gateway["not shown"] += 1
        return True

    def _authorization(self, exchange: RecordedExchange, answer: Answer, value: str) -> bool:
        """The header's shape, then the token in it; False when either explains a refusal."""
        header = judge_sent_header(value, answer)
        if self.ledger.judged(header, exchange):
            if header is not None and header.outcome == "failed":
                return False
        else:
            self.ledger.observed("header.authorization", exchange)
        if value.strip()[:6].lower() != "bearer":
            return True
        return not self.tokens.bearer(exchange, bare_token(value), answer)

    def _without_header(self, exchange: RecordedExchange, answer: Answer) -> bool:
        """An API request recorded without an Authorization header: not sent, or left out of
        the capture (a sanitized export; judged once the whole capture is read). True when
        the API answered it with data, which is then judged as usual."""
        if answer.ok:
            self.unauthorized["answered"] += 1
            return True
        if answer.status == 401 and denial(answer).layer == "api":
            self.unauthorized["denied"] += 1
            if self.first_denied_without_header is None:
                self.first_denied_without_header = trimmed(exchange)
        else:
            self.unauthorized["other"] += 1
        return False

    def _lint(self, exchange: RecordedExchange, *, probing: bool) -> bool:
        """The query options, judged as Sage's query guide has them; True when a failure was
        found (it explains a 400). After a sample (`probing`), the live check's own capability
        probes are facts of customers.query_conformance, not mistakes."""
        query = exchange.request.query
        if not any(name.startswith("$") for name, _ in query):
            return False
        if probing and dict(query) in CAPABILITY_PROBES.values():
            return False
        failed = False
        for judgement in judge_query(query):
            self.ledger.judged(judgement, exchange)
            failed = failed or judgement.outcome == "failed"
        return failed

    # --- the end of the capture -------------------------------------------------------------

    def finish(self) -> None:
        through = self.gateway["accepted"] + self.gateway["not required"]
        for judgement, exchange in self.pending_limits.values():
            # As in a live run: a limit before any request got through the gateway is the
            # gateway's answer to the subscription, not a finding about one module.
            owner = judgement if through else replace(judgement, check="gateway.subscription_key")
            self.ledger.judged(owner, exchange)
        for check, count in self.retried.items():
            self.ledger.fact(check, "rate limited, answered on retry", count)
        self._in_between()
        self.selection.finish()
        self.data.finish()

    def _in_between(self) -> None:
        """An error page nobody at Sage signed for a path API Management answers itself, and
        not one answer from the host that API Management or the Web API wrote: what answered
        stands in front of the gateway (the live network.api check asks such a path)."""
        first = self.first_unsigned
        if first is None or self.signers["sage"]:
            return
        parts = urlsplit(first.request.url)
        host = parts.netloc.rpartition("@")[2]
        said = status_phrase(answer_of(first, self.redactor))
        evidence = (
            f"although {parts.path or '/'} is a path no API is published on, which API Management "
            f"answers itself; and no answer from {host} in the capture came from either"
        )
        judgement = judge_answered_in_between(host, said, evidence)
        self.ledger.judged(judgement, first, times=self.signers["unsigned"])


def _request_key(exchange: RecordedExchange) -> bytes:
    request = exchange.request
    parts = [request.method, request.url]
    parts += [request.header(name) or "" for name in ("authorization", "x-site", "x-company")]
    return hashlib.blake2b("\0".join(parts).encode(), digest_size=16).digest()
