"""customers.query_conformance: do `$filter`, `$orderby`, `$top` and `$skip` answer correctly?

The server answers over all of the company's customers; the answer key knows only a sample. To
compare soundly, the sample is a contiguous page, the customers with the lowest ids
(`$orderby=id asc&$top=N`), and every probe is AND-ed with `id ge FIRST and id le LAST`, so the
server can only reach customers the sample holds. The first probe sends the bounds alone and
must return exactly the sample; only then are the other answers judged.

Capability differences (no string functions, a lower `$top` cap, `$skip` allowed without
`$orderby`) are reported as facts. Wrong answers fail the check with the smallest wrong query
that property-based probing found (hypothesis, derandomised by `SEED`) and both answers.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import check, fail, skip, warn
from sage200_doctor.http.odata_eval import AnswerKey, Expected, Row, StringRules
from sage200_doctor.http.odata_gen import Capabilities, documented_examples, probe_fields
from sage200_doctor.http.odata_tree import Expr, Query, id_range
from sage200_doctor.http.sage import status_phrase
from sage200_doctor.http.session import Answer

from . import conformance_facts

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy
from .sites import explain_http_failure

SAMPLE_SIZE = 50
REQUEST_BUDGET = 40
"""Requests the check may send in all: sample, capability probes, generated queries."""
TIME_BUDGET_S = 30.0
"""No new request is started after this long (429 waits included)."""
SEED = 200
"""Fixes the generated queries: the same sample gives the same probes on every run."""
SEARCH = "property-based probing"
SAMPLE_PARAMS = {"$orderby": "id asc", "$top": str(SAMPLE_SIZE)}


Key = tuple[tuple[str, str], ...]


def _key(params: dict[str, str]) -> Key:
    """A request's identity among the probes (the same parameters in any order)."""
    return tuple(sorted(params.items()))


@dataclass(frozen=True)
class Outcome:
    """One bounded query, sent (or not: budget spent) and judged."""

    query: Query
    params: dict[str, str]
    answer: Answer | None
    rows: list[Row] | None = None
    problems: tuple[str, ...] = ()

    @property
    def rejected(self) -> bool:
        return self.answer is not None and self.answer.status == 400

    @property
    def ids(self) -> list[object]:
        return [row.get("id") for row in self.rows or []]


@dataclass
class Mismatch:
    outcome: Outcome
    expected: Expected | None
    found_by: str
    again: Outcome | None = None


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
    _cache: dict[Key, Outcome] = field(default_factory=dict)
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

    def ask(self, query: Query, found_by: str, *, reserve: int = 0) -> Outcome:
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

    def judge(self, query: Query, params: dict[str, str], answer: Answer | None) -> Outcome:
        if answer is None or answer.status == 400:
            return Outcome(query, params, answer)
        body = answer.json
        if not answer.ok:
            self.halted = status_phrase(answer)
            return Outcome(query, params, answer)
        if not isinstance(body, list) or not all(isinstance(row, dict) for row in body):
            return Outcome(
                query,
                params,
                answer,
                None,
                (f"answered with {answer.describe_body()}, not a list of customers",),
            )
        return Outcome(query, params, answer, body, tuple(self.key.judge(query, body)))

    def paging_mismatch(self, seen: list[object], size: int) -> None:
        """Pages of `$orderby=id asc` that do not add up to the sample: record what is off."""
        expected = [row["id"] for row in self.rows]
        counted = Counter(map(repr, seen))
        twice = sorted({i for i in seen if counted[repr(i)] > 1}, key=repr)
        problems = [f"returned id(s) {_ids(twice)} on more than one page"] if twice else []
        gaps = [i for i in expected if i not in seen]
        if gaps:
            problems.append(f"left out id(s) {_ids(gaps)} between the pages")
        extra = [i for i in seen if i not in expected]
        if extra:
            problems.append(
                f"returned id(s) {_ids(extra)}, which are not among the first {len(expected)}"
            )
        if not problems:
            problems.append("returned the sampled customers out of order")
        starts = ", ".join(str(start) for start in range(0, len(expected), size))
        params = {"$orderby": "id asc", "$top": str(size), "$skip": starts}
        outcome = Outcome(
            Query(orderby=("id", False)), params, None, [{"id": i} for i in seen], tuple(problems)
        )
        everything = frozenset(expected)
        self.mismatches.append(
            Mismatch(
                outcome, Expected(everything, everything, len(expected), None), "the paging probe"
            )
        )

    def rejudge(self, outcome: Outcome, found_by: str) -> None:
        """Judge an earlier answer again, now that the string rules are known."""
        if outcome.rows is None or outcome.problems:
            return
        problems = tuple(self.key.judge(outcome.query, outcome.rows))
        if problems:
            judged = Outcome(outcome.query, outcome.params, outcome.answer, outcome.rows, problems)
            self.mismatches.append(Mismatch(judged, self.key.expect(outcome.query), found_by))


CHECK_ID = "customers.query_conformance"
DRAWING = CHECK_ID + ":drawing"


def _ask_ahead(run: Diagnosis) -> bool:
    """The sample as soon as the token is known; the first wave as soon as the sample is in."""
    if not run.was_sent_ahead("customers", params=SAMPLE_PARAMS):
        run.get_ahead("customers", params=SAMPLE_PARAMS)
        return False  # asked again before the next wait: the first wave needs the answer
    answer = run.peek("customers", params=SAMPLE_PARAMS)
    if answer is None:
        return False
    rows = usable_sample(answer)
    if rows is not None:
        probes = _probes(run, rows)
        _send_first_wave(probes)
        run.prepared[CHECK_ID] = probes.under_way
        _draw_expected(probes)
    return True


def _send_first_wave(probes: Probes) -> None:
    probes.ask_ahead([Query()])
    conformance_facts.send_ahead(probes)
    # With the string rules Sage documents; where the server's differ, the examples that
    # depend on them are sent again when their turn comes.
    examples = documented_examples(probes.rows, probes.key.kinds, StringRules())
    probes.ask_ahead(examples, select=True)  # $select is documented, and probed in this wave


def usable_sample(answer: Answer) -> list[Row] | None:
    """The sampled rows when the check can use them as they are: else None (it says why)."""
    body = answer.json if answer.ok else None
    rows = [row for row in body if isinstance(row, dict)] if isinstance(body, list) else []
    ids = [row.get("id") for row in rows]
    whole = all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    if not rows or not whole or ids != sorted(set(ids)):  # type: ignore[type-var]
        return None
    return rows


def _probes(run: Diagnosis, rows: list[Row]) -> Probes:
    key = AnswerKey(rows, probe_fields(rows), StringRules())
    return Probes(run, rows, key, id_range(rows[0]["id"], rows[-1]["id"]), sent=1)


@check(
    CHECK_ID,
    order=140,
    title="Query options behave as documented",
    verifies="`$filter`, `$orderby`, `$top`, `$skip` behave as documented on a sample of real "
    "records; capability facts (string functions, `$top` limit) reported",
    depends=("customers.list",),
    guidance=("faq.query.odata",),
    ahead=_ask_ahead,
)
def check_query_options_conform(run: Diagnosis) -> str:
    probes = _probes_over_sample(run)
    # The probes go out in waves of requests that do not need each other's answers: the
    # bounds, the capability probes and the documented examples (as for documented string
    # rules), usually sent ahead as soon as the sample came in; then the generated queries
    # (they need what the server accepts).
    probes.adopt(run.prepared.pop(CHECK_ID, set()))
    _send_first_wave(probes)
    probes.ask(Query(), "the sample's own id range")
    inconclusive: str | None = None
    if not probes.mismatches:  # else the bounds themselves are not to be trusted
        caps = conformance_facts.learn(probes, run.facts)
        examples = documented_examples(probes.rows, probes.key.kinds, probes.key.rules)
        probes.ask_ahead(examples)
        generated = _generate(probes, caps, waiting=examples)  # drawn while the examples wait
        for example in examples:
            probes.ask(example, "a query shaped like Sage's documented examples")
        inconclusive = _search_for_wrong_answers(probes, generated, run.facts)
    run.facts["requests"] = probes.sent
    if probes.mismatches:
        _fail_with(probes, probes.mismatches[0])
    if probes.halted:
        warn(f"Query probing stopped early: the API answered {probes.halted}.")
    if inconclusive:
        warn(f"Query probing was incomplete: {inconclusive}.")
    first, last = probes.rows[0]["id"], probes.rows[-1]["id"]
    return (
        f"{probes.sent} requests over {len(probes.rows)} sampled customers (ids {first}-{last}): "
        "every answer was right."
    )


def _probes_over_sample(run: Diagnosis) -> Probes:
    params = SAMPLE_PARAMS
    answer = run.get("customers", params=params)
    what = "GET customers?$orderby=id asc"
    if answer.status == 400:
        fail(f"The API rejected {what} ({status_phrase(answer)}), a documented query.")
    if not answer.ok:
        explain_http_failure(run, answer, what, check="customers.query_conformance")
    body = answer.json
    if not isinstance(body, list):
        fail(f"{what} answered with {answer.describe_body()}, not a list.")
    run.seen_bodies.append(("customers", answer.url, body))
    rows = [row for row in body if isinstance(row, dict)]
    if not rows:
        skip("This company has no customers to try queries on.")
    ids = [
        i for i in (row.get("id") for row in rows) if isinstance(i, int) and not isinstance(i, bool)
    ]
    if len(ids) < len(rows):
        skip(
            "The customers' ids are not all whole numbers, so no query can be bounded to a "
            "sample (api.schema reports the ids themselves)."
        )
    if ids != sorted(set(ids)):
        fail(f"{what} returned ids out of order or repeated: {ids[:12]}", detail=_sent(params))
    probes = _probes(run, rows)
    run.facts["sample"] = (
        f"{len(rows)} customers, ids {ids[0]}-{ids[-1]}, {len(probes.key.kinds)} fields probed"
    )
    return probes


@dataclass
class Generated:
    """The generated queries: drawn on another thread, then sent at once and judged in order."""

    strategy: SearchStrategy[Query]
    room: int
    drawing: Future[list[Query]]


EXPECTED_CAPS = Capabilities(
    operators=frozenset(("eq", "ne", "gt", "ge", "lt", "le")),
    negation=True,
    functions=frozenset(("contains", "startswith", "endswith")),
    skip=True,
)
EXPECTED_RULES = StringRules(case_sensitive=False, functions_case_sensitive=False)
"""What a Sage 200 site usually turns out to accept (SQL Server compares case-insensitively):
the generated queries are drawn for it while the capability probes are still out."""


@dataclass(frozen=True)
class Drawing:
    caps: Capabilities
    rules: StringRules
    room: int
    generated: Generated


def _generate(probes: Probes, caps: Capabilities, *, waiting: Sequence[Query]) -> Generated:
    """The generated queries for what the server accepts: drawn early when it was guessed."""
    # One example per request left (after `waiting`, and one kept back to send the smallest
    # wrong query again): once the budget is spent more examples cost time, no probes.
    room = max(1, REQUEST_BUDGET - probes.sent - probes.unsent(waiting) - 1)
    early = probes.run.prepared.pop(DRAWING, None)
    if isinstance(early, Drawing) and (early.caps, early.rules, early.room) == (
        caps,
        probes.key.rules,
        room,
    ):
        return early.generated
    return _draw(probes, caps, probes.key.rules, room)


def _draw(probes: Probes, caps: Capabilities, rules: StringRules, room: int) -> Generated:
    # Imported here: hypothesis takes a quarter of a second to import, and only this needs it.
    from sage200_doctor.http.odata_search import draw_soon, queries

    strategy = queries(probes.rows, probes.key.kinds, caps, rules)
    return Generated(strategy, room, draw_soon(strategy, seed=SEED, count=room))


def _draw_expected(probes: Probes) -> None:
    """Start drawing for the expected capabilities (`_generate` uses it only if they are)."""
    room = max(1, REQUEST_BUDGET - probes.sent - 1)
    generated = _draw(probes, EXPECTED_CAPS, EXPECTED_RULES, room)
    probes.run.prepared[DRAWING] = Drawing(EXPECTED_CAPS, EXPECTED_RULES, room, generated)


def _search_for_wrong_answers(
    probes: Probes, generated: Generated, facts: dict[str, object]
) -> str | None:
    """Send the generated queries; None, or why the search is inconclusive (hypothesis itself
    broke off: what it drew or found before still counts, nothing is made up after)."""
    from sage200_doctor.http.odata_search import SearchInconclusive

    try:
        _search(probes, generated, facts)
    except SearchInconclusive as stopped:
        facts["generated queries"] = (
            f"{facts.get('generated queries') or 'none judged'}; inconclusive: {stopped}"
        )
        return f"{stopped} (seed {SEED}), so not every generated query was judged"
    return None


def _search(probes: Probes, generated: Generated, facts: dict[str, object]) -> None:
    from sage200_doctor.http.odata_search import search

    before = probes.sent

    def wrong(query: Query) -> bool:
        outcome = probes.ask(query, SEARCH, reserve=1)
        return bool(outcome.problems) or outcome.rejected

    # The search tries the same examples in the same order as the draw (same seed), up to the
    # first wrong answer: drawn first, they are all sent at once, and judged in order. Only
    # when one is wrong does the search run, to shrink it (those requests one at a time).
    drawn = generated.drawing.result()
    probes.ask_ahead(drawn, reserve=1)
    wrong_found = any([wrong(query) for query in drawn])
    if wrong_found:  # found, whatever the shrinking does
        facts["generated queries"] = f"{probes.sent - before} sent (seed {SEED}), one was wrong"
    smallest = (
        search(generated.strategy, wrong, seed=SEED, max_examples=generated.room)
        if wrong_found
        else None
    )
    generated_count = probes.sent - before
    if smallest is None:
        stopped = f"; stopped: {probes.halted}" if probes.halted else ""
        facts["generated queries"] = (
            f"{generated_count} sent (seed {SEED}), all answered correctly{stopped}"
        )
        return
    facts["generated queries"] = (
        f"{generated_count} sent (seed {SEED}); the smallest wrong one is reported"
    )
    found = probes.ask(smallest, SEARCH)
    probes.mismatches = [m for m in probes.mismatches if m.found_by != SEARCH]
    mismatch = Mismatch(found, probes.key.expect(smallest), SEARCH)
    # Sent once more, so that it is the last exchange in the evidence and shows it is stable.
    again = probes.send(found.params)
    if again is not None:
        mismatch.again = probes.judge(smallest, found.params, again)
    probes.mismatches.insert(0, mismatch)


def _fail_with(probes: Probes, mismatch: Mismatch) -> None:
    outcome = mismatch.outcome
    shown = _sent(outcome.params)
    if outcome.rejected and outcome.answer is not None:
        summary = f"The API rejected a well-formed query ({status_phrase(outcome.answer)})."
    else:
        summary = f"The API answered a query wrongly: it {outcome.problems[0]}."
    how = f"Found by {mismatch.found_by}"
    if mismatch.found_by == SEARCH:
        how += f" (hypothesis, seed {SEED}), shrunk to the smallest wrong query it could find"
    lines = [f"Query: {shown}", how + "."]
    if mismatch.expected is not None:
        lines += _expected_lines(probes, mismatch.expected)
    if not outcome.rejected:
        lines.append(f"It returned ids: {_ids(outcome.ids)}")
        lines += [f"- it {problem}" for problem in outcome.problems]
        lines += _values_of_differing_rows(probes, mismatch)
    if mismatch.again is not None:
        same = mismatch.again.ids == outcome.ids and mismatch.again.rejected == outcome.rejected
        lines.append(
            "Sent again (the last exchange in the evidence): "
            + (
                "the same answer."
                if same
                else f"a different answer, ids {_ids(mismatch.again.ids)}: answers are not stable."
            )
        )
    others = len(probes.mismatches) - 1
    if others:
        lines.append(f"{others} other wrong answer(s) were seen; fix this one first.")
    fail(summary, detail="\n".join(lines))


def _expected_lines(probes: Probes, expected: Expected) -> list[str]:
    first, last = probes.rows[0]["id"], probes.rows[-1]["id"]
    lines = [
        f"Over the {len(probes.rows)} sampled customers (ids {first}-{last}) it must return ids: {_ids(sorted(expected.must))}"
    ]
    if expected.may != expected.must:
        lines.append(f"and may also return ids: {_ids(sorted(expected.may - expected.must))}")
    return lines


def _values_of_differing_rows(probes: Probes, mismatch: Mismatch) -> list[str]:
    """What the sample holds, in the fields the query uses, for rows answered wrongly."""
    if mismatch.expected is None:
        return []
    returned = {i for i in mismatch.outcome.ids if isinstance(i, int)}
    expected = mismatch.expected
    wrongly_in = {i for i in returned if i in probes.key.by_id and i not in expected.may}
    differing = sorted((expected.must - returned) | wrongly_in)
    fields = mismatch.outcome.query.fields()
    if not fields:
        return []
    lines = []
    for customer in differing[:5]:
        row = probes.key.by_id[customer]
        values = ", ".join(f"{name}={row.get(name)!r}" for name in fields)
        lines.append(f"  customer {customer} in the sample: {values}")
    return lines


def _ids(ids: Sequence[object]) -> str:
    shown = ", ".join(str(i) for i in ids[:30])
    return (shown or "none") + (f" … ({len(ids)} in all)" if len(ids) > 30 else "")


def _sent(params: dict[str, str]) -> str:
    """The query as a person reads it (the evidence holds it URL-encoded)."""
    return "GET customers?" + "&".join(f"{k}={v}" for k, v in params.items())
