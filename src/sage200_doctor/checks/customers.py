"""customers.*: can this company's customers be read, filtered and paged as documented?"""

from __future__ import annotations

from typing import Any

from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import check, report, report_any, skip
from sage200_doctor.http.odata import equals
from sage200_doctor.http.session import Answer
from sage200_doctor.rules.customers import (
    customers_in,
    judge_filter_body,
    judge_filter_rejected,
    judge_list_body,
    judge_record_by_id,
    judge_reference_answer,
    record_found,
)

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
    if isinstance(body, list):
        run.seen_bodies.append(("customers", answer.url, body))
        run.customers = customers_in(body)
    report_any([judge_list_body(answer)])
    return f"{len(run.customers or [])} customer(s) read (asked for up to {SAMPLE_SIZE})."


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
    """The `$filter` as soon as a reference is known; GET customers/{id} the moment its answer
    is in (asked again until then), if the check will get that far."""
    chosen = _reference(run)
    if chosen is None:
        return False
    reference, origin = chosen
    query = equals("reference", reference)
    params = {"$filter": query}
    if not run.was_sent_ahead("customers", params=params):
        run.get_ahead("customers", params=params)
        return False
    answer = run.peek("customers", params=params)
    if answer is None:
        return False
    found = customers_in(answer.json)
    if (
        answer.ok
        and judge_filter_body(answer, query) is None
        and judge_reference_answer(reference, found, query=query, origin=origin) is None
    ):
        run.get_ahead(f"customers/{record_found(reference, found).get('id')}")
    return True


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
    report_any([judge_reference_answer(reference, found, query=query, origin=origin)])
    record = record_found(reference, found)
    _same_record_by_id(run, record)
    return f"$filter={query} found {record.get('name', '?')} (id {record.get('id')}); GET customers/{record.get('id')} agrees."


def _expect_list(run: Diagnosis, answer: Answer, query: str) -> list[dict[str, Any]]:
    if answer.status == 400:
        report(judge_filter_rejected(answer, query))
    if not answer.ok:
        explain_http_failure(
            run, answer, f"GET customers?$filter={query}", check="customers.filter"
        )
    report_any([judge_filter_body(answer, query)])
    run.seen_bodies.append(("customers", answer.url, answer.json))
    return customers_in(answer.json)


def _same_record_by_id(run: Diagnosis, record: dict[str, Any]) -> None:
    answer = run.get(f"customers/{record.get('id')}")
    if answer.ok and isinstance(answer.json, dict):
        run.seen_bodies.append(("customer", answer.url, answer.json))
    report_any([judge_record_by_id(record, answer)])
