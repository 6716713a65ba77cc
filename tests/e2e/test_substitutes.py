"""Diagnosing through the first fault: a substitute proved by a request lets the run go on and
find the next, independent fault; an alternative that does not work invents nothing.

Every run is the real CLI against a real emulator serving two faults at once (`a+b`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from sage200_doctor.emulator import format_env_lines, running_emulator, scenario_config
from sage200_doctor.emulator.faults import FaultRule
from sage200_doctor.report.json import validate_report
from tests.e2e.conftest import CliRun, run_cli

pytestmark = pytest.mark.e2e

# scenario: (root cause, its guidance, the fault found behind it, its guidance, replaced by)
PAIRS = {
    "no-space-bearer+customers-forbidden": (
        "header.authorization",
        "faq.postman.bearer-space",
        "customers.list",
        "faq.errors.403",
        "'Bearer <token>' with one space",
    ),
    "no-space-bearer+company-not-listed": (
        "header.authorization",
        "faq.postman.bearer-space",
        "sites.selection",
        "faq.postman.site-company",
        "'Bearer <token>' with one space",
    ),
    "company-not-listed+customers-forbidden": (
        "sites.selection",
        "faq.postman.site-company",
        "customers.list",
        "faq.errors.403",
        "X-Site ",
    ),
    "edition-mismatch+filter-ignored": (
        "sites.list",
        "faq.errors.404",
        "customers.filter",
        "faq.query.odata",
        "the professional path",
    ),
    "refresh-revoked-access-valid+customers-forbidden": (
        "token.refresh",
        "guide.auth.reconsent",
        "customers.list",
        "faq.errors.403",
        "the configured SAGE200_ACCESS_TOKEN",
    ),
    "key-optional+key-invalid+customers-forbidden": (
        "gateway.subscription_key",
        "faq.postman.subscription-key",
        "customers.list",
        "faq.errors.403",
        "no subscription key",
    ),
    "basic-auth-rejected+customers-forbidden": (
        "token.refresh",
        "guide.auth.credentials",
        "customers.list",
        "faq.errors.403",
        "body client authentication",
    ),
}


def _guidance(run: CliRun, check_id: str) -> set[str]:
    return {entry["id"] for entry in run.check(check_id)["guidance"]}


@pytest.mark.parametrize("scenario", sorted(PAIRS))
def test_one_run_names_both_faults(scenario: str, doctor: Callable[..., CliRun]) -> None:
    root, root_guidance, behind, behind_guidance, by = PAIRS[scenario]
    run = doctor("demo", "--scenario", scenario)
    report = run.report
    assert validate_report(report) == []
    assert run.code == 1
    assert report["root_cause"]["check"] == root  # the contract: the first failed check
    assert root_guidance in _guidance(run, root)
    found = [entry["check"] for entry in report["also_found"]]
    assert behind in found
    assert behind_guidance in _guidance(run, behind)
    substituted = run.check(behind)["substitutes"]
    assert any(s["set_by"] == root and by in s["by"] for s in substituted)
    assert "carried on with" in run.check(root)["details"]
    assert "Also found" in run.stdout
    assert behind in run.stdout


@pytest.mark.parametrize(
    ("scenario", "failed", "blocked"),
    [
        # The configured site is not listed and several pairs are: nothing to pick from.
        ("site-not-listed", "sites.selection", "customers.list"),
        # No access token is configured beside the revoked refresh token.
        ("refresh-revoked", "token.refresh", "token.claims"),
        # The gateway requires a key: without one it refuses too.
        ("key-invalid", "gateway.subscription_key", "header.authorization"),
        # Neither client authentication method is accepted.
        ("bad-client-secret", "token.refresh", "token.claims"),
    ],
)
def test_an_alternative_that_does_not_work_invents_nothing(
    scenario: str, failed: str, blocked: str, doctor: Callable[..., CliRun]
) -> None:
    run = doctor("demo", "--scenario", scenario)
    assert run.report["root_cause"]["check"] == failed
    assert run.check(blocked)["outcome"] == "blocked"
    assert "also_found" not in run.report
    assert "substitutes" not in run.check(failed)
    assert "carried on with" not in run.check(failed)["details"]


def test_an_edition_path_that_does_not_answer_either_invents_nothing(tmp_path: Path) -> None:
    config = dataclasses.replace(
        scenario_config("edition-mismatch"),
        faults=(FaultRule(kind="status-503", face="api", path="/uk/sage200extra/"),),
    )
    with running_emulator(config) as emulator:
        env_file = tmp_path / "site.env"
        env_file.write_text(format_env_lines(emulator.env()) + "\n", encoding="utf-8")
        run = run_cli(["run", "--env", str(env_file)], cwd=tmp_path)
    assert run.report["root_cause"]["check"] == "sites.list"
    assert run.check("sites.selection")["outcome"] == "blocked"
    assert "also_found" not in run.report


def test_a_header_the_api_refuses_well_formed_too_invents_nothing(
    doctor: Callable[..., CliRun],
) -> None:
    run = doctor("demo", "--scenario", "no-space-bearer+user-not-api-enabled")
    assert run.report["root_cause"]["check"] == "header.authorization"
    assert "even a well-formed" in run.check("header.authorization")["summary"]
    assert run.check("sites.list")["outcome"] == "blocked"
    assert "also_found" not in run.report


def test_a_substitute_never_leaves_the_run(tmp_path: Path) -> None:
    with running_emulator("company-not-listed+customers-forbidden") as emulator:
        env_file = tmp_path / "site.env"
        env_file.write_text(format_env_lines(emulator.env()) + "\n", encoding="utf-8")
        before = env_file.read_bytes()
        run = run_cli(["run", "--env", str(env_file)], cwd=tmp_path)
        log = emulator.request_log
    assert env_file.read_bytes() == before  # nothing but a rotated refresh token is written back
    assert not list(tmp_path.glob("site.env.bak"))
    configured = emulator.env()["SAGE200_COMPANY_ID"]
    customers = run.check("customers.list")
    sent = [e["request"]["headers"].get("X-Company") for e in customers["evidence"]]
    assert sent
    assert configured not in sent  # the listed stand-in, not the configured pair
    assert {request.method for request in log if request.face == "api"} == {"GET"}
