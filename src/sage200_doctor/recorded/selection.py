"""X-Site and X-Company in a capture: sent, well-formed, and among the pairs GET sites listed.

Every company-scoped request is checked for both headers as it is read. Whether a pair is one
GET sites lists can only be said once the capture's sites answer is known (it may come after),
so each distinct pair is kept with the first exchange that sent it and, bounded, the refusals
(401) it got: at the end an unlisted pair is the finding (its refusals are its evidence), and
the refusals of a listed pair go back to the checks of the requests that got them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sage200_doctor.http.answer import Answer
from sage200_doctor.rules import Judgement
from sage200_doctor.rules.authorization import refused_by_api
from sage200_doctor.rules.sites import GUID, Pair, find_pair, judge_selection

from .ledger import Ledger, trimmed
from .model import RecordedExchange

CHECK_ID = "sites.selection"
MISSING = ("faq.postman.site-company", "faq.errors.401")
MAX_PAIRS = 32
KEPT_PER_PAIR = 4


@dataclass
class Refusal:
    judgement: Judgement
    exchanges: list[RecordedExchange] = field(default_factory=list)
    count: int = 0


@dataclass
class SentPair:
    """A pair the capture sent: its first exchange, and the refusals it got."""

    first: RecordedExchange
    uses: int = 0
    refusals: dict[tuple[str, str], Refusal] = field(default_factory=dict)


@dataclass
class Selection:
    ledger: Ledger
    pairs: list[Pair] | None = None
    """The pairs of the latest GET sites answer (None: the capture holds none)."""
    sent: dict[tuple[str, str], SentPair] = field(default_factory=dict)

    def request(
        self, exchange: RecordedExchange, answer: Answer, label: str
    ) -> tuple[str, str] | None:
        """Judge the headers of a company-scoped request. The pair, when both are there and
        well-formed; None when they are not (and a refusal is then this check's)."""
        site = exchange.request.header("x-site")
        company = exchange.request.header("x-company")
        denied = refused_by_api(answer)
        missing = [name for name, value in (("X-Site", site), ("X-Company", company)) if not value]
        if missing:
            if denied:
                self.ledger.judged(_missing(label, missing), exchange)
            return None
        assert site is not None
        assert company is not None
        malformed = _malformed(site, company)
        if malformed:
            self.ledger.judged(_malformed_judgement(malformed, denied), exchange)
            return None
        pair = (site.strip().lower(), company.strip())
        if pair not in self.sent and len(self.sent) < MAX_PAIRS:
            self.sent[pair] = SentPair(trimmed(exchange))
        if pair in self.sent:
            self.sent[pair].uses += 1
        return pair

    def defer(
        self, pair: tuple[str, str], judgement: Judgement, exchange: RecordedExchange
    ) -> bool:
        """Hold a refusal of a request that sent `pair` until the pairs are known; False when
        the pair is not held (too many pairs): judge it now."""
        held = self.sent.get(pair)
        if held is None:
            return False
        refusal = held.refusals.setdefault((judgement.check, judgement.summary), Refusal(judgement))
        refusal.count += 1
        if len(refusal.exchanges) < KEPT_PER_PAIR:
            refusal.exchanges.append(trimmed(exchange))
        return True

    def finish(self) -> None:
        """Judge every pair sent against the sites list, and release the refusals."""
        for (site, company), held in self.sent.items():
            listed = self.pairs is None or find_pair(self.pairs, site, company) is not None
            if listed:
                if self.pairs is not None:
                    self.ledger.observed(CHECK_ID, held.first)
                self._release(held)
                continue
            assert self.pairs is not None
            judgement = judge_selection(self.pairs, site, company)
            self.ledger.judged(judgement, held.first)
            for refusal in held.refusals.values():
                for exchange in refusal.exchanges:
                    if exchange.index != held.first.index:
                        self.ledger.judged(judgement, exchange, times=0)
            self.ledger.judged(judgement, None, times=max(0, held.uses - 1))

    def _release(self, held: SentPair) -> None:
        for refusal in held.refusals.values():
            kept = refusal.exchanges
            for exchange in kept:
                self.ledger.judged(refusal.judgement, exchange)
            if refusal.count > len(kept):
                self.ledger.judged(refusal.judgement, None, times=refusal.count - len(kept))


def _missing(label: str, missing: list[str]) -> Judgement:
    return Judgement(
        CHECK_ID,
        "failed",
        f"GET {label} was sent without {' and '.join(missing)}, and the API denied it.",
        "Every request but GET sites needs X-Site and X-Company; take both from the GET sites "
        "answer (site_id and company_id).",
        MISSING,
    )


def _malformed(site: str, company: str) -> list[str]:
    problems = []
    if not GUID.match(site.strip()):
        problems.append("X-Site is not a GUID; copy site_id from GET sites")
    if not company.strip().isdigit():
        problems.append("X-Company is not a whole number; copy company_id from GET sites")
    if site != site.strip() or company != company.strip():
        problems.append("a value has leading or trailing whitespace")
    return problems


def _malformed_judgement(problems: list[str], denied: bool) -> Judgement:
    return Judgement(
        CHECK_ID,
        "failed" if denied else "warning",
        "X-Site / X-Company are malformed"
        + (", and the API denied the request." if denied else "."),
        "; ".join(problems) + ".",
        ("faq.postman.site-company",),
    )
