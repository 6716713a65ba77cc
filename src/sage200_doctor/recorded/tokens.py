"""Sage ID in a capture: the token requests and their answers, and every access token used.

Token endpoint answers are judged as the refresh check judges them (OAuth errors, the granted
scope, a refresh token issued or not). Each access token sent to the API is decoded without
verifying its signature (a capture cannot be checked against the identity server's keys
offline; the facts say so) and judged at the moment of the request (`startedDateTime`):
expired or not, for the right audience, from the expected issuer, with offline_access.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sage200_doctor.http import oauth
from sage200_doctor.http.answer import Answer
from sage200_doctor.rules import Judgement
from sage200_doctor.rules.token import (
    ApiClock,
    granted_scopes,
    judge_audience,
    judge_clock,
    judge_expiry,
    judge_issuer,
    judge_not_a_jwt,
    judge_scope,
    judge_token_error,
)

from .ledger import Ledger
from .model import RecordedExchange

MAX_TOKENS = 512
"""Distinct tokens remembered; beyond, each use is judged on its own (bounded memory)."""
SIGNATURE = (
    "not verified: a capture cannot be checked against the identity server's keys offline "
    "(sage200-doctor run verifies it)"
)
EXPIRY_FIX = (
    "refresh it before it runs out (Sage ID's access tokens last about an hour; the refresh "
    "token gives a new one)"
)


WHOSE = "The capturing machine's"
"""Whose clock stamped the capture's times (not the machine running triage)."""


@dataclass
class TokenSeen:
    """One distinct access token: its claims (or why it has none) and what was judged."""

    claims: dict[str, Any]
    problem: oauth.NotAJwt | None = None
    minted_by: str | None = None
    """The token URL whose answer in this capture issued it."""
    judged: bool = False
    expired: Judgement | None = None
    uses: int = 0


@dataclass
class TokenJudge:
    ledger: Ledger
    audience: str
    issuer: str
    """The issuer expected of tokens not issued within the capture."""
    token_urls: list[str] = field(default_factory=list)
    _tokens: dict[bytes, TokenSeen] = field(default_factory=dict)
    used: int = 0
    last_left: float | None = None

    # --- the token endpoint -----------------------------------------------------------------

    def token_request(self, exchange: RecordedExchange, answer: Answer) -> None:
        """A POST to the token endpoint, answered."""
        request = exchange.request
        url = request.url.split("?")[0]
        if url not in self.token_urls and len(self.token_urls) < 5:
            self.token_urls.append(url)
        grant_type = request.form_value("grant_type") or "unknown"
        self.ledger.fact("token.refresh", "grant_type", grant_type)
        self.ledger.fact("token.refresh", "client authentication", _client_auth(exchange))
        result = oauth.parse_token_answer(answer)
        if isinstance(result, oauth.TokenError):
            self.ledger.judged(judge_token_error(result), exchange)
            return
        self.ledger.observed("token.refresh", exchange)
        seen = self._seen(result.access_token)
        seen.minted_by = url
        self._judge_token(seen, exchange)
        granted = granted_scopes(seen.claims, result.scope)
        self.ledger.fact("token.scope", "granted scope", " ".join(sorted(granted)) or "unknown")
        judgement = judge_scope(
            granted,
            requested=request.form_value("scope"),
            refresh_token_issued=result.refresh_token is not None or grant_type == "refresh_token",
            requested_by="The token request's scope",
        )
        self._scope(judgement, exchange)

    def sign_in(self, exchange: RecordedExchange) -> None:
        """A request to the authorize endpoint: the scope the sign-in asked for."""
        requested = exchange.request.query_value("scope")
        if requested is None:
            return
        if "offline_access" in requested.split():
            self.ledger.observed("token.scope", exchange)
            return
        judgement = judge_scope(
            set(),
            requested=requested,
            refresh_token_issued=None,
            requested_by="The sign-in request (authorize)",
        )
        self.ledger.judged(judgement, exchange)

    # --- tokens used ------------------------------------------------------------------------

    def bearer(self, exchange: RecordedExchange, token: str, answer: Answer) -> bool:
        """Judge the access token sent with `exchange`; True when what is wrong with it
        explains the API's 401."""
        self.used += 1
        seen = self._seen(token)
        seen.uses += 1
        denied = answer.status == 401
        if seen.problem is not None:
            self.ledger.judged(judge_not_a_jwt(seen.problem), exchange)
            return denied
        wrong_audience = self._judge_token(seen, exchange)
        expired = self._expiry(seen, exchange, answer)
        return denied and (wrong_audience or expired)

    def _expiry(self, seen: TokenSeen, exchange: RecordedExchange, answer: Answer) -> bool:
        if exchange.started is None:
            return False
        left = oauth.seconds_left(seen.claims, now=exchange.started.timestamp())
        self.last_left = left
        judgement = seen.expired or judge_expiry(left, fix=EXPIRY_FIX)
        if judgement is None or (left is not None and left >= -oauth.CLOCK_SKEW_S):
            self.ledger.observed("token.claims")
            return False
        started = exchange.started.timestamp()
        exp = oauth.seconds_value(seen.claims.get("exp"))
        api = ApiClock.of(answer)
        asked = f"{exchange.request.method} {urlsplit(exchange.request.url).path}"
        clock = None
        if exp is not None:
            clock = judge_clock(exp, local_now=started, api=api, whose=WHOSE, asked=asked)
        if clock is not None:
            # The API accepted it, or its Date says it was still valid: the capturing
            # machine's clock is off, not the token (judged as a live run judges it).
            self.ledger.judged(clock, exchange)
            return False
        seen.expired = judgement
        self.ledger.judged(judgement, exchange)
        return True

    def _judge_token(self, seen: TokenSeen, exchange: RecordedExchange) -> bool:
        """Audience, issuer and (for tokens not issued in the capture) scope, once per token;
        True when the audience is wrong."""
        audience = judge_audience(seen.claims, self.audience)
        if seen.judged:
            if audience is not None:
                self.ledger.judged(audience, exchange)
            return audience is not None
        seen.judged = True
        self.ledger.fact("token.claims", "signature", SIGNATURE)
        issuer = str(seen.claims.get("iss", ""))
        self.ledger.fact("token.claims", "issuer", issuer or "none")
        expected = oauth.expected_issuer(seen.minted_by) if seen.minted_by else self.issuer
        where = "the Sage ID the token request went to" if seen.minted_by else "Sage ID's"
        found = [
            audience,
            judge_issuer(
                issuer, expected, f"The token is from {issuer or 'no issuer'}.", expected_from=where
            ),
        ]
        if not any(self.ledger.judged(j, exchange) for j in found):
            self.ledger.observed("token.claims", exchange)
        if seen.minted_by is None:
            granted = granted_scopes(seen.claims, None)
            self.ledger.fact("token.scope", "granted scope", " ".join(sorted(granted)) or "unknown")
            self._scope(judge_scope(granted, requested=None, refresh_token_issued=None), exchange)
        return audience is not None

    def _scope(self, judgement: Judgement | None, exchange: RecordedExchange) -> None:
        if not self.ledger.judged(judgement, exchange):
            self.ledger.observed("token.scope", exchange)

    def _seen(self, token: str) -> TokenSeen:
        digest = hashlib.blake2b(token.encode(), digest_size=16).digest()
        seen = self._tokens.get(digest)
        if seen is None:
            seen = _decoded(token)
            if len(self._tokens) < MAX_TOKENS:
                self._tokens[digest] = seen
        return seen

    @property
    def distinct(self) -> int:
        return len(self._tokens)


def _decoded(token: str) -> TokenSeen:
    try:
        return TokenSeen(oauth.peek_claims(token))
    except oauth.NotAJwt as problem:
        return TokenSeen({}, problem=problem)


def _client_auth(exchange: RecordedExchange) -> str:
    request = exchange.request
    if (request.header("authorization") or "").strip().lower().startswith("basic"):
        return "basic"
    if request.form_value("client_secret") is not None:
        return "body"
    return "none (a public client, or PKCE)"


def token_endpoint(url: str) -> bool:
    """Whether `url` is a token endpoint (`…/oauth/token`, `…/token`)."""
    path = urlsplit(url).path.rstrip("/").lower()
    return path.endswith("/token")
