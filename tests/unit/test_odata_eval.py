"""The client-side answer key: rendering, three-valued evaluation, and judging answers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sage200_doctor.http.odata_eval import (
    AnswerKey,
    StringRules,
    evaluate,
    string_equal,
    string_order,
)
from sage200_doctor.http.odata_gen import Capabilities, probe_fields, sort_fields
from sage200_doctor.http.odata_search import queries
from sage200_doctor.http.odata_tree import And, Call, Compare, Not, Or, Query, Value, render

CI = StringRules(case_sensitive=False, functions_case_sensitive=False)
CS = StringRules(case_sensitive=True, functions_case_sensitive=True)
UNKNOWN = StringRules()

ROWS: list[dict[str, Any]] = [
    {"id": 1, "reference": "A1D001", "name": "A1 Design Services", "balance": 1120.92,
     "on_hold": False, "website": "www.sage.co.uk", "date_time_updated": "2016-02-24T11:52:11Z",
     "account_opened": "2016-02-23T00:00:00Z", "analysis_code_1": "Trade"},
    {"id": 2, "reference": "O'BRI01", "name": "O'Brien & Sons", "balance": 250.0,
     "on_hold": False, "website": None, "date_time_updated": "2016-02-23T09:52:11Z",
     "account_opened": "2016-02-23T00:00:00Z", "analysis_code_1": "Retail"},
    {"id": 3, "reference": "CAFEZ01", "name": "Café Zürich Ltd", "balance": 0.0,
     "on_hold": True, "website": None, "date_time_updated": "2015-01-01T00:00:00Z",
     "account_opened": "2015-01-01T00:00:00Z", "analysis_code_1": "trade"},
    {"id": 4, "reference": "LODZ01", "name": "Łódź Trading", "balance": -42.5,
     "on_hold": False, "website": None, "date_time_updated": "2020-06-01T08:00:00Z",
     "account_opened": "2015-01-01T00:00:00Z", "analysis_code_1": "Export"},
]  # fmt: skip


def _text(value: str) -> Value:
    return Value("string", value)


def test_strings_are_single_quoted_with_apostrophes_doubled() -> None:
    tree = Compare("name", "eq", _text("O'Brien & Sons"))
    assert render(tree) == "name eq 'O''Brien & Sons'"
    assert render(Call("contains", "name", "'")) == "contains(name, '''')"


def test_literals_render_as_the_documentation_shows() -> None:
    moment = datetime(2016, 2, 24, 9, 52, 11, 452000, tzinfo=UTC)
    assert render(Compare("date_time_updated", "gt", Value("datetime", moment))) == (
        "date_time_updated gt 2016-02-24T09:52:11.452Z"
    )
    assert render(Compare("document_date", "gt", Value("date", date(2016, 2, 23)))) == (
        "document_date gt 2016-02-23"
    )
    assert (
        render(Compare("balance", "gt", Value("number", Decimal("-42.50")))) == "balance gt -42.50"
    )
    assert render(Compare("on_hold", "eq", Value("bool", True))) == "on_hold eq true"


def test_brackets_always_or_only_where_precedence_needs_them() -> None:
    a, b, c = (Compare("id", "eq", Value("int", n)) for n in (1, 2, 3))
    tree = And(Or(a, b), Not(And(b, c)))
    assert render(tree) == "(id eq 1 or id eq 2) and (not (id eq 2 and id eq 3))"
    assert render(tree, minimal_parens=True) == "(id eq 1 or id eq 2) and not (id eq 2 and id eq 3)"
    assert render(Or(And(a, b), c), minimal_parens=True) == "id eq 1 and id eq 2 or id eq 3"
    assert render(Not(Call("contains", "name", "x")), minimal_parens=True) == (
        "not contains(name, 'x')"
    )


@pytest.mark.parametrize(
    ("left", "right", "rules", "expected"),
    [
        ("Trade", "Trade", UNKNOWN, True),
        ("Trade", "Retail", UNKNOWN, False),
        ("Trade", "trade", CI, True),
        ("Trade", "trade", CS, False),
        ("Trade", "trade", UNKNOWN, None),  # the documentation does not say
        ("Trade", "Trade ", CI, None),  # SQL pads trailing spaces for `=`
        ("Café", "Cafe", CI, False),  # accent-sensitive (Latin1_General_CI_AS)
        ("Straße", "STRASSE", CI, None),  # some collations expand ß
    ],
)
def test_string_equality(left: str, right: str, rules: StringRules, expected: bool | None) -> None:
    assert string_equal(left, right, rules.case_sensitive) is expected


def test_string_order_is_judged_only_where_every_collation_agrees() -> None:
    assert string_order("apple", "banana", None) == -1
    assert string_order("apple", "Banana", False) == -1
    assert string_order("apple", "Banana", True) is None  # ordinal and linguistic disagree
    assert string_order("O'Brien", "Smith", False) is None  # punctuation: collation-specific


def test_nulls_and_kleene_logic() -> None:
    row = ROWS[1]  # website is null
    unknown = Compare("website", "eq", _text("x"))
    false = Compare("id", "eq", Value("int", 1))
    true = Compare("id", "eq", Value("int", 2))
    assert evaluate(unknown, row, CI) is None
    assert evaluate(Not(unknown), row, CI) is None
    assert evaluate(And(unknown, false), row, CI) is False
    assert evaluate(Or(unknown, true), row, CI) is True
    assert evaluate(Or(unknown, false), row, CI) is None


def test_functions_follow_the_probed_case_rule() -> None:
    row = ROWS[0]
    needle = Call("contains", "name", "DESIGN")
    assert evaluate(needle, row, CI) is True
    assert evaluate(needle, row, CS) is False
    assert evaluate(needle, row, UNKNOWN) is None
    assert evaluate(Call("startswith", "name", "A1 D"), row, UNKNOWN) is True
    assert evaluate(Call("endswith", "name", "100%"), row, CI) is None  # LIKE wildcard


def test_date_times_with_z_and_dates() -> None:
    row = ROWS[0]
    moment = datetime(2016, 2, 24, 11, 52, 10, 452000, tzinfo=UTC)
    assert evaluate(Compare("date_time_updated", "gt", Value("datetime", moment)), row, CI)
    day = Value("date", date(2016, 2, 23))
    assert evaluate(Compare("account_opened", "eq", day), row, CI) is True
    naive = {"date_time_updated": "2016-02-24T11:52:11"}  # no offset: within a day either way
    assert (
        evaluate(Compare("date_time_updated", "gt", Value("datetime", moment)), naive, CI) is None
    )


def test_expected_answer_with_order_top_and_skip() -> None:
    key = AnswerKey(ROWS, probe_fields(ROWS), CI)
    query = Query(orderby=("balance", True), top=2, skip=1)
    expected = key.expect(query)
    assert expected.must == {2, 3}
    assert expected.size == 2
    assert key.judge(query, [ROWS[1], ROWS[2]]) == []
    assert key.judge(query, [ROWS[2], ROWS[1]])[0].startswith("returned rows not sorted")
    assert key.judge(query, [ROWS[0], ROWS[2]])[0].startswith("left out")


def test_ties_allow_either_row_at_the_edge_of_a_page() -> None:
    key = AnswerKey(ROWS, probe_fields(ROWS), CI)
    query = Query(orderby=("account_opened", False), top=1)  # 3 and 4 share the first date
    assert key.expect(query).must == frozenset()
    assert key.judge(query, [ROWS[2]]) == key.judge(query, [ROWS[3]]) == []
    assert key.judge(query, [ROWS[0]]) != []


def test_unknown_rows_are_neither_demanded_nor_forbidden() -> None:
    key = AnswerKey(ROWS, probe_fields(ROWS), CI)
    query = Query(Compare("website", "ne", _text("www.sage.co.uk")))
    assert key.expect(query).must == frozenset()
    assert key.judge(query, []) == key.judge(query, [ROWS[1]]) == []
    assert key.judge(query, [ROWS[0]]) != []


def test_sort_fields_skip_nulls_and_collation_dependent_strings() -> None:
    fields = sort_fields(ROWS, probe_fields(ROWS), CI)
    assert "website" not in fields  # nulls
    assert "name" not in fields  # apostrophes, accents: collation-specific order
    assert fields[0] in ("balance", "date_time_updated", "id")


def _perfect_server(key: AnswerKey, query: Query, pick: st.DataObject) -> list[dict[str, Any]]:
    """An answer a correct server might give: unknown rows in or out, ties in any order."""
    rows = []
    for row in key.rows:
        truth = True if query.filter is None else evaluate(query.filter, row, key.rules)
        if truth or (truth is None and pick.draw(st.booleans())):
            rows.append(row)
    if query.orderby is not None:
        field, descending = query.orderby
        rows = pick.draw(st.permutations(rows))
        rows.sort(key=lambda r: key._key(field, r), reverse=descending)
    start = query.skip or 0
    return rows[start : start + query.top if query.top is not None else None]


EVERYTHING = Capabilities(
    frozenset({"eq", "ne", "gt", "ge", "lt", "le"}),
    negation=True,
    functions=frozenset({"contains", "startswith", "endswith"}),
    skip=True,
)
QUERIES = {rules: queries(ROWS, probe_fields(ROWS), EVERYTHING, rules) for rules in (CI, CS)}


@settings(max_examples=150, deadline=None)
@given(pick=st.data(), case=st.sampled_from([CI, CS]))
def test_a_correct_server_is_never_judged_wrong(pick: st.DataObject, case: StringRules) -> None:
    query = pick.draw(QUERIES[case])
    key = AnswerKey(ROWS, probe_fields(ROWS), case)
    answer = _perfect_server(key, query, pick)
    paged = query.top is not None or query.skip is not None
    if paged and any(query.filter and evaluate(query.filter, r, case) is None for r in ROWS):
        return  # unknown rows and a page: which rows a correct server pages is open too
    assert key.judge(query, answer) == [], render(query.filter) if query.filter else query
