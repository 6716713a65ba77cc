"""Capability probes of customers.query_conformance: what this API accepts, reported as facts.

Where the documentation names a behaviour (`$top` default 500 and maximum 5000, `$skip` needs
`$orderby`) a different one is still a fact, not a failure: integrations have to live with it.
Answers these probes get are judged too; a wrong one is recorded as a mismatch by `Probes`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from sage200_doctor.http.odata_eval import Row, StringRules, string_equal
from sage200_doctor.http.odata_gen import Capabilities
from sage200_doctor.http.odata_tree import And, Call, Compare, Expr, Function, Not, Op, Query, Value
from sage200_doctor.http.sage import status_phrase
from sage200_doctor.http.session import Answer
from sage200_doctor.rules.conformance import COUNT_PARAMS, DOCUMENTED_TOP_MAX, SKIP_PARAMS

if TYPE_CHECKING:
    from sage200_doctor.rules.conformance import Probed

    from .conformance_probes import Probes

DOCUMENTED_TOP_DEFAULT = 500
_COUNT_KEYS = ("@odata.count", "odata.count", "count", "Count", "__count")
_COUNT_HEADERS = ("x-total-count", "odata-count", "x-count")
_CASE_FIELDS = ("name", "reference", "short_name", "analysis_code_1")
Facts = dict[str, Any]


def send_ahead(probes: Probes) -> None:
    """Start every capability probe `learn` sends when the server behaves as documented.

    Probes built on `$select` are sent as if it is accepted (documented); where it is not, they
    are asked again without it when their turn comes."""
    for params in (
        COUNT_PARAMS,
        {"$select": "id"},
        {"$select": "id", "$top": str(DOCUMENTED_TOP_MAX + 1)},
        SKIP_PARAMS,
    ):
        probes.send_ahead(params)
    probes.ask_ahead(
        [_operator_probe(probes.rows), *_case_probes(probes.rows), *_function_probes(probes.rows)],
        select=True,
    )
    for params in _pages(probes.rows):
        probes.send_ahead({**params, "$select": "id"})


def learn(probes: Probes, facts: Facts) -> Capabilities:
    """Probe what the API accepts; set the string rules the answer key judges by."""
    total = _count(probes, facts)
    _top_limits(probes, facts, total)
    _skip_without_orderby(probes, facts)
    operators, negation = _operators(probes, facts)
    eq_case = _string_eq_case(probes, facts)
    functions, functions_case = _functions(probes, facts)
    probes.key.rules = StringRules(eq_case, functions_case)
    skip = _paging(probes, facts)
    return Capabilities(operators, negation, functions, skip)


def _count(probes: Probes, facts: Facts) -> int | None:
    answer = probes.send(COUNT_PARAMS)
    if answer is None:
        facts["$count=true"] = probes.not_probed()
        return None
    body = answer.json
    total: Any = None
    if not answer.ok:
        facts["$count=true"] = f"not supported ({status_phrase(answer)})"
    elif isinstance(body, int) and not isinstance(body, bool):
        total, facts["$count=true"] = body, f"a bare number: {body}"
    elif isinstance(body, dict) and (key := next((k for k in _COUNT_KEYS if k in body), None)):
        total, facts["$count=true"] = body[key], f"an object with {key}: {body[key]}"
    elif isinstance(body, list) and (
        name := next((h for h in _COUNT_HEADERS if h in answer.headers), None)
    ):
        total, facts["$count=true"] = (
            answer.headers[name],
            f"a list with header {name}: {answer.headers[name]}",
        )
    else:
        facts["$count=true"] = f"ignored: the answer was {answer.describe_body()} without a count"
    try:
        return int(total) if total is not None else None
    except (TypeError, ValueError):
        return None


def _ids_answer(probes: Probes, params: dict[str, str]) -> tuple[Answer | None, int | None]:
    """Rows of a `$select=id` probe (the rows themselves do not matter, only how many)."""
    answer = probes.send({"$select": "id", **params})
    if answer is not None and answer.status == 400 and not probes.select:
        answer = probes.send(params)  # $select itself may be what was refused
    if answer is None or not answer.ok or not isinstance(answer.json, list):
        return answer, None
    rows = answer.json
    if "$select" in answer.url and all(
        isinstance(row, dict) and set(row) == {"id"} for row in rows
    ):
        probes.select = True
    return answer, len(rows)


def _top_limits(probes: Probes, facts: Facts, total: int | None) -> None:
    answer, rows = _ids_answer(probes, {})
    facts["$top default"] = _limit_fact(
        probes, answer, rows, total, DOCUMENTED_TOP_DEFAULT, "without $top"
    )
    asked = DOCUMENTED_TOP_MAX + 1
    answer, rows = _ids_answer(probes, {"$top": str(asked)})
    if answer is not None and answer.status == 400:
        facts["$top maximum"] = f"$top={asked} is rejected ({status_phrase(answer)})"
        return
    fact = _limit_fact(probes, answer, rows, total, DOCUMENTED_TOP_MAX, f"for $top={asked}")
    facts["$top maximum"] = (
        fact if rows != asked else f"not capped at {DOCUMENTED_TOP_MAX}: {asked} rows came back"
    )


def _limit_fact(
    probes: Probes,
    answer: Answer | None,
    rows: int | None,
    total: int | None,
    documented: int,
    how: str,
) -> str:
    if answer is None:
        return probes.not_probed()
    if rows is None:
        return (
            f"not determined ({status_phrase(answer) if not answer.ok else answer.describe_body()})"
        )
    if total is not None and rows >= total:
        return f"no cap seen: all {total} customers came back {how}"
    note = ", as documented" if rows == documented else f" (documented: {documented})"
    return f"{rows}{note}" + (
        "" if total is not None else f"; {rows} rows came back {how}, the total is unknown"
    )


def _skip_without_orderby(probes: Probes, facts: Facts) -> None:
    answer = probes.send(SKIP_PARAMS)
    key = "$skip without $orderby"
    if answer is None:
        facts[key] = probes.not_probed()
    elif answer.status == 400:
        facts[key] = "rejected (HTTP 400), as documented"
    else:
        facts[key] = f"allowed ({status_phrase(answer)}; documented: rejected)"


def _operators_tried(rows: list[Row]) -> dict[str, Expr]:
    ids = [row["id"] for row in rows]
    low, other = Value("int", ids[min(1, len(ids) - 1)]), Value("int", ids[-1])
    return {
        "ne": Compare("id", "ne", other),
        "lt": Compare("id", "lt", low),
        "not": Not(Compare("id", "eq", other)),
    }


def _operator_probe(rows: list[Row]) -> Query:
    """The three operators in one query: one request when all are accepted."""
    tried = _operators_tried(rows)
    return Query(And(Not(tried["lt"]), tried["ne"]))


def _operators(probes: Probes, facts: Facts) -> tuple[frozenset[Op], bool]:
    """`ne`, `lt` and `not` are not in Sage's list (eq gt ge le and or): are they accepted?"""
    tried = _operators_tried(probes.rows)
    together = probes.ask(_operator_probe(probes.rows), "the operator probe")
    accepted = set(tried)
    if together.answer is None:
        facts["operators"] = probes.not_probed()
        accepted = set()
    elif together.rejected:
        accepted = {
            name
            for name, expr in tried.items()
            if _accepted(probes.ask(Query(expr), "the operator probe"))
        }
        refused = sorted(set(tried) - accepted)
        facts["operators"] = f"{', '.join(refused) or 'none'} rejected; " + (
            f"{', '.join(sorted(accepted))} accepted" if accepted else "eq gt ge le and or only"
        )
    else:
        facts["operators"] = "ne, lt and not accepted besides the documented eq gt ge le and or"
    operators: set[Op] = {"eq", "gt", "ge", "le"}
    if "ne" in accepted:
        operators.add("ne")
    if "lt" in accepted:
        operators.add("lt")
    return frozenset(operators), "not" in accepted


def _accepted(outcome: Probed) -> bool:
    return outcome.answer is not None and outcome.answer.ok


def _case_variant(rows: list[Row]) -> tuple[Row, str, str] | None:
    """A row, string field and value whose other-case spelling differs in letter case only."""
    for field in _CASE_FIELDS:
        for row in rows:
            value = row.get(field)
            if (
                isinstance(value, str)
                and value != value.swapcase()
                and string_equal(value, value.swapcase(), None) is None
            ):
                return row, field, value
    return None


def _case_probes(rows: list[Row]) -> list[Query]:
    chosen = _case_variant(rows)
    if chosen is None:
        return []
    _, field, value = chosen
    return [Query(Compare(field, "eq", Value("string", value.swapcase())))]


def _string_eq_case(probes: Probes, facts: Facts) -> bool | None:
    chosen = _case_variant(probes.rows)
    if chosen is None:
        facts["string eq"] = "not determined (no value with letters to try)"
        return None
    row, _, _ = chosen
    outcome = probes.ask(_case_probes(probes.rows)[0], "the case probe")
    if outcome.rows is None:
        facts["string eq"] = (
            probes.not_probed()
            if outcome.answer is None
            else f"not determined ({status_phrase(outcome.answer)})"
        )
        return None
    insensitive = row["id"] in outcome.ids
    facts["string eq"] = "case-insensitive" if insensitive else "case-sensitive"
    probes.key.rules = StringRules(not insensitive, probes.key.rules.functions_case_sensitive)
    probes.rejudge(outcome, "the case probe")
    return not insensitive


FUNCTIONS: tuple[Function, ...] = ("contains", "startswith", "endswith")


def _function_variant(rows: list[Row]) -> tuple[Row, str, str] | None:
    return _case_variant([r for r in rows if len(str(r.get("name", ""))) >= 4])


def _function_probe(function: Function, field: str, value: str) -> tuple[str, Query]:
    """The needle (a piece of `value`) and the query that looks for it in the other case."""
    needle = {"contains": value[1:4], "startswith": value[:3], "endswith": value[-3:]}[function]
    return needle, Query(Call(function, field, needle.swapcase()))


def _function_probes(rows: list[Row]) -> list[Query]:
    chosen = _function_variant(rows)
    if chosen is None:
        return []
    _, field, value = chosen
    return [_function_probe(function, field, value)[1] for function in FUNCTIONS]


def _functions(probes: Probes, facts: Facts) -> tuple[frozenset[Function], bool | None]:
    """contains/startswith/endswith (Standard, and Professional after July 2017)."""
    chosen = _function_variant(probes.rows)
    supported: set[Function] = set()
    case: bool | None = None
    for function in FUNCTIONS:
        key = f"{function}()"
        if chosen is None:
            facts[key] = "not probed (no customer name to try)"
            continue
        row, field, value = chosen
        needle, query = _function_probe(function, field, value)
        outcome = probes.ask(query, "the string function probe")
        if outcome.answer is None:
            facts[key] = probes.not_probed()
        elif outcome.rows is None:
            facts[key] = f"not supported ({status_phrase(outcome.answer)})"
        else:
            facts[key] = "supported"
            supported.add(function)
            if case is None and needle != needle.swapcase():
                case = row["id"] not in outcome.ids
                probes.key.rules = StringRules(probes.key.rules.case_sensitive, case)
            probes.rejudge(outcome, "the string function probe")
    if case is not None:
        facts["string functions"] = "case-sensitive" if case else "case-insensitive"
    return frozenset(supported), case


def _page_size(rows: list[Row]) -> int:
    return max(1, math.ceil(len(rows) / 3))


def _pages(rows: list[Row]) -> list[dict[str, str]]:
    """Three pages of `$orderby=id asc` that together are the sample."""
    size = _page_size(rows)
    return [
        {"$orderby": "id asc", "$top": str(min(size, len(rows) - start)), "$skip": str(start)}
        for start in range(0, len(rows), size)
    ]


def _paging(probes: Probes, facts: Facts) -> bool:
    """`$orderby=id asc` pages through the sample: no duplicates, no gaps."""
    size = _page_size(probes.rows)
    seen: list[object] = []
    for params in _pages(probes.rows):
        answer = probes.send({**params, "$select": "id"} if probes.select else params)
        if answer is None:
            facts["paging"] = probes.not_probed()
            return True
        if answer.status == 400:
            facts["paging"] = f"$skip is not supported ({status_phrase(answer)})"
            return False
        body = answer.json
        if not answer.ok or not isinstance(body, list):
            facts["paging"] = f"not determined ({status_phrase(answer)})"
            return False
        seen += [row.get("id") if isinstance(row, dict) else row for row in body]
    expected = [row["id"] for row in probes.rows]
    pages = math.ceil(len(expected) / size)
    if seen == expected:
        facts["paging"] = (
            f"{pages} pages of {size} cover the {len(expected)} sampled customers with no duplicates or gaps"
        )
    else:
        facts["paging"] = f"{pages} pages of {size} do not add up to the sampled customers"
        probes.paging_mismatch(seen, size)
    return True
