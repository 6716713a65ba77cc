"""Query conformance from a capture: the recorded sample is the answer key for recorded queries.

When a capture holds `GET customers?$orderby=id asc&$top=N` answered with ascending whole-number
ids (the live check's sample, or a client's first page), those are the customers with the
lowest ids, so any later query of the same company that can only reach them has one right
answer: a `$filter` with a top-level `id le`/`id lt`/`id eq` bound inside the sample (the live
check's probes all carry one), or a page of `$orderby=id asc` within it. Such answers are judged
with the live check's answer key and described with its words (`rules/conformance.py`).

How the server compares strings (case) is not probed here: it stays unknown, and the key then
judges only what holds under every plausible collation, so a capture cannot produce a wrong
finding where the live check would have learned the rule first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sage200_doctor.http.answer import Answer
from sage200_doctor.http.odata_eval import AnswerKey, Row, StringRules, orderable
from sage200_doctor.http.odata_gen import probe_fields
from sage200_doctor.http.odata_tree import And, Compare, Expr, Query
from sage200_doctor.http.sage import status_phrase
from sage200_doctor.rules.conformance import (
    CHECK_ID,
    COUNT_PARAMS,
    DOCUMENTED_TOP_MAX,
    SKIP_PARAMS,
    Mismatch,
    Probed,
    judge_mismatch,
    judge_unsorted_sample,
    usable_sample,
)

from .filters import parse_query
from .ledger import Ledger
from .model import RecordedExchange

FOUND_BY = "triage of a recorded query"
MAX_SCOPES = 8
CAPABILITY_PROBES = {
    "$count=true": COUNT_PARAMS,
    "$skip without $orderby": SKIP_PARAMS,
    "$top default": {"$select": "id"},
    "$top maximum": {"$select": "id", "$top": str(DOCUMENTED_TOP_MAX + 1)},
}
"""The live check's capability probes: their answers are facts, not findings."""
Scope = tuple[str, str, str]
"""(API base, X-Site, X-Company): a sample answers for one company only."""


@dataclass
class Sample:
    rows: list[Row]
    key: AnswerKey
    entry: int
    judged: int = 0
    rejected: int = 0


@dataclass
class Conformance:
    ledger: Ledger
    samples: dict[Scope, Sample] = field(default_factory=dict)

    def has_sample(self, scope: Scope) -> bool:
        return scope in self.samples

    def customers(
        self, exchange: RecordedExchange, answer: Answer, params: dict[str, str], scope: Scope
    ) -> bool:
        """Judge a GET customers answer as part of the conformance check; True when it was
        one of its requests (the sample, a capability probe, a query within the sample)."""
        if _is_sample_request(params):
            return self._sample(exchange, answer, params, scope)
        sample = self.samples.get(scope)
        if sample is None:
            return False
        label = next((name for name, probe in CAPABILITY_PROBES.items() if probe == params), None)
        if label is not None:
            self.ledger.fact(CHECK_ID, label, status_phrase(answer))
            self.ledger.observed(CHECK_ID, exchange)
            return True
        query = parse_query(params, sample.key.kinds)
        if query is None or not _within(query, sample):
            return False
        self._judge(exchange, answer, params, query, sample)
        return True

    def _sample(
        self, exchange: RecordedExchange, answer: Answer, params: dict[str, str], scope: Scope
    ) -> bool:
        body = answer.json if answer.ok else None
        if not isinstance(body, list):
            return False
        rows = usable_sample(answer)
        if rows is None:
            ids = [row.get("id") for row in body if isinstance(row, dict)]
            whole = [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]
            if whole and len(whole) == len(ids):
                what = "GET customers?$orderby=id asc"
                self.ledger.judged(judge_unsorted_sample(whole, params, what), exchange)
            return bool(whole)
        if scope in self.samples or len(self.samples) < MAX_SCOPES:
            key = AnswerKey(rows, probe_fields(rows), StringRules())
            self.samples[scope] = Sample(rows, key, exchange.index)
            self.ledger.fact(
                CHECK_ID,
                "sample",
                f"{len(rows)} customers, ids {rows[0]['id']}-{rows[-1]['id']} (entry {exchange.index})",
            )
        self.ledger.observed(CHECK_ID, exchange)
        return True

    def _judge(
        self,
        exchange: RecordedExchange,
        answer: Answer,
        params: dict[str, str],
        query: Query,
        sample: Sample,
    ) -> None:
        if answer.status == 400:
            # What a server refuses is a capability (a fact), as in the live check.
            sample.rejected += 1
            self.ledger.fact(CHECK_ID, "queries rejected (HTTP 400)", sample.rejected)
            self.ledger.observed(CHECK_ID, exchange)
            return
        body = answer.json if answer.ok else None
        if not isinstance(body, list) or not all(isinstance(row, dict) for row in body):
            return
        sample.judged += 1
        self.ledger.fact(CHECK_ID, "queries judged against the sample", sample.judged)
        problems = tuple(sample.key.judge(query, body))
        if not problems:
            self.ledger.observed(CHECK_ID, exchange)
            return
        outcome = Probed(query, params, answer, body, problems)
        mismatch = Mismatch(outcome, sample.key.expect(query), FOUND_BY)
        self.ledger.judged(judge_mismatch(sample.rows, sample.key, mismatch), exchange)

    def summary(self) -> str:
        judged = sum(sample.judged for sample in self.samples.values())
        if not self.samples:
            return ""
        return (
            f"{judged} recorded quer{'y' if judged == 1 else 'ies'} over the recorded sample "
            "answered as documented."
        )


def _is_sample_request(params: dict[str, str]) -> bool:
    """`$orderby=id asc` and `$top`, nothing that narrows or shifts the page."""
    orderby = " ".join(params.get("$orderby", "").lower().split())
    return orderby == "id asc" and "$top" in params and set(params) <= {"$orderby", "$top"}


def _within(query: Query, sample: Sample) -> bool:
    """Whether every customer the query can reach is in the sample, and its order is one
    every plausible collation agrees on."""
    rows = sample.rows
    if query.orderby is not None:
        field, _ = query.orderby
        kind = sample.key.kinds.get(field)
        if kind is None or not orderable(field, kind, rows, sample.key.rules):
            return False
    if query.filter is not None:
        return _bounded(query.filter, int(rows[-1]["id"]))
    return (
        query.orderby == ("id", False)
        and query.top is not None
        and (query.skip or 0) + query.top <= len(rows)
    )


def _bounded(expr: Expr, last: int) -> bool:
    """A top-level conjunct keeps ids at or below `last` (the sample holds every such id)."""
    return any(_caps_id(part, last) for part in _conjuncts(expr))


def _conjuncts(expr: Expr) -> list[Expr]:
    if isinstance(expr, And):
        return _conjuncts(expr.left) + _conjuncts(expr.right)
    return [expr]


def _caps_id(expr: Expr, last: int) -> bool:
    if not isinstance(expr, Compare) or expr.field != "id" or expr.literal.kind != "int":
        return False
    value: Any = expr.literal.value
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return (expr.op in ("le", "eq") and value <= last) or (expr.op == "lt" and value <= last + 1)
