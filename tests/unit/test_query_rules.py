"""The OData query lint: each documented rule, once where it holds and once where it is broken."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sage200_doctor.http.odata import equals
from sage200_doctor.rules import Judgement
from sage200_doctor.rules.query import judge_filter, judge_query

GUIDANCE = ("faq.query.odata",)


def only(judgements: list[Judgement]) -> Judgement:
    assert len(judgements) == 1, judgements
    return judgements[0]


@pytest.mark.parametrize(
    "query",
    [
        [("$filter", "reference eq 'A1D001'")],
        [("$filter", "name eq 'O''Brien'")],
        [("$filter", "contains(name, 'Design') and balance gt 1000")],
        [("$filter", "(document_date ge 2016-01-01) or document_status eq '2'")],
        [("$filter", "reference%20eq%20%27A1D001%27")],
        [("$skip", "25"), ("$orderby", "id asc")],
        [("$top", "5000")],
        [("$select", "id,reference"), ("$expand", "contacts"), ("$count", "true")],
        [("$metadata", "true")],
        [("page", "2")],
        [],
    ],
)
def test_well_formed_queries_pass(query: list[tuple[str, str]]) -> None:
    assert judge_query(query) == []


@pytest.mark.parametrize(
    ("expression", "summary"),
    [
        ("reference eq ‘A1D001’", "typographic quotes"),  # the article's own example
        ("reference eq “A1D001”", "typographic quotes"),
        ('reference eq "A1D001"', "double quotes"),
        ("name eq 'O'Brien'", "apostrophe inside a string that is not doubled"),
        ("name eq 'O'Brien", "apostrophe inside a string that is not doubled"),
        ("reference eq 'A1D001", "closing quote is missing"),
        ("", "empty"),
        ("   ", "empty"),
    ],
)
def test_each_filter_mistake_is_named(expression: str, summary: str) -> None:
    judgement = only(judge_filter(expression))
    assert judgement.check == "customers.filter"
    assert judgement.outcome == "failed"
    assert summary in judgement.summary
    assert judgement.guidance == GUIDANCE


def test_an_escaped_apostrophe_is_not_a_mistake() -> None:
    assert judge_filter("name eq 'O''Brien' and reference eq 'A1'") == []


def test_the_doubled_apostrophe_advice_is_given() -> None:
    assert "'O''Brien'" in only(judge_filter("name eq 'O'Brien'")).detail


def test_skip_needs_orderby() -> None:
    judgement = only(judge_query([("$skip", "25"), ("$top", "10")]))
    assert (judgement.check, judgement.outcome) == ("customers.query_conformance", "failed")
    assert "$orderby" in judgement.summary


def test_top_over_the_documented_maximum_warns() -> None:
    judgement = only(judge_query([("$top", "5001")]))
    assert (judgement.check, judgement.outcome) == ("customers.query_conformance", "warning")
    assert "5000" in judgement.summary


@pytest.mark.parametrize(("name", "value"), [("$top", "ten"), ("$top", "-1"), ("$skip", "1.5")])
def test_paging_options_take_whole_numbers(name: str, value: str) -> None:
    query = [(name, value), ("$orderby", "id")]
    judgement = only(judge_query(query))
    assert judgement.outcome == "failed"
    assert "whole number" in judgement.summary


def test_a_misspelt_option_is_named_with_a_suggestion() -> None:
    judgement = only(judge_query([("$fitler", "reference eq 'A1'")]))
    assert (judgement.check, judgement.outcome) == ("customers.filter", "failed")
    assert "Did you mean $filter?" in judgement.summary


def test_an_unknown_option_without_a_near_miss() -> None:
    judgement = only(judge_query([("$search", "design")]))
    assert (judgement.check, judgement.outcome) == ("customers.query_conformance", "failed")
    assert "Did you mean" not in judgement.summary


def test_an_option_without_its_dollar_warns() -> None:
    judgement = only(judge_query([("filter", "reference eq 'A1'")]))
    assert (judgement.check, judgement.outcome) == ("customers.filter", "warning")


def test_an_option_in_another_case_warns_and_is_still_judged() -> None:
    judgements = judge_query([("$Filter", "reference eq ‘A1’")])
    assert {(j.outcome, "lower case" in j.summary) for j in judgements} == {
        ("warning", True),
        ("failed", False),
    }


def test_percent_encoded_options_are_decoded_first() -> None:
    judgement = only(judge_query([("%24filter", "reference%20eq%20%E2%80%98A1%E2%80%99")]))
    assert "typographic" in judgement.summary


def test_quotes_inside_a_string_are_part_of_the_value() -> None:
    assert judge_filter("name eq 'O’Brien “Ltd”' and notes eq 'say \"hi\"'") == []


@given(st.text())
def test_every_value_the_client_quotes_passes(value: str) -> None:
    # the client's own quoting (http/odata.py) and this lint must agree on what a string is
    assert judge_filter(equals("name", value)) == []
