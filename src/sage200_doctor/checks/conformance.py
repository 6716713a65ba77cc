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

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import check, fail, report, report_any, skip, warn
from sage200_doctor.http.odata_eval import AnswerKey, Row, StringRules
from sage200_doctor.http.odata_gen import Capabilities, documented_examples, probe_fields
from sage200_doctor.http.odata_tree import Query, id_range
from sage200_doctor.http.sage import status_phrase
from sage200_doctor.rules.conformance import (
    SEARCH,
    SEED,
    Mismatch,
    Probed,
    judge_mismatch,
    judge_unsorted_sample,
    usable_sample,
)

from . import conformance_facts
from .conformance_probes import CHECK_ID, DRAWING, REQUEST_BUDGET, Probes
from .sites import explain_http_failure

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = ["REQUEST_BUDGET", "SEED", "Probed", "Probes", "usable_sample"]

SAMPLE_SIZE = 50
SAMPLE_PARAMS = {"$orderby": "id asc", "$top": str(SAMPLE_SIZE)}


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
    report_any([judge_unsorted_sample(ids, params, what)])
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
    others = len(probes.mismatches) - 1
    report(judge_mismatch(probes.rows, probes.key, mismatch, others=others))
