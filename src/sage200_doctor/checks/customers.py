"""customers.*: can this company's customers be read, filtered and paged as documented?"""

from __future__ import annotations

from typing import Any

from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import check, fail, skip, warn
from sage200_doctor.http.odata import equals, quote_string
from sage200_doctor.http.sage import likely_meaning, status_phrase
from sage200_doctor.http.session import Answer

from .sites import explain_http_failure

ODATA = ("faq.query.odata",)
SAMPLE_SIZE = 50
LIST_PARAMS = {"$top": str(SAMPLE_SIZE)}


def _ask_list_ahead(run: Diagnosis) -> bool:
    return run.get_ahead("customers", params=LIST_PARAMS)


@check(
    "customers.list",
    order=120,
    title="GET customers answers",
    verifies="GET customers with X-Site / X-Company answers 200",
    depends=("sites.selection",),
    guidance=("faq.errors.401",),
    ahead=_ask_list_ahead,
)
def check_customers_are_readable(run: Diagnosis) -> str:
    answer = run.get("customers", params=LIST_PARAMS)
    if not answer.ok:
        explain_http_failure(run, answer, "GET customers", check="customers.list")
    body = answer.json
    if not isinstance(body, list):
        fail(
            f"GET customers answered with {answer.describe_body()}, not a list.",
            detail=likely_meaning(answer),
            guidance=("faq.errors.404",),
        )
    run.seen_bodies.append(("customers", answer.url, body))
    run.customers = [entry for entry in body if isinstance(entry, dict)]
    if not run.customers:
        warn("GET customers answered, but this company has no customers to test with.")
    return f"{len(run.customers)} customer(s) read (asked for up to {SAMPLE_SIZE})."


def _pick_reference(run: Diagnosis) -> tuple[str, str]:
    chosen = _reference(run)
    if chosen is None:
        skip("No customer reference is configured and the customers list gave none to try.")
    return chosen


def _reference(run: Diagnosis) -> tuple[str, str] | None:
    configured = (run.settings.customer_reference or "").strip()
    if configured:
        return configured, "the configured reference"
    for customer in run.customers or []:
        if isinstance(customer.get("reference"), str) and customer["reference"]:
            return customer[
                "reference"
            ], "a reference from the customers list (set SAGE200_CUSTOMER_REFERENCE to pin one)"
    return None


def _ask_filter_ahead(run: Diagnosis) -> bool:
    chosen = _reference(run)
    return chosen is not None and run.get_ahead(
        "customers", params={"$filter": equals("reference", chosen[0])}
    )


@check(
    "customers.filter",
    order=130,
    title="$filter finds a customer by reference",
    verifies="`$filter=reference eq '<ref>'` returns exactly the matching customer, and GET "
    "customers/{id} returns the same record",
    depends=("customers.list",),
    guidance=ODATA,
    ahead=_ask_filter_ahead,
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
        explain_http_failure(
            run, answer, f"GET customers?$filter={query}", check="customers.filter"
        )
    body = answer.json
    if not isinstance(body, list):
        fail(
            f"$filter={query} answered with {answer.describe_body()}, not a list.",
            detail=likely_meaning(answer),
        )
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
