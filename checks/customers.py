"""customers.*: can this company's customers be read, filtered and paged as documented?"""

from __future__ import annotations

from typing import Any

from sage200_doctor.diagnosis import Diagnosis
from sage200_doctor.http.odata import equals, quote_string
from sage200_doctor.http.sage import api_message, status_phrase
from sage200_doctor.http.session import Answer
from sage200_doctor.registry import check, fail, skip, warn

from .sites import explain_http_failure

ODATA = ("faq.query.odata",)
SAMPLE_SIZE = 50


@check(
    "customers.list",
    order=120,
    title="GET customers answers",
    verifies="GET customers with X-Site / X-Company answers 200",
    depends=("sites.selection",),
    guidance=("faq.errors.401",),
)
def check_customers_are_readable(run: Diagnosis) -> str:
    answer = run.get("customers", params={"$top": str(SAMPLE_SIZE)})
    if not answer.ok:
        explain_http_failure(run, answer, "GET customers")
    body = answer.json
    if not isinstance(body, list):
        fail(
            f"GET customers answered with {answer.describe_body()}, not a list.",
            guidance=("faq.errors.404",),
        )
    run.seen_bodies.append(("customers", answer.url, body))
    run.customers = [entry for entry in body if isinstance(entry, dict)]
    if not run.customers:
        warn("GET customers answered, but this company has no customers to test with.")
    return f"{len(run.customers)} customer(s) read (asked for up to {SAMPLE_SIZE})."


def _pick_reference(run: Diagnosis) -> tuple[str, str]:
    configured = (run.settings.customer_reference or "").strip()
    if configured:
        return configured, "the configured reference"
    for customer in run.customers or []:
        if isinstance(customer.get("reference"), str) and customer["reference"]:
            return customer[
                "reference"
            ], "a reference from the customers list (set SAGE200_CUSTOMER_REFERENCE to pin one)"
    skip("No customer reference is configured and the customers list gave none to try.")


@check(
    "customers.filter",
    order=130,
    title="$filter finds a customer by reference",
    verifies="`$filter=reference eq '<ref>'` returns exactly the matching customer, and GET "
    "customers/{id} returns the same record",
    depends=("customers.list",),
    guidance=ODATA,
)
def check_filter_by_reference(run: Diagnosis) -> str:
    reference, origin = _pick_reference(run)
    query = equals("reference", reference)
    answer = run.get("customers", params={"$filter": query})
    found = _expect_list(run, answer, query)
    exact = [c for c in found if c.get("reference") == reference]
    if not found:
        fail(
            f"No customer has reference {quote_string(reference)} in this company ({origin}).",
            detail="Check the reference exactly as Sage 200 shows it (at most 8 characters). "
            f"The filter sent was $filter={query}.",
        )
    if len(found) > 1 and len(exact) < len(found):
        fail(
            f"$filter={query} returned {len(found)} customers, not just the matching one: "
            "the filter was ignored.",
            detail=_sample_refs(found),
        )
    if len(exact) > 1:
        warn(f"{len(exact)} customers share reference {quote_string(reference)}.")
    record = exact[0] if exact else found[0]
    _same_record_by_id(run, record)
    return f"$filter={query} found {record.get('name', '?')} (id {record.get('id')}); GET customers/{record.get('id')} agrees."


def _expect_list(run: Diagnosis, answer: Answer, query: str) -> list[dict[str, Any]]:
    if answer.status == 400:
        fail(f"The API rejected $filter={query} ({status_phrase(answer)}).")
    if not answer.ok:
        explain_http_failure(run, answer, f"GET customers?$filter={query}")
    body = answer.json
    if not isinstance(body, list):
        fail(f"$filter={query} answered with {answer.describe_body()}, not a list.")
    run.seen_bodies.append(("customers", answer.url, body))
    return [entry for entry in body if isinstance(entry, dict)]


def _same_record_by_id(run: Diagnosis, record: dict[str, Any]) -> None:
    answer = run.get(f"customers/{record.get('id')}")
    if not answer.ok or not isinstance(answer.json, dict):
        fail(
            f"GET customers/{record.get('id')} did not return the customer the filter found "
            f"({status_phrase(answer)}).",
            guidance=("faq.errors.404",),
        )
    run.seen_bodies.append(("customer", answer.url, answer.json))
    differing = [k for k in ("id", "reference", "name") if answer.json.get(k) != record.get(k)]
    if differing:
        fail(
            f"GET customers/{record.get('id')} returned a different record ({', '.join(differing)} differ)."
        )


def _sample_refs(customers: list[dict[str, Any]]) -> str:
    refs = [str(c.get("reference")) for c in customers[:10]]
    return "First references returned: " + ", ".join(refs) + ("…" if len(customers) > 10 else "")


@check(
    "customers.query_conformance",
    order=140,
    title="Query options behave as documented",
    verifies="`$filter`, `$orderby`, `$top`, `$skip` behave as documented on a sample of real "
    "records; capability facts (string functions, `$top` limit) reported",
    depends=("customers.list",),
    guidance=ODATA,
)
def check_query_options_conform(run: Diagnosis) -> str:
    mismatches: list[str] = []
    mismatches += _top_limits_results(run)
    mismatches += _orderby_sorts(run)
    mismatches += _paging_is_consistent(run)
    _skip_without_orderby(run)
    mismatches += _contains_filters(run)
    if mismatches:
        fail(
            f"{len(mismatches)} query option(s) did not behave as documented.",
            detail="\n".join(mismatches),
        )
    return f"$top, $orderby, $skip and $filter behaved as documented ({len(run.facts)} capability facts)."


def _rows(run: Diagnosis, params: dict[str, str]) -> tuple[Answer, list[dict[str, Any]] | None]:
    answer = run.get("customers", params=params)
    body = answer.json
    if answer.ok and isinstance(body, list):
        return answer, [row for row in body if isinstance(row, dict)]
    return answer, None


def _top_limits_results(run: Diagnosis) -> list[str]:
    answer, rows = _rows(run, {"$top": "3"})
    if rows is None:
        return [f"$top=3: {status_phrase(answer)}"]
    return [] if len(rows) <= 3 else [f"$top=3 returned {len(rows)} rows"]


def _orderby_sorts(run: Diagnosis) -> list[str]:
    answer, rows = _rows(run, {"$orderby": "id desc", "$top": "10"})
    if rows is None:
        return [f"$orderby=id desc: {status_phrase(answer)}"]
    ids = [row.get("id") for row in rows]
    numbers = [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]
    if len(numbers) != len(ids):
        # Ordering of mixed or non-numeric ids is not something the documentation defines;
        # api.schema reports the odd ids themselves.
        run.facts["$orderby"] = "not judged: the ids returned are not all whole numbers"
        return []
    if numbers != sorted(numbers, reverse=True):
        return [f"$orderby=id desc returned ids in this order: {numbers}"]
    return []


def _paging_is_consistent(run: Diagnosis) -> list[str]:
    _, whole = _rows(run, {"$orderby": "id asc", "$top": "4"})
    answer, page = _rows(run, {"$orderby": "id asc", "$top": "3", "$skip": "1"})
    if whole is None or page is None:
        return [f"$skip with $orderby: {status_phrase(answer)}"]
    expected = [row.get("id") for row in whole[1:4]]
    actual = [row.get("id") for row in page]
    return [] if actual == expected else [f"$skip=1&$top=3 gave ids {actual}, expected {expected}"]


def _skip_without_orderby(run: Diagnosis) -> None:
    answer, _ = _rows(run, {"$skip": "1", "$top": "1"})
    if answer.status == 400:
        run.facts["$skip without $orderby"] = "rejected (400), as documented"
    else:
        run.facts["$skip without $orderby"] = f"allowed (HTTP {answer.status})"


def _contains_filters(run: Diagnosis) -> list[str]:
    names = [
        c.get("name")
        for c in run.customers or []
        if isinstance(c.get("name"), str) and len(c["name"]) >= 3
    ]
    if not names:
        run.facts["contains()"] = "not tried (no customer names in the sample)"
        return []
    needle = str(names[0])[1:3]
    answer, rows = _rows(run, {"$filter": f"contains(name, {quote_string(needle)})", "$top": "50"})
    if rows is None:
        message = api_message(answer) or status_phrase(answer)
        run.facts["contains()"] = (
            f"not supported ({message})" if answer.status == 400 else status_phrase(answer)
        )
        return [] if answer.status == 400 else [f"contains(): {status_phrase(answer)}"]
    run.facts["contains()"] = "supported"
    wrong = [
        str(r.get("name")) for r in rows if needle.lower() not in str(r.get("name", "")).lower()
    ]
    if not rows:
        return [
            f"contains(name, {quote_string(needle)}) found nothing, though {names[0]!r} contains it"
        ]
    return (
        [f"contains(name, {quote_string(needle)}) returned non-matching names: {wrong[:5]}"]
        if wrong
        else []
    )
