"""Triage of captures: every rule both ways, on the hand-made fixtures and on small captures.

Each test writes (or reads) a HAR file and judges it with `recorded.triage.triage`; the result
is the `RunResult` the reports are made from: the check that fails first is the root cause.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sage200_doctor.engine.results import CheckResult, Outcome, RunResult
from sage200_doctor.recorded.triage import NoSageTraffic, TriageOptions, triage
from tests.har_builder import API, DENIED, SITE, SITES, START, TOKEN, Capture, customer, jwt

FIXTURES = Path(__file__).parent.parent / "fixtures" / "har"


def judged(capture: Capture, tmp_path: Path, **options: Any) -> RunResult:
    return triage(capture.write(tmp_path / "capture.har"), TriageOptions(**options)).result


def check(result: RunResult, check_id: str) -> CheckResult:
    return result.check(check_id)


def healthy() -> Capture:
    return Capture().token().sites()


# --- the hand-made fixtures --------------------------------------------------------------------

FAULTS = {
    "fault-bearer-no-space.har": ("header.authorization", "faq.postman.bearer-space", 1),
    "fault-typographic-filter.har": ("customers.filter", "faq.query.odata", 1),
    "fault-gateway-invalid-key.har": (
        "gateway.subscription_key",
        "faq.postman.subscription-key",
        1,
    ),
    "fault-webapi-denied.har": ("sites.selection", "faq.postman.site-company", 1),
    "fault-forbidden.har": ("customers.list", "faq.errors.403", 1),
    "fault-proxy-502.har": ("sites.list", "faq.setup.configure", 1),
    "fault-invalid-grant.har": ("token.refresh", "guide.auth.reconsent", 1),
    "fault-redirects.har": ("sites.list", "faq.errors.404", 1),
    "fault-no-response.har": ("network.api", "guide.network", 3),
}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_each_fault_fixture_fails_with_its_check_and_guidance(name: str) -> None:
    root, guidance, exit_code = FAULTS[name]
    result = triage(FIXTURES / name).result
    assert result.root_cause is not None
    assert result.root_cause.id == root
    assert guidance in result.root_cause.guidance_ids
    assert result.exit_code == exit_code
    assert result.source == "recorded"
    assert result.input == name


EXPORTERS = ("charles", "chrome", "chrome-sanitized", "fiddler", "firefox", "insomnia", "proxyman")


@pytest.mark.parametrize("name", EXPORTERS)
def test_each_exporter_fixture_passes(name: str) -> None:
    result = triage(FIXTURES / f"{name}.har").result
    assert result.verdict.value == "pass", [(c.id, c.summary) for c in result.also_found]
    assert check(result, "token.refresh").outcome is Outcome.PASSED
    assert check(result, "gateway.subscription_key").outcome is Outcome.PASSED


def test_a_sanitized_chrome_export_says_the_header_cannot_be_judged() -> None:
    result = triage(FIXTURES / "chrome-sanitized.har").result
    header = check(result, "header.authorization")
    assert header.outcome is Outcome.SKIPPED
    assert "sanitized" in header.summary
    assert "with sensitive data" in header.summary
    # The rest of what the API answered is still judged.
    assert check(result, "customers.filter").outcome is Outcome.PASSED
    assert check(result, "sites.selection").outcome is Outcome.PASSED


def test_a_chrome_request_that_failed_is_a_warning_naming_the_browser_error() -> None:
    api = check(triage(FIXTURES / "chrome.har").result, "network.api")
    assert api.outcome is Outcome.WARNING
    assert "1 of 3" in api.summary
    assert "net::ERR_FAILED" in api.details


def test_a_body_the_exporter_left_out_is_not_judged_as_empty() -> None:
    result = triage(FIXTURES / "firefox.har").result
    assert check(result, "customers.filter").outcome is Outcome.PASSED
    assert check(result, "customers.list").facts["answers whose body the capture left out"] == 1


def test_broken_entries_are_skipped_and_the_rest_judged() -> None:
    found = triage(FIXTURES / "broken-entries.har")
    assert found.result.environment["skipped_entries"] == 4
    assert check(found.result, "customers.filter").outcome is Outcome.PASSED


def test_evidence_names_the_entry_and_its_time() -> None:
    result = triage(FIXTURES / "fault-bearer-no-space.har").result
    evidence = check(result, "header.authorization").evidence
    assert [(e.entry, e.status) for e in evidence] == [(0, 401)]
    assert evidence[0].started_at is not None
    assert evidence[0].started_at.startswith("2026-11-23T18:00:00.501")


# --- Sage ID and the token -----------------------------------------------------------------------


def test_a_token_expired_when_it_was_sent_fails_token_claims(tmp_path: Path) -> None:
    expired = jwt(exp=START - timedelta(minutes=10))
    capture = Capture().sites(authorization="Bearer " + expired, status=401, body=DENIED)
    result = judged(capture, tmp_path)
    assert result.root_cause is not None
    assert result.root_cause.id == "token.claims"
    assert "expired 10 min ago" in result.root_cause.summary
    assert "faq.errors.401" in result.root_cause.guidance_ids
    assert "not verified" in check(result, "token.claims").facts["signature"]


def test_the_same_token_before_its_expiry_passes(tmp_path: Path) -> None:
    token = jwt(exp=START + timedelta(minutes=30))
    result = judged(Capture().sites(authorization="Bearer " + token), tmp_path)
    assert check(result, "token.claims").outcome is Outcome.PASSED
    assert check(result, "header.authorization").outcome is Outcome.PASSED


def test_a_token_for_another_audience_fails(tmp_path: Path) -> None:
    token = jwt(aud="s200ukish/sage200")
    capture = (
        Capture()
        .token(access=token)
        .sites(authorization="Bearer " + token, status=401, body=DENIED)
    )
    result = judged(capture, tmp_path)
    assert result.root_cause is not None
    assert result.root_cause.id == "token.claims"
    assert "s200ukish/sage200" in result.root_cause.summary
    assert check(result, "sites.list").outcome is Outcome.SKIPPED  # the 401 is explained


def test_an_opaque_token_is_not_a_jwt(tmp_path: Path) -> None:
    capture = Capture().sites(
        authorization="Bearer opaque-token-0123456789", status=401, body=DENIED
    )
    result = judged(capture, tmp_path)
    assert result.root_cause is not None
    assert result.root_cause.summary.startswith("The access token is not a JWT")


def test_a_grant_without_offline_access_fails_token_scope(tmp_path: Path) -> None:
    answer = {"access_token": jwt(scope="openid profile"), "scope": "openid profile"}
    result = judged(Capture().token(answer=answer), tmp_path)
    scope = check(result, "token.scope")
    assert scope.outcome is Outcome.FAILED
    assert "without offline_access" in scope.summary
    assert scope.guidance_ids == ("faq.postman.offline-access",)


def test_a_token_used_without_offline_access_in_its_claims_fails_token_scope(
    tmp_path: Path,
) -> None:
    token = jwt(scope="openid profile")
    result = judged(Capture().sites(authorization="Bearer " + token), tmp_path)
    assert result.root_cause is not None
    assert result.root_cause.id == "token.scope"


def test_a_sign_in_that_does_not_ask_for_offline_access_fails(tmp_path: Path) -> None:
    url = "https://id.sage.com/authorize?response_type=code&scope=openid%20profile&client_id=x"
    result = judged(Capture().entry("GET", url, status=302, body=""), tmp_path)
    scope = check(result, "token.scope")
    assert scope.outcome is Outcome.FAILED
    assert scope.summary.startswith(
        "The sign-in request (authorize) does not ask for offline_access"
    )


@pytest.mark.parametrize(
    ("status", "error", "guidance"),
    [
        (403, "invalid_grant", "guide.auth.reconsent"),
        (401, "invalid_client", "guide.auth.credentials"),
        (403, "unauthorized_client", "guide.auth.credentials"),
    ],
)
def test_token_endpoint_errors_fail_token_refresh(
    tmp_path: Path, status: int, error: str, guidance: str
) -> None:
    capture = Capture().token(status=status, answer={"error": error, "error_description": "no"})
    result = judged(capture, tmp_path)
    assert result.root_cause is not None
    assert result.root_cause.id == "token.refresh"
    assert error in result.root_cause.summary
    assert guidance in result.root_cause.guidance_ids


def test_a_proxy_page_from_the_token_endpoint_is_not_oauth(tmp_path: Path) -> None:
    page = "<html><head><title>Access denied</title></head></html>"
    capture = Capture().entry(
        "POST", "https://id.sage.com/oauth/token", status=403, body=page,
        response_headers={"content-type": "text/html"}, form={"grant_type": "refresh_token"},
    )  # fmt: skip
    refresh = check(judged(capture, tmp_path), "token.refresh")
    assert refresh.outcome is Outcome.FAILED
    assert "HTML page" in refresh.summary
    assert "guide.network" in refresh.guidance_ids


# --- the gateway and the header ------------------------------------------------------------------


def test_no_key_where_the_gateway_wants_one(tmp_path: Path) -> None:
    body = {"statusCode": 401, "message": "Access denied due to missing subscription key."}
    result = judged(Capture().sites(key=None, status=401, body=body), tmp_path)
    gateway = check(result, "gateway.subscription_key")
    assert gateway.outcome is Outcome.FAILED
    assert gateway.summary == "The gateway requires a subscription key and none was sent."


def test_a_key_the_gateway_says_is_missing_although_sent(tmp_path: Path) -> None:
    body = {"statusCode": 401, "message": "Access denied due to missing subscription key."}
    gateway = check(
        judged(Capture().sites(status=401, body=body), tmp_path), "gateway.subscription_key"
    )
    assert "although one was sent" in gateway.summary


def test_a_key_that_reached_the_api_is_accepted_and_no_key_means_not_required(
    tmp_path: Path,
) -> None:
    accepted = check(judged(healthy(), tmp_path), "gateway.subscription_key")
    assert accepted.outcome is Outcome.PASSED
    assert "accepted" in accepted.summary
    optional = check(judged(Capture().sites(key=None), tmp_path), "gateway.subscription_key")
    assert "does not require" in optional.summary


@pytest.mark.parametrize(
    ("value", "outcome"),
    [
        ("Bearer" + TOKEN, Outcome.FAILED),
        ('Bearer "' + TOKEN + '"', Outcome.FAILED),
        ("Bearer Bearer " + TOKEN, Outcome.FAILED),
        ("Bearer " + TOKEN, Outcome.PASSED),
    ],
)
def test_the_authorization_header_refused_with_the_documented_symptom(
    tmp_path: Path, value: str, outcome: Outcome
) -> None:
    status, body = (200, SITES) if outcome is Outcome.PASSED else (401, DENIED)
    header = check(
        judged(Capture().sites(authorization=value, status=status, body=body), tmp_path),
        "header.authorization",
    )
    assert header.outcome is outcome
    if outcome is Outcome.FAILED:
        assert header.guidance_ids == ("faq.postman.bearer-space",)
        assert "Authorization has been denied" in header.details


def test_a_malformed_header_the_api_accepted_is_a_warning(tmp_path: Path) -> None:
    header = check(
        judged(Capture().sites(authorization="Bearer  " + TOKEN), tmp_path), "header.authorization"
    )
    assert header.outcome is Outcome.WARNING


def test_a_well_formed_header_refused_says_the_token_is_not_accepted(tmp_path: Path) -> None:
    result = judged(Capture().sites(status=401, body=DENIED), tmp_path)
    assert result.root_cause is not None
    assert result.root_cause.id == "header.authorization"
    assert "even a well-formed" in result.root_cause.summary


def test_requests_without_the_header_denied_fail_header_authorization(tmp_path: Path) -> None:
    capture = Capture(creator="Fiddler").sites(authorization=None, status=401, body=DENIED)
    header = check(judged(capture, tmp_path), "header.authorization")
    assert header.outcome is Outcome.FAILED
    assert "No API request in the capture carried an Authorization header" in header.summary


def test_a_refused_refresh_explains_why_no_header_was_sent(tmp_path: Path) -> None:
    capture = Capture().token(status=403, answer={"error": "invalid_grant"})
    capture.sites(authorization=None, status=401, body=DENIED)
    result = judged(capture, tmp_path)
    assert [c.id for c in result.checks if c.outcome is Outcome.FAILED] == ["token.refresh"]
    assert "token request failed" in check(result, "header.authorization").summary


# --- sites, X-Site / X-Company, the edition --------------------------------------------------------


def test_an_empty_sites_list_fails_sites_list(tmp_path: Path) -> None:
    result = judged(Capture().sites(body=[]), tmp_path)
    assert result.root_cause is not None
    assert result.root_cause.id == "sites.list"
    assert "faq.setup.configure" in result.root_cause.guidance_ids


def test_a_site_not_listed_fails_even_when_get_sites_comes_later(tmp_path: Path) -> None:
    other = "d2a7e9f4-1b3c-4d5e-8f6a-7b8c9d0e1f2a"
    capture = Capture().get("customers", site=other, status=401, body=DENIED).sites()
    result = judged(capture, tmp_path)
    assert result.root_cause is not None
    assert result.root_cause.id == "sites.selection"
    assert other in result.root_cause.summary
    assert SITE in result.root_cause.details  # the pairs that are listed
    assert check(result, "customers.list").outcome is Outcome.SKIPPED  # the 401 is explained


def test_a_listed_pair_passes_and_its_refusals_stay_with_their_check(tmp_path: Path) -> None:
    capture = healthy().get("customers", status=401, body=DENIED)
    result = judged(capture, tmp_path)
    assert check(result, "sites.selection").outcome is Outcome.PASSED
    assert check(result, "customers.list").outcome is Outcome.FAILED


def test_a_missing_x_company_denied_fails_sites_selection(tmp_path: Path) -> None:
    result = judged(healthy().get("customers", company=None, status=401, body=DENIED), tmp_path)
    selection = check(result, "sites.selection")
    assert selection.outcome is Outcome.FAILED
    assert "without X-Company" in selection.summary


def test_a_malformed_x_site_the_api_accepted_is_a_warning(tmp_path: Path) -> None:
    result = judged(healthy().get("customers", site="{" + SITE + "}", body=[customer(1)]), tmp_path)
    assert check(result, "sites.selection").outcome is Outcome.WARNING


def test_a_404_on_one_edition_path_where_the_other_answers_names_the_edition(
    tmp_path: Path,
) -> None:
    standard = API.replace("sage200extra", "sage200")
    capture = Capture().sites(base=standard, status=404, body={"Message": "No HTTP resource"})
    capture.sites()
    sites = check(judged(capture, tmp_path), "sites.list")
    assert sites.outcome is Outcome.FAILED
    assert "The professional path /uk/sage200extra/ answers" in sites.details


def test_a_404_with_no_other_edition_answering_keeps_the_plain_hint(tmp_path: Path) -> None:
    capture = Capture().sites(status=404, body={"Message": "No HTTP resource"})
    sites = check(judged(capture, tmp_path), "sites.list")
    assert "Compare the URL with the API reference" in sites.details


def test_a_proxy_502_page_fails_sites_list(tmp_path: Path) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>corporate proxy</body></html>"
    capture = Capture().sites(status=502, body=page, response_headers={"content-type": "text/html"})
    sites = check(judged(capture, tmp_path), "sites.list")
    assert "HTTP 502 Bad Gateway" in sites.summary
    assert "HTML page" in sites.summary


# --- queries and customers ---------------------------------------------------------------------------


def test_the_articles_own_typographic_example_fails_customers_filter(tmp_path: Path) -> None:
    query = "customers?$filter=reference%20eq%20%E2%80%98A1D001%E2%80%99"
    result = judged(
        healthy().get(query, status=400, body={"Message": "The query is not valid."}), tmp_path
    )
    assert result.root_cause is not None
    assert result.root_cause.id == "customers.filter"
    assert result.root_cause.summary == "$filter contains typographic quotes (‘ ’)."


@pytest.mark.parametrize(
    ("query", "check_id", "outcome", "words"),
    [
        ('$filter=reference eq "A1D001"', "customers.filter", Outcome.FAILED, "double quotes"),
        ("$filter=name eq 'O'Brien'", "customers.filter", Outcome.FAILED, "apostrophe"),
        ("$skip=50&$top=50", "customers.query_conformance", Outcome.FAILED, "$skip is used without $orderby"),
        ("$top=6000", "customers.query_conformance", Outcome.WARNING, "over the documented maximum"),
    ],
)  # fmt: skip
def test_query_options_are_linted(
    tmp_path: Path, query: str, check_id: str, outcome: Outcome, words: str
) -> None:
    found = check(judged(healthy().get(f"customers?{query}", body=[]), tmp_path), check_id)
    assert found.outcome is outcome
    assert words in found.summary


def test_the_filter_by_reference_both_ways(tmp_path: Path) -> None:
    exact = [customer(1, reference="A1D001")]
    right = healthy().get("customers?$filter=reference%20eq%20'A1D001'", body=exact)
    right.get("customers/27825", body=exact[0])
    assert check(judged(right, tmp_path), "customers.filter").outcome is Outcome.PASSED

    ignored = healthy().get(
        "customers?$filter=reference%20eq%20'A1D001'", body=[customer(1), customer(2)]
    )
    found = check(judged(ignored, tmp_path), "customers.filter")
    assert "the filter was ignored" in found.summary

    none = healthy().get("customers?$filter=reference%20eq%20'NOSUCH01'", body=[])
    found = check(judged(none, tmp_path), "customers.filter")
    assert found.summary.startswith("No customer has reference 'NOSUCH01'")


def test_the_record_by_id_must_be_the_one_the_filter_found(tmp_path: Path) -> None:
    record = customer(1, reference="A1D001")
    capture = healthy().get("customers?$filter=reference%20eq%20'A1D001'", body=[record])
    capture.get("customers/27825", body=record | {"name": "Someone else"})
    found = check(judged(capture, tmp_path), "customers.filter")
    assert found.outcome is Outcome.FAILED
    assert "returned a different record (name differ)" in found.summary


def _sample(count: int = 10) -> list[dict[str, object]]:
    return [customer(n) for n in range(1, count + 1)]


def test_a_recorded_query_within_the_sample_answered_wrongly_fails(tmp_path: Path) -> None:
    rows = _sample()
    capture = healthy().get("customers?$orderby=id%20asc&$top=10", body=rows)
    query = "customers?$filter=id%20ge%2027825%20and%20id%20le%2027829&$top=10"
    capture.get(query, body=rows)  # all ten, where five match
    conformance = check(judged(capture, tmp_path), "customers.query_conformance")
    assert conformance.outcome is Outcome.FAILED
    assert "returned 5 customer(s) that do not match" in conformance.summary
    assert "Over the 10 sampled customers (ids 27825-27834)" in conformance.details


def test_a_recorded_query_within_the_sample_answered_rightly_passes(tmp_path: Path) -> None:
    rows = _sample()
    capture = healthy().get("customers?$orderby=id%20asc&$top=10", body=rows)
    capture.get("customers?$filter=id%20ge%2027825%20and%20id%20le%2027829&$top=10", body=rows[:5])
    capture.get("customers?$orderby=id%20asc&$top=3&$skip=3", body=rows[3:6])
    conformance = check(judged(capture, tmp_path), "customers.query_conformance")
    assert conformance.outcome is Outcome.PASSED
    assert conformance.facts["queries judged against the sample"] == 2


def test_a_query_reaching_beyond_the_sample_is_not_judged(tmp_path: Path) -> None:
    rows = _sample()
    capture = healthy().get("customers?$orderby=id%20asc&$top=10", body=rows)
    capture.get("customers?$filter=balance%20gt%20100", body=[*rows, customer(99)])
    conformance = check(judged(capture, tmp_path), "customers.query_conformance")
    assert conformance.outcome is Outcome.PASSED
    assert "queries judged against the sample" not in conformance.facts


def test_a_sample_out_of_order_fails(tmp_path: Path) -> None:
    rows = list(reversed(_sample(3)))
    capture = healthy().get("customers?$orderby=id%20asc&$top=3", body=rows)
    conformance = check(judged(capture, tmp_path), "customers.query_conformance")
    assert "out of order" in conformance.summary


def test_a_rejected_query_within_the_sample_is_a_fact(tmp_path: Path) -> None:
    capture = healthy().get("customers?$orderby=id%20asc&$top=10", body=_sample())
    capture.get(
        "customers?$filter=contains(name,%20'ust')%20and%20id%20le%2027834&$top=10",
        status=400,
        body={"Message": "no"},
    )
    conformance = check(judged(capture, tmp_path), "customers.query_conformance")
    assert conformance.outcome is Outcome.PASSED
    assert conformance.facts["queries rejected (HTTP 400)"] == 1


# --- limits, other modules, shapes, reachability -----------------------------------------------------


def test_a_rate_limit_answered_on_retry_is_a_fact_and_one_never_answered_fails_its_layer(
    tmp_path: Path,
) -> None:
    limited = {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 1 seconds."}
    retried = Capture().token().sites(status=429, body=limited).sites()
    sites = check(judged(retried, tmp_path), "sites.list")
    assert sites.outcome is Outcome.PASSED
    assert sites.facts["rate limited, answered on retry"] == 1

    # Limited once something got through the gateway: the module's check owns it.
    later = Capture().token().sites().get("customers?$top=1", status=429, body=limited)
    customers = check(judged(later, tmp_path), "customers.list")
    assert customers.outcome is Outcome.FAILED
    assert customers.guidance_ids == ("guide.gateway.limits",)

    # Limited before anything got through: as in a live run, the subscription's allowance.
    stuck = judged(Capture().token().sites(status=429, body=limited), tmp_path)
    gateway = check(stuck, "gateway.subscription_key")
    assert gateway.outcome is Outcome.FAILED
    assert gateway.guidance_ids == ("guide.gateway.limits",)
    assert check(stuck, "sites.list").outcome is Outcome.SKIPPED


def test_other_modules_are_warnings_and_named(tmp_path: Path) -> None:
    body = {"Message": "The user's role does not have access to Sales Order Processing."}
    result = judged(healthy().get("sop_orders?$top=1", status=403, body=body), tmp_path)
    resources = check(result, "api.resources")
    assert result.verdict.value == "pass"
    assert resources.outcome is Outcome.WARNING
    assert resources.facts["modules of the requests"] == "SOP"


def test_answers_that_drift_from_the_documented_shapes_warn(tmp_path: Path) -> None:
    drifted = [SITES[0] | {"company_id": "2"}]
    schema = check(judged(Capture().sites(body=drifted), tmp_path), "api.schema")
    assert schema.outcome is Outcome.WARNING
    assert "company_id" in schema.details
    assert check(judged(healthy(), tmp_path), "api.schema").outcome is Outcome.PASSED


def test_nothing_answered_is_unreachable(tmp_path: Path) -> None:
    capture = Capture().sites(status=None, error="net::ERR_NAME_NOT_RESOLVED")
    result = judged(capture, tmp_path)
    assert result.verdict.value == "unreachable"
    assert result.exit_code == 3
    assert "could not be resolved (DNS)" in check(result, "network.api").details


# --- options, bounds, what cannot be read ---------------------------------------------------------


def test_a_capture_without_sage_traffic_is_a_usage_error(tmp_path: Path) -> None:
    capture = Capture().entry("GET", "https://fonts.example.com/font.woff2")
    with pytest.raises(NoSageTraffic) as raised:
        judged(capture, tmp_path)
    assert "fonts.example.com" in str(raised.value)
    assert "--api-host" in str(raised.value)
    assert raised.value.exit_code == 4


def test_configured_hosts_are_judged(tmp_path: Path) -> None:
    from sage200_doctor.recorded import SageHosts

    gateway = "https://gateway.example.com/uk/sage200extra/accounts/v1"
    capture = Capture().sites(base=gateway)
    with pytest.raises(NoSageTraffic):
        judged(capture, tmp_path)
    hosts = SageHosts().extended(api=["gateway.example.com"])
    assert judged(capture, tmp_path, hosts=hosts).verdict.value == "pass"


def test_only_reports_the_checks_asked_for_and_what_they_need(tmp_path: Path) -> None:
    result = judged(healthy(), tmp_path, only=("gateway.subscription_key",))
    assert [c.id for c in result.checks] == [
        "config.complete",
        "config.values",
        "network.api",
        "gateway.subscription_key",
    ]
    assert result.selection == ("gateway.subscription_key",)


def test_evidence_stays_bounded_however_long_the_capture(tmp_path: Path) -> None:
    capture = healthy()
    for number in range(600):
        capture.get(f"customers?$skip={number}&$top=1", status=400, body={"Message": "no"})
    found = triage(capture.write(tmp_path / "long.har"))
    conformance = check(found.result, "customers.query_conformance")
    assert len(conformance.evidence) <= 6
    assert "(601 in all)" not in conformance.details
    assert "600 in all" in conformance.details
    assert all(len(c.evidence) <= 6 for c in found.result.checks)


def test_the_environment_shows_what_the_capture_used_and_no_secret(tmp_path: Path) -> None:
    result = judged(healthy().get("customers", body=[customer(1)]), tmp_path)
    environment = result.environment
    assert environment["edition"] == "professional"
    assert environment["api_base_url"] == API + "/"
    assert environment["token_url"] == "https://id.sage.com/oauth/token"
    assert (environment["site_id"], environment["company_id"]) == (SITE, "2")
    assert environment["capture"] == "WebInspector 1, HAR 1.2"
    assert "CANARY" not in str(environment)


# --- hosts and the progress bar -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "url", "face"),
    [
        ("http://127.0.0.1:8123/uk/sage200/accounts/v1/", "http://127.0.0.1:8123/uk/sage200extra/accounts/v1/sites", "api"),
        ("http://127.0.0.1:8123/uk/sage200/accounts/v1/", "http://127.0.0.1:8123/oauth/token", "identity"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123/uk/sage200/accounts/v1/sites", "api"),
        ("http://[::1]:8123/uk/sage200/accounts/v1/", "http://[::1]:8123/oauth/token", "identity"),
        ("https://gw.example/sage/uk/sage200/accounts/v1/", "https://gw.example/sage/uk/sage200extra/accounts/v1/x", "api"),
        ("http://127.0.0.1:8123/uk/sage200/accounts/v1/", "http://127.0.0.1:9999/oauth/token", None),
    ],
)  # fmt: skip
def test_an_api_base_url_names_both_faces_of_its_host(
    base: str, url: str, face: str | None
) -> None:
    from sage200_doctor.recorded import SageHosts

    assert SageHosts().with_api_base(base).classify(url) == face


def test_no_progress_bar_off_a_terminal(tmp_path: Path) -> None:
    from sage200_doctor.commands.triage import PROGRESS_FROM_BYTES, _ReadingProgress

    big = tmp_path / "big.har"
    big.write_bytes(b" " * (PROGRESS_FROM_BYTES + 1))
    with _ReadingProgress(big, quiet=False) as progress:  # pytest's stderr is not a terminal
        assert progress is None


def test_a_progress_bar_on_a_terminal_for_a_big_capture_and_not_with_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sage200_doctor.commands import triage as command
    from sage200_doctor.report import progress

    monkeypatch.setattr(progress, "is_live", lambda stream: True)
    big = tmp_path / "big.har"
    big.write_bytes(b" " * (command.PROGRESS_FROM_BYTES + 1))
    with command._ReadingProgress(big, quiet=False) as advance:
        assert advance is not None
        advance(1024, big.stat().st_size)
    assert capsys.readouterr().out == ""  # stderr only: stdout stays for the verdict
    with command._ReadingProgress(big, quiet=True) as advance:
        assert advance is None
    small = tmp_path / "small.har"
    small.write_bytes(b"{}")
    with command._ReadingProgress(small, quiet=False) as advance:
        assert advance is None
