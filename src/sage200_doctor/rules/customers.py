"""GET customers and `$filter=reference eq '…'`: what an answer says about reading customers.

The live checks `customers.list` and `customers.filter` send these requests themselves; triage
finds them in a capture. Both judge the answers here: a list of customers (or why not), the
filter by reference returning exactly the matching customer (an empty answer: no such
customer; other records too: the filter was ignored), and GET customers/{id} returning the
record the filter found.
"""

from __future__ import annotations

from typing import Any

from sage200_doctor.http.answer import Answer
from sage200_doctor.http.odata import quote_string
from sage200_doctor.http.sage import likely_meaning, status_phrase
from sage200_doctor.rules import Judgement

LIST_CHECK = "customers.list"
FILTER_CHECK = "customers.filter"
ODATA = ("faq.query.odata",)
NOT_FOUND = ("faq.errors.404",)
Customer = dict[str, Any]


def judge_list_body(answer: Answer) -> Judgement | None:
    """A 2xx answer to GET customers that is not a list, or lists no customer (a warning)."""
    body = answer.json
    if not isinstance(body, list):
        return Judgement(
            LIST_CHECK,
            "failed",
            f"GET customers answered with {answer.describe_body()}, not a list.",
            likely_meaning(answer),
            NOT_FOUND,
        )
    if not customers_in(body):
        return Judgement(
            LIST_CHECK,
            "warning",
            "GET customers answered, but this company has no customers to test with.",
        )
    return None


def customers_in(body: Any) -> list[Customer]:
    """The records of a list answer (anything that is not a JSON object is left out)."""
    return [entry for entry in body if isinstance(entry, dict)] if isinstance(body, list) else []


def judge_filter_rejected(answer: Answer, query: str) -> Judgement:
    """A 400 to `$filter=<query>`."""
    return Judgement(
        FILTER_CHECK,
        "failed",
        f"The API rejected $filter={query} ({status_phrase(answer)}).",
        "",
        ODATA,
    )


def judge_filter_body(answer: Answer, query: str) -> Judgement | None:
    """A 2xx answer to `$filter=<query>` that is not a list."""
    if isinstance(answer.json, list):
        return None
    return Judgement(
        FILTER_CHECK,
        "failed",
        f"$filter={query} answered with {answer.describe_body()}, not a list.",
        likely_meaning(answer),
        ODATA,
    )


def judge_reference_answer(
    reference: str, found: list[Customer], *, query: str, origin: str
) -> Judgement | None:
    """The customers `$filter=reference eq '<reference>'` returned: none, others too, or
    several sharing the reference (a warning). `origin`: where the reference came from."""
    exact = [c for c in found if c.get("reference") == reference]
    if not found:
        return Judgement(
            FILTER_CHECK,
            "failed",
            f"No customer has reference {quote_string(reference)} in this company ({origin}).",
            "Check the reference exactly as Sage 200 shows it (at most 8 characters). "
            f"The filter sent was $filter={query}.",
            ODATA,
        )
    if len(found) > 1 and len(exact) < len(found):
        return Judgement(
            FILTER_CHECK,
            "failed",
            f"$filter={query} returned {len(found)} customers, not just the matching one: "
            "the filter was ignored.",
            _sample_refs(found),
            ODATA,
        )
    if len(exact) > 1:
        return Judgement(
            FILTER_CHECK,
            "warning",
            f"{len(exact)} customers share reference {quote_string(reference)}.",
        )
    return None


def record_found(reference: str, found: list[Customer]) -> Customer:
    """The record the filter found: the exact match, else the only one returned."""
    exact = [c for c in found if c.get("reference") == reference]
    return exact[0] if exact else found[0]


def judge_record_by_id(record: Customer, answer: Answer) -> Judgement | None:
    """GET customers/{id} of the record the filter found: the same record, or why not."""
    path = f"GET customers/{record.get('id')}"
    body = answer.json
    if not answer.ok or not isinstance(body, dict):
        return Judgement(
            FILTER_CHECK,
            "failed",
            f"{path} did not return the customer the filter found ({status_phrase(answer)}).",
            "",
            NOT_FOUND,
        )
    differing = [k for k in ("id", "reference", "name") if body.get(k) != record.get(k)]
    if differing:
        return Judgement(
            FILTER_CHECK,
            "failed",
            f"{path} returned a different record ({', '.join(differing)} differ).",
            "",
            ODATA,
        )
    return None


def _sample_refs(customers: list[Customer]) -> str:
    refs = [str(c.get("reference")) for c in customers[:10]]
    return "First references returned: " + ", ".join(refs) + ("…" if len(customers) > 10 else "")
