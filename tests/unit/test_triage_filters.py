"""Recorded `$filter` text read back into trees: exactly what the client side renders, nothing more."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sage200_doctor.http.odata_eval import StringRules
from sage200_doctor.http.odata_gen import Capabilities, probe_fields
from sage200_doctor.http.odata_search import queries
from sage200_doctor.http.odata_tree import (
    And,
    Call,
    Compare,
    Not,
    Or,
    Query,
    Value,
    id_range,
)
from sage200_doctor.recorded.filters import NotReadable, parse_filter, parse_query
from tests.har_builder import customer

ROWS = [customer(n, name=name) for n, name in enumerate(["A1 Design", "O'Brien", "Café Zürich"], 1)]
KINDS = probe_fields(ROWS)
ALL = Capabilities(
    operators=frozenset(("eq", "ne", "gt", "ge", "lt", "le")),
    negation=True,
    functions=frozenset(("contains", "startswith", "endswith")),
    skip=True,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=queries(ROWS, KINDS, ALL, StringRules()), minimal=st.booleans())
def test_every_query_the_probes_send_reads_back_as_sent(query: Query, minimal: bool) -> None:
    query = dataclasses.replace(query, minimal_parens=minimal)
    params = query.params(within=id_range(27825, 27827), top=len(ROWS))
    read = parse_query(params, KINDS)
    assert read is not None
    assert dataclasses.replace(read, minimal_parens=minimal).params() == params
    if not minimal:
        bound = id_range(27825, 27827)
        assert read.filter == (bound if query.filter is None else And(query.filter, bound))


def test_precedence_is_not_then_and_then_or() -> None:
    a, b, c = (Compare(f, "eq", Value("int", 1)) for f in ("a", "b", "c"))
    assert parse_filter("a eq 1 or b eq 1 and c eq 1") == Or(a, And(b, c))
    assert parse_filter("not a eq 1 and b eq 1") == And(Not(a), b)
    assert parse_filter("(a eq 1 or b eq 1) and c eq 1") == And(Or(a, b), c)


def _literal(text: str) -> Value:
    expr = parse_filter(text)
    assert isinstance(expr, Compare)
    return expr.literal


def test_literals_take_their_kind_from_the_text_and_the_field() -> None:
    assert parse_filter("reference eq 'O''Brien'") == Compare(
        "reference", "eq", Value("string", "O'Brien")
    )
    assert parse_filter("balance gt 250", {"balance": "number"}) == Compare(
        "balance", "gt", Value("number", Decimal("250"))
    )
    assert _literal("id le 27874") == Value("int", 27874)
    assert _literal("on_hold eq true") == Value("bool", True)
    moment = datetime(2020, 11, 17, 21, 41, 52, 452000, tzinfo=UTC)
    assert _literal("date_time_updated gt 2020-11-17T21:41:52.452Z") == Value("datetime", moment)
    assert _literal("account_opened ge 2015-01-01") == Value("date", date(2015, 1, 1))
    assert parse_filter("contains(name, 'a''b')") == Call("contains", "name", "a'b")


@pytest.mark.parametrize(
    "text",
    [
        "reference eq ‘A1D001’",  # typographic quotes: the lint's business, not a query
        'reference eq "A1D001"',
        "substringof('A', name)",
        "tolower(name) eq 'a'",
        "id add 1 eq 2",
        "site_id eq guid'3fa85f64-5717-4562-b3fc-2c963f66afa6'",
        "reference eq 'A1D001",
        "(id eq 1",
        "id eq 1)",
        "id eq",
        "",
    ],
)
def test_what_the_client_side_does_not_render_is_not_read(text: str) -> None:
    with pytest.raises(NotReadable):
        parse_filter(text)


def test_a_query_reads_its_options_or_nothing() -> None:
    params = {"$filter": "id ge 1 and id le 9", "$orderby": "name desc", "$top": "5", "$skip": "2"}
    assert parse_query(params | {"$select": "id"}, KINDS) == Query(
        filter=id_range(1, 9), orderby=("name", True), top=5, skip=2
    )
    assert parse_query({"$orderby": "id"}, KINDS) == Query(orderby=("id", False))
    for unread in (
        {"$count": "true"},
        {"$orderby": "name asc, id asc"},
        {"$orderby": "name sideways"},
        {"$top": "ten"},
        {"$filter": "id eq"},
    ):
        assert parse_query(unread, KINDS) is None
