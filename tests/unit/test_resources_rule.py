"""rules.resources: every cell of the module matrix, judged from one answer alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sage200_doctor.catalogue import ROLE_SETTING
from sage200_doctor.http.network import NetworkProblem
from sage200_doctor.http.session import Answer
from sage200_doctor.rules.resources import CHECK_ID, judge, read

JSON = {"content-type": "application/json; charset=utf-8"}
NOT_FOUND = {"Message": "No HTTP resource was found that matches the request URI 'x'."}


def answer(status: int | None, body: Any = None, *, text: str | None = None) -> Answer:
    content = text if text is not None else json.dumps(body)
    headers = JSON if text is None else {"content-type": "text/html"}
    return Answer(
        url="https://api.example/uk/sage200extra/accounts/v1/x",
        status=status,
        headers=headers,
        text=content,
    )


def test_a_list_is_readable_and_judged_fine() -> None:
    reading = read("sop_orders", answer(200, [{"id": 1}]), edition="professional")
    assert (reading.outcome, reading.module, reading.status) == ("readable", "sop", 200)
    assert reading.reason == "readable"
    assert reading.guidance == ()
    assert judge("sop_orders", answer(200, []), edition=None, required=True) is None
    assert read("sop_orders", answer(200, []), edition=None).reason.startswith("readable (no")


def test_an_object_is_readable_only_where_the_reference_says_one_object() -> None:
    assert read("licence", answer(200, {"id": 1}), edition=None).outcome == "readable"
    assert read("licence", answer(200, [{"id": 1}]), edition=None).outcome == "unexpected"
    assert read("sop_orders", answer(200, {"id": 1}), edition=None).outcome == "unexpected"
    assert read("not_in_reference", answer(200, {"id": 1}), edition=None).outcome == "readable"


def test_403_on_sales_names_the_documented_sales_ledger_and_the_role_setting() -> None:
    message = {"Message": "Forbidden."}
    reading = read("customers", answer(403, message), edition="professional")
    assert reading.outcome == "forbidden"
    assert "lacks Sales Ledger, which customers needs" in reading.reason
    assert ROLE_SETTING in reading.reason
    assert reading.reason.startswith('HTTP 403 with "Forbidden."')
    assert reading.guidance == ("faq.errors.403",)


def test_403_on_another_module_names_the_module_and_what_to_look_for() -> None:
    reading = read("sop_orders", answer(403, {"Message": "x"}), edition="standard")
    assert "lacks the SOP module (look for Sales Order Processing)" in reading.reason
    assert "System Administration > Roles" in reading.reason


@pytest.mark.parametrize(
    ("required", "outcome"),
    [(True, "failed"), (False, "warning")],
    ids=["listed", "representative"],
)
def test_judge_fails_listed_resources_and_warns_about_representatives(
    required: bool, outcome: str
) -> None:
    judgement = judge("products", answer(403, {"Message": "x"}), edition=None, required=required)
    assert judgement is not None
    assert (judgement.check, judgement.outcome) == (CHECK_ID, outcome)
    assert judgement.summary == "GET products (Stock) is forbidden."
    assert "Stock Control" in judgement.detail
    assert judgement.guidance == ("faq.errors.403",)


def test_404_of_a_professional_only_endpoint_on_standard() -> None:
    reading = read("finance_charges", answer(404, NOT_FOUND), edition="standard")
    assert reading.outcome == "not-found"
    assert "finance_charges is Professional-only" in reading.reason
    assert reading.guidance == ("faq.errors.404",)


def test_404_of_an_endpoint_newer_than_a_professional_site() -> None:
    reason = read("sop_quotes", answer(404, NOT_FOUND), edition="professional").reason
    assert "Sage added sop_quotes on 2021-11-08" in reason
    assert "version is probably older" in reason


def test_404_of_an_endpoint_every_professional_version_has() -> None:
    reason = read("sop_orders", answer(404, NOT_FOUND), edition="professional").reason
    assert "every Professional version" in reason


def test_404_on_standard_of_an_endpoint_only_the_professional_reference_lists() -> None:
    reason = read("sop_quotes", answer(404, NOT_FOUND), edition="standard").reason
    assert "Sage publishes no Standard one" in reason
    assert "Sage added" not in reason


def test_404_of_a_name_the_reference_lacks_suggests_the_close_one() -> None:
    reading = read("sop_order", answer(404, NOT_FOUND), edition="professional")
    assert reading.module is None
    assert reading.label == "sop_order (not in Sage's reference)"
    assert "not an endpoint in Sage's published API reference (did you mean sop_orders?)" in (
        reading.reason
    )


@pytest.mark.parametrize(
    ("status", "body", "needle"),
    [
        (
            401,
            {"statusCode": 401, "message": "Access denied due to missing subscription key."},
            "missing subscription key",
        ),
        (
            429,
            {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 1 seconds."},
            "Rate limit",
        ),
        (403, {"statusCode": 403, "message": "Out of call volume quota."}, "quota"),
    ],
    ids=["key", "rate-limit", "quota"],
)
def test_api_management_answers_are_gateway_refusals(
    status: int, body: dict[str, Any], needle: str
) -> None:
    reading = read("sop_orders", answer(status, body), edition=None)
    assert reading.outcome == "gateway-refused"
    assert "API Management refused the request" in reading.reason
    assert needle in reading.reason
    assert reading.guidance == ("faq.postman.subscription-key",)


def test_a_gateway_timeout_page_is_a_server_error_with_its_meaning() -> None:
    page = "<html><head><title>504 Gateway Time-out</title></head></html>"
    reading = read("sop_orders", answer(504, text=page), edition=None)
    assert reading.outcome == "server-error"
    assert "HTTP 504 Gateway Timeout" in reading.reason
    assert "Native API tunnel" in reading.reason
    assert reading.guidance == ("faq.setup.configure", "faq.setup.contact")


def test_400_is_a_bad_request() -> None:
    reading = read("sop_orders", answer(400, {"Message": "The query is not valid."}), edition=None)
    assert (reading.outcome, reading.guidance) == ("bad-request", ("faq.query.odata",))


def test_401_from_the_api_is_denied() -> None:
    denied = {"Message": "Authorization has been denied for this request."}
    reading = read("sop_orders", answer(401, denied), edition=None)
    assert (reading.outcome, reading.guidance) == ("denied", ("faq.errors.401",))
    assert "permission" in reading.reason


def test_no_answer_says_what_went_wrong_on_the_way() -> None:
    lost = Answer(url="x", problem=NetworkProblem("timeout", "No answer within 20 s."))
    reading = read("sop_orders", lost, edition=None)
    assert (reading.outcome, reading.status) == ("no-answer", None)
    assert reading.reason == "No answer within 20 s."
    assert reading.guidance == ("guide.network",)


@pytest.mark.parametrize(
    ("status", "text", "needle"),
    [(405, None, "documents no such answer"), (200, "<html>proxy</html>", "HTML page")],
    ids=["405", "html-200"],
)
def test_other_answers_are_unexpected(status: int, text: str | None, needle: str) -> None:
    reading = read("sop_orders", answer(status, {"Message": "no"}, text=text), edition=None)
    assert reading.outcome == "unexpected"
    assert needle in reading.reason


def test_a_fact_is_json_friendly() -> None:
    fact = read("sop_orders", answer(403, {"Message": "x"}), edition=None).fact()
    assert json.loads(json.dumps(fact)) == fact
    assert set(fact) == {"resource", "module", "outcome", "status", "reason"}
    assert (fact["module"], fact["outcome"], fact["status"]) == ("sop", "forbidden", 403)
