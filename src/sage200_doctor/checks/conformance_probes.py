"""The probes of customers.query_conformance: each bounded query sent once, within the budget,
and judged against the answer key built from the sample (see conformance.py)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.http.odata_eval import AnswerKey, Expected, Row
from sage200_doctor.http.odata_tree import Expr, Query
from sage200_doctor.http.sage import status_phrase
from sage200_doctor.http.session import Answer
from sage200_doctor.rules.conformance import Mismatch, Probed, ids_text

REQUEST_BUDGET = 40
"""Requests the check may send in all: sample, capability probes, generated queries."""
TIME_BUDGET_S = 30.0
"""No new request is started after this long (429 waits included)."""


Key = tuple[tuple[str, str], ...]


def _key(params: dict[str, str]) -> Key:
    """A request's identity among the probes (the same parameters in any order)."""
    return tuple(sorted(params.items()))


@dataclass
class Probes:
    """The run's budgeted GET customers requests, and the answer key they are judged by."""

    run: Diagnosis
    rows: list[Row]
    key: AnswerKey
    bound: Expr
    sent: int = 0
    started: float = field(default_factory=time.monotonic)
    mismatches: list[Mismatch] = field(default_factory=list)
    halted: str | None = None
    select: bool = False
    """`$select` is accepted: probes then ask for the fields they use only."""
    _cache: dict[Key, Probed] = field(default_factory=dict)
    _under_way: set[Key] = field(default_factory=set)
    """Requests sent ahead (already counted in `sent`) that no probe has asked for yet."""

    def spent(self, reserve: int = 0) -> bool:
        return self.halted is not None or self.sent >= REQUEST_BUDGET - reserve or self._late

    @property
    def _late(self) -> bool:
        return time.monotonic() - self.started > TIME_BUDGET_S

    def not_probed(self) -> str:
        """Why a probe was not sent, for the facts table."""
        if self.halted is not None:
            return f"not probed: probing stopped after {self.halted}"
        if self._late:
            return f"not probed: the {TIME_BUDGET_S:.0f} s time budget was spent"
        return f"not probed: the budget of {REQUEST_BUDGET} requests was spent"

    def send(self, params: dict[str, str], *, reserve: int = 0) -> Answer | None:
        """A GET customers within the budget (less `reserve`); None once it is spent."""
        key = _key(params)
        if key in self._under_way:
            self._under_way.discard(key)
            return self.run.get("customers", params=params)
        if self.spent(reserve):
            return None
        self.sent += 1
        return self.run.get("customers", params=params)

    def send_ahead(self, params: dict[str, str], *, reserve: int = 0) -> None:
        """Start a GET customers that a probe will `send` later, within the same budget."""
        key = _key(params)
        if key in self._under_way or key in self._cache or self.spent(reserve):
            return
        if self.run.get_ahead("customers", params=params):
            self.sent += 1
            self._under_way.add(key)

    @property
    def under_way(self) -> set[Key]:
        return set(self._under_way)

    def adopt(self, under_way: set[Key]) -> None:
        """Requests sent ahead for this check before it ran: counted, and taken when asked."""
        fresh = under_way - self._under_way
        self._under_way |= fresh
        self.sent += len(fresh)

    def params(self, query: Query, *, select: bool | None = None) -> dict[str, str]:
        """What `query` is sent as: within the sample's bounds, `$select` as now (or `select`)."""
        chosen = self.select if select is None else select
        return query.params(within=self.bound, top=len(self.rows), select=chosen)

    def unsent(self, queries: Sequence[Query]) -> int:
        """How many distinct requests asking `queries` would still send."""
        keys = {_key(self.params(query)) for query in queries}
        return len(keys - self._under_way - self._cache.keys())

    def ask_ahead(
        self, queries: Sequence[Query], *, select: bool | None = None, reserve: int = 0
    ) -> None:
        """`send_ahead` the queries `ask` will send; `select` as it is expected to be by then."""
        for query in queries:
            self.send_ahead(self.params(query, select=select), reserve=reserve)

    def ask(self, query: Query, found_by: str, *, reserve: int = 0) -> Probed:
        """Send `query` within the sample's bounds and judge the answer.

        Answers are kept by query text: asking again costs nothing and answers the same, which
        the search relies on when it replays what it found."""
        params = self.params(query)
        cache_key = _key(params)
        if cache_key in self._cache:
            return self._cache[cache_key]
        outcome = self.judge(query, params, self.send(params, reserve=reserve))
        if outcome.answer is not None:
            self._cache[cache_key] = outcome
        if outcome.problems:
            self.mismatches.append(Mismatch(outcome, self.key.expect(query), found_by))
        return outcome

    def judge(self, query: Query, params: dict[str, str], answer: Answer | None) -> Probed:
        if answer is None or answer.status == 400:
            return Probed(query, params, answer)
        body = answer.json
        if not answer.ok:
            self.halted = status_phrase(answer)
            return Probed(query, params, answer)
        if not isinstance(body, list) or not all(isinstance(row, dict) for row in body):
            return Probed(
                query,
                params,
                answer,
                None,
                (f"answered with {answer.describe_body()}, not a list of customers",),
            )
        return Probed(query, params, answer, body, tuple(self.key.judge(query, body)))

    def paging_mismatch(self, seen: list[object], size: int) -> None:
        """Pages of `$orderby=id asc` that do not add up to the sample: record what is off."""
        expected = [row["id"] for row in self.rows]
        counted = Counter(map(repr, seen))
        twice = sorted({i for i in seen if counted[repr(i)] > 1}, key=repr)
        problems = [f"returned id(s) {ids_text(twice)} on more than one page"] if twice else []
        gaps = [i for i in expected if i not in seen]
        if gaps:
            problems.append(f"left out id(s) {ids_text(gaps)} between the pages")
        extra = [i for i in seen if i not in expected]
        if extra:
            problems.append(
                f"returned id(s) {ids_text(extra)}, which are not among the first {len(expected)}"
            )
        if not problems:
            problems.append("returned the sampled customers out of order")
        starts = ", ".join(str(start) for start in range(0, len(expected), size))
        params = {"$orderby": "id asc", "$top": str(size), "$skip": starts}
        outcome = Probed(
            Query(orderby=("id", False)), params, None, [{"id": i} for i in seen], tuple(problems)
        )
        everything = frozenset(expected)
        self.mismatches.append(
            Mismatch(
                outcome, Expected(everything, everything, len(expected), None), "the paging probe"
            )
        )

    def rejudge(self, outcome: Probed, found_by: str) -> None:
        """Judge an earlier answer again, now that the string rules are known."""
        if outcome.rows is None or outcome.problems:
            return
        problems = tuple(self.key.judge(outcome.query, outcome.rows))
        if problems:
            judged = Probed(outcome.query, outcome.params, outcome.answer, outcome.rows, problems)
            self.mismatches.append(Mismatch(judged, self.key.expect(outcome.query), found_by))


CHECK_ID = "customers.query_conformance"
DRAWING = CHECK_ID + ":drawing"
