"""Judging OData answers over a sample of customers (check customers.query_conformance).

The sample is a contiguous page of the customers with the lowest ids (`$orderby=id asc&$top=N`);
a query bounded to its id range can only reach customers the sample holds, so the answer key
(`http/odata_eval.AnswerKey`) knows what it must return. The live check sends such queries;
triage finds them, and the sample, in a capture. Both describe a wrong answer here, the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sage200_doctor.http.answer import Answer
from sage200_doctor.http.odata_eval import AnswerKey, Expected, Row
from sage200_doctor.http.odata_tree import Query
from sage200_doctor.http.sage import status_phrase
from sage200_doctor.rules import Judgement

CHECK_ID = "customers.query_conformance"
GUIDANCE = ("faq.query.odata",)
SEED = 200
"""Fixes the generated queries: the same sample gives the same probes on every run."""
SEARCH = "property-based probing"
DOCUMENTED_TOP_MAX = 5000
"""$top's documented maximum (Standard, and Professional after February 2019)."""
COUNT_PARAMS = {"$count": "true", "$top": "1"}
SKIP_PARAMS = {"$skip": "1", "$top": "1"}
"""Capability probes: $count, and $skip without $orderby (documented as an error)."""


@dataclass(frozen=True)
class Probed:
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
    """A wrong answer: what came back, what the answer key expected, and how it was found."""

    outcome: Probed
    expected: Expected | None
    found_by: str
    again: Probed | None = None


def usable_sample(answer: Answer) -> list[Row] | None:
    """The sampled rows when they can serve as the answer key as they are: a 2xx list of
    records with whole-number ids, ascending, none repeated. Else None."""
    body = answer.json if answer.ok else None
    rows = [row for row in body if isinstance(row, dict)] if isinstance(body, list) else []
    ids = [row.get("id") for row in rows]
    whole = all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    if not rows or not whole or ids != sorted(set(ids)):  # type: ignore[type-var]  # whole: ints
        return None
    return rows


def judge_unsorted_sample(ids: list[int], params: dict[str, str], what: str) -> Judgement | None:
    """`$orderby=id asc` answered with ids out of order or repeated."""
    if ids == sorted(set(ids)):
        return None
    return Judgement(
        CHECK_ID,
        "failed",
        f"{what} returned ids out of order or repeated: {ids[:12]}",
        shown(params),
        GUIDANCE,
    )


def judge_mismatch(
    rows: list[Row], key: AnswerKey, mismatch: Mismatch, *, others: int = 0
) -> Judgement:
    """A wrong answer as a finding: the query, the ids it must (and may) return, what it
    returned, and the sample's values in the fields the query uses. `others`: how many more
    wrong answers were seen."""
    outcome = mismatch.outcome
    if outcome.rejected and outcome.answer is not None:
        summary = f"The API rejected a well-formed query ({status_phrase(outcome.answer)})."
    else:
        summary = f"The API answered a query wrongly: it {outcome.problems[0]}."
    how = f"Found by {mismatch.found_by}"
    if mismatch.found_by == SEARCH:
        how += f" (hypothesis, seed {SEED}), shrunk to the smallest wrong query it could find"
    lines = [f"Query: {shown(outcome.params)}", how + "."]
    if mismatch.expected is not None:
        lines += _expected_lines(rows, mismatch.expected)
    if not outcome.rejected:
        lines.append(f"It returned ids: {ids_text(outcome.ids)}")
        lines += [f"- it {problem}" for problem in outcome.problems]
        lines += _values_of_differing_rows(key, mismatch)
    if mismatch.again is not None:
        lines.append(_again_line(outcome, mismatch.again))
    if others:
        lines.append(f"{others} other wrong answer(s) were seen; fix this one first.")
    return Judgement(CHECK_ID, "failed", summary, "\n".join(lines), GUIDANCE)


def _again_line(first: Probed, again: Probed) -> str:
    same = again.ids == first.ids and again.rejected == first.rejected
    return "Sent again (the last exchange in the evidence): " + (
        "the same answer."
        if same
        else f"a different answer, ids {ids_text(again.ids)}: answers are not stable."
    )


def _expected_lines(rows: list[Row], expected: Expected) -> list[str]:
    first, last = rows[0]["id"], rows[-1]["id"]
    lines = [
        f"Over the {len(rows)} sampled customers (ids {first}-{last}) it must return ids: {ids_text(sorted(expected.must))}"
    ]
    if expected.may != expected.must:
        lines.append(f"and may also return ids: {ids_text(sorted(expected.may - expected.must))}")
    return lines


def _values_of_differing_rows(key: AnswerKey, mismatch: Mismatch) -> list[str]:
    """What the sample holds, in the fields the query uses, for rows answered wrongly."""
    if mismatch.expected is None:
        return []
    returned = {i for i in mismatch.outcome.ids if isinstance(i, int)}
    expected = mismatch.expected
    wrongly_in = {i for i in returned if i in key.by_id and i not in expected.may}
    differing = sorted((expected.must - returned) | wrongly_in)
    fields = mismatch.outcome.query.fields()
    if not fields:
        return []
    lines = []
    for customer in differing[:5]:
        row = key.by_id[customer]
        values = ", ".join(f"{name}={row.get(name)!r}" for name in fields)
        lines.append(f"  customer {customer} in the sample: {values}")
    return lines


def ids_text(ids: Sequence[object]) -> str:
    """Up to 30 ids, for people."""
    listed = ", ".join(str(i) for i in ids[:30])
    return (listed or "none") + (f" … ({len(ids)} in all)" if len(ids) > 30 else "")


def shown(params: dict[str, str]) -> str:
    """The query as a person reads it (the evidence holds it URL-encoded)."""
    return "GET customers?" + "&".join(f"{k}={v}" for k, v in params.items())
