"""Every emulator scenario through the real CLI: verdict, exit code, root cause and guidance."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.conftest import CliRun

pytestmark = pytest.mark.e2e

# scenario: (exit code, verdict, root-cause check, guidance ids that must be on it)
EXPECTED: dict[str, tuple[int, str, str | None, tuple[str, ...]]] = {
    "healthy": (0, "pass", None, ()),
    "key-optional": (0, "pass", None, ()),
    "rotating-refresh": (0, "pass", None, ()),
    "refresh-reuse-detection": (0, "pass", None, ()),
    "rate-limited": (0, "pass", None, ()),
    "schema-drift": (0, "pass", None, ()),
    "key-missing": (1, "fail", "gateway.subscription_key", ("faq.postman.subscription-key",)),
    "key-invalid": (1, "fail", "gateway.subscription_key", ("faq.postman.subscription-key",)),
    "token-expired": (1, "fail", "token.claims", ("faq.errors.401",)),
    "wrong-audience": (1, "fail", "token.claims", ("faq.errors.401",)),
    "no-offline-access": (1, "fail", "token.scope", ("faq.postman.offline-access",)),
    "refresh-revoked": (1, "fail", "token.refresh", ("guide.auth.reconsent",)),
    "refresh-revoked-access-valid": (1, "fail", "token.refresh", ("guide.auth.reconsent",)),
    "bad-client-secret": (1, "fail", "token.refresh", ("guide.auth.credentials",)),
    "basic-auth-rejected": (1, "fail", "token.refresh", ("guide.auth.credentials",)),
    "grant-not-allowed": (1, "fail", "token.refresh", ("guide.auth.credentials",)),
    "no-space-bearer": (1, "fail", "header.authorization", ("faq.postman.bearer-space",)),
    "sites-empty": (1, "fail", "sites.list", ("faq.setup.configure",)),
    "user-not-api-enabled": (1, "fail", "header.authorization", ("faq.errors.401",)),
    "tunnel-down": (1, "fail", "sites.list", ("faq.setup.configure",)),
    "site-not-listed": (1, "fail", "sites.selection", ("faq.postman.site-company",)),
    "company-not-listed": (1, "fail", "sites.selection", ("faq.postman.site-company",)),
    "customers-forbidden": (1, "fail", "customers.list", ("faq.errors.403",)),
    # API Management's own limits: the subscription's allowance, not the user's role
    "gateway-rate-limit": (1, "fail", "gateway.subscription_key", ("guide.gateway.limits",)),
    "gateway-quota": (1, "fail", "gateway.subscription_key", ("guide.gateway.limits",)),
    "customers-quota": (1, "fail", "customers.list", ("guide.gateway.limits",)),
    "proxy-error-page": (3, "unreachable", "network.api", ("guide.network",)),
    # a wrong clock is a warning about the clock, not an expired token
    "clock-ahead": (0, "pass", None, ()),
    # other modules: with no SAGE200_RESOURCES list, api.resources reports them (warning at most)
    "modules-denied": (0, "pass", None, ()),
    "old-professional-site": (0, "pass", None, ()),
    "edition-mismatch": (1, "fail", "sites.list", ("faq.errors.404",)),
    "reference-missing": (1, "fail", "customers.filter", ("faq.query.odata",)),
    "filter-ignored": (1, "fail", "customers.filter", ("faq.query.odata",)),
    "orderby-ignored": (1, "fail", "customers.query_conformance", ("faq.query.odata",)),
    # query conformance: documented variations are facts (pass), wrong answers fail
    "filter-case-sensitive": (0, "pass", None, ()),
    "top-capped-at-100": (0, "pass", None, ()),
    "skip-without-orderby-allowed": (0, "pass", None, ()),
    "string-functions-unsupported": (0, "pass", None, ()),
    "filter-and-as-or": (1, "fail", "customers.query_conformance", ("faq.query.odata",)),
    "filter-datetime-as-date": (1, "fail", "customers.query_conformance", ("faq.query.odata",)),
}


def _guidance_of(run: CliRun, check_id: str) -> set[str]:
    return {entry["id"] for entry in run.check(check_id)["guidance"]}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_scenario_verdict_root_cause_and_guidance(
    scenario: str, doctor: Callable[..., CliRun]
) -> None:
    code, verdict, root, guidance = EXPECTED[scenario]
    run = doctor("demo", "--scenario", scenario)
    assert "Traceback" not in run.stdout + run.stderr
    assert run.code == code, run.stdout + run.stderr
    report = run.report
    assert report["verdict"] == verdict
    assert report["exit_code"] == code
    if root is None:
        assert report["root_cause"] is None
        assert not [
            c["id"] for c in report["checks"] if c["outcome"] in ("failed", "error", "blocked")
        ]
    else:
        assert report["root_cause"]["check"] == root
        assert set(guidance) <= _guidance_of(run, root)
        assert root in run.stdout  # the terminal names the root cause


def test_every_emulator_scenario_has_an_expectation() -> None:
    from sage200_doctor.emulator import SCENARIOS

    assert set(SCENARIOS) == set(EXPECTED)


def test_dependents_of_the_root_cause_are_blocked_and_name_it(
    doctor: Callable[..., CliRun],
) -> None:
    run = doctor("demo", "--scenario", "key-missing")
    header = run.check("header.authorization")
    assert header["outcome"] == "blocked"
    assert header["blocked_by"] == "gateway.subscription_key"
    assert run.check("sites.list")["blocked_by"] == "header.authorization"
    assert run.check("token.refresh")["outcome"] == "passed"  # independent of the key


def test_key_optional_is_told_apart_from_key_accepted(doctor: Callable[..., CliRun]) -> None:
    optional = doctor("demo", "--scenario", "key-optional").check("gateway.subscription_key")
    assert "does not require" in optional["summary"]
    healthy = doctor("demo", "--scenario", "healthy").check("gateway.subscription_key")
    assert "accepted" in healthy["summary"]


def test_missing_and_invalid_keys_are_told_apart(doctor: Callable[..., CliRun]) -> None:
    missing = doctor("demo", "--scenario", "key-missing").check("gateway.subscription_key")
    invalid = doctor("demo", "--scenario", "key-invalid").check("gateway.subscription_key")
    assert "none is configured" in missing["summary"]
    assert "invalid" in invalid["summary"]


def test_basic_auth_rejected_says_which_method_works(doctor: Callable[..., CliRun]) -> None:
    check = doctor("demo", "--scenario", "basic-auth-rejected").check("token.refresh")
    assert "body works" in check["summary"]
    assert "SAGE200_CLIENT_AUTH=body" in check["details"]


def test_no_space_bearer_shows_the_documented_symptom(doctor: Callable[..., CliRun]) -> None:
    check = doctor("demo", "--scenario", "no-space-bearer").check("header.authorization")
    assert "no space after 'Bearer'" in check["summary"]
    assert "Authorization has been denied for this request." in check["details"]
    statuses = [e["response"]["status"] for e in check["evidence"] if e["response"]]
    assert 401 in statuses  # sent as-is: refused
    assert 200 in statuses  # well-formed: accepted


def test_site_not_listed_names_the_pairs_that_are(doctor: Callable[..., CliRun]) -> None:
    check = doctor("demo", "--scenario", "site-not-listed").check("sites.selection")
    assert check["details"].count("X-Site ") >= 2


def test_edition_mismatch_names_the_edition_that_answers(doctor: Callable[..., CliRun]) -> None:
    check = doctor("demo", "--scenario", "edition-mismatch").check("sites.list")
    assert "SAGE200_EDITION=professional" in check["details"]


def test_rotating_refresh_keeps_a_working_token_in_the_env_file(
    doctor: Callable[..., CliRun],
) -> None:
    run = doctor("demo", "--scenario", "rotating-refresh")
    assert "rotated" in run.check("token.refresh")["summary"]


def test_query_conformance_reports_capability_facts(doctor: Callable[..., CliRun]) -> None:
    check = doctor("demo", "--scenario", "healthy").check("customers.query_conformance")
    assert check["facts"]["$skip without $orderby"].startswith("rejected")
    assert check["facts"]["contains()"] == "supported"


def test_schema_drift_is_a_warning_not_a_failure(doctor: Callable[..., CliRun]) -> None:
    run = doctor("demo", "--scenario", "schema-drift")
    assert run.check("api.schema")["outcome"] == "warning"
    assert "company_id" in run.check("api.schema")["details"]
