"""api.resources through the real CLI against a real emulator: every cell of the module matrix.

Listed resources (SAGE200_RESOURCES) must be readable, else the run fails naming the resource,
its module and why; without a list, one resource per module is read and reported as facts, a
warning at most.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sage200_doctor.emulator import (
    EmulatorConfig,
    RunningEmulator,
    format_env_lines,
    running_emulator,
    scenario_config,
)
from sage200_doctor.emulator.faults import FaultRule
from tests.e2e.conftest import CliRun

pytestmark = pytest.mark.e2e

CHECK = "api.resources"


def _run(
    doctor: Callable[..., CliRun],
    tmp_path: Path,
    config: EmulatorConfig | str,
    resources: str | None,
) -> tuple[CliRun, RunningEmulator]:
    with running_emulator(config) as emulator:
        env = emulator.env()
        if resources is not None:
            env["SAGE200_RESOURCES"] = resources
        env_file = tmp_path / "site.env"
        env_file.write_text(format_env_lines(env), encoding="utf-8")
        run = doctor("run", "--env", str(env_file), "--report-dir", str(tmp_path / "reports"))
    assert "Traceback" not in run.stdout + run.stderr
    return run, emulator


def _cells(run: CliRun) -> dict[str, dict[str, Any]]:
    return {row["resource"]: row for row in run.check(CHECK)["facts"]["resources"]}


def _guidance(check: dict[str, Any]) -> set[str]:
    return {entry["id"] for entry in check["guidance"]}


def _api_paths(emulator: RunningEmulator) -> list[tuple[str, str]]:
    return [(e.method, e.path.rsplit("/", 1)[-1]) for e in emulator.request_log if e.face == "api"]


def test_listed_resources_that_are_readable_pass_and_are_only_read(
    doctor: Callable[..., CliRun], tmp_path: Path
) -> None:
    listed = "sop_orders,products,nominal_codes,pop_orders,licence"
    run, emulator = _run(doctor, tmp_path, "healthy", listed)
    assert run.code == 0, run.stdout
    check = run.check(CHECK)
    assert check["outcome"] == "passed"
    assert check["summary"].startswith("All 5 listed resource(s) are readable")
    assert {name: row["outcome"] for name, row in _cells(run).items()} == dict.fromkeys(
        listed.split(","), "readable"
    )
    assert check["facts"]["modules"] == {
        "sop": {"readable": 1},
        "stock": {"readable": 1},
        "nominal": {"readable": 1},
        "pop": {"readable": 1},
        "general": {"readable": 1},
    }
    sent = _api_paths(emulator)
    assert {method for method, _ in sent} == {"GET"}
    for name in listed.split(","):
        assert ("GET", name) in sent
    urls = [e["request"]["url"] for e in check["evidence"]]
    assert sorted(url.split("/")[-1] for url in urls) == sorted(
        f"{name}?$top=1" for name in listed.split(",")
    )
    assert run.report["requests"]["sent_ahead_unused"] == []


def test_a_listed_resource_the_role_lacks_fails_naming_the_module_and_the_role_setting(
    doctor: Callable[..., CliRun], tmp_path: Path
) -> None:
    run, _ = _run(doctor, tmp_path, "modules-denied", "customers,sop_orders")
    assert run.code == 1, run.stdout
    assert run.report["root_cause"]["check"] == CHECK
    check = run.check(CHECK)
    assert check["outcome"] == "failed"
    assert check["summary"] == (
        "1 of 2 listed resource(s) cannot be read: sop_orders (SOP) forbidden."
    )
    assert check["details"].startswith("sop_orders (SOP): HTTP 403")
    assert "look for Sales Order Processing" in check["details"]
    assert "System Administration > Roles" in check["details"]
    assert _guidance(check) == {"faq.errors.403"}
    cells = _cells(run)
    assert (cells["sop_orders"]["outcome"], cells["sop_orders"]["status"]) == ("forbidden", 403)
    assert cells["customers"]["outcome"] == "readable"
    assert CHECK in run.stdout


def test_a_professional_only_resource_on_a_standard_site_is_a_404_that_says_so(
    doctor: Callable[..., CliRun], tmp_path: Path
) -> None:
    standard = dataclasses.replace(scenario_config("healthy"), edition="standard")
    run, _ = _run(doctor, tmp_path, standard, "customer_views,finance_charges")
    assert run.code == 1, run.stdout
    check = run.check(CHECK)
    assert "finance_charges (Sales) not found" in check["summary"]
    assert "finance_charges is Professional-only" in check["details"]
    assert _guidance(check) == {"faq.errors.404"}
    assert _cells(run)["finance_charges"]["status"] == 404
    assert _cells(run)["customer_views"]["outcome"] == "readable"


def test_a_resource_newer_than_the_site_is_a_404_dated_by_sages_changelog(
    doctor: Callable[..., CliRun], tmp_path: Path
) -> None:
    run, _ = _run(doctor, tmp_path, "old-professional-site", "sop_orders,sop_quotes")
    assert run.code == 1, run.stdout
    check = run.check(CHECK)
    assert check["summary"] == (
        "1 of 2 listed resource(s) cannot be read: sop_quotes (SOP) not found."
    )
    assert "Sage added sop_quotes on 2021-11-08" in check["details"]
    assert _cells(run)["sop_orders"]["outcome"] == "readable"


@pytest.mark.parametrize(
    ("kind", "outcome", "guidance", "words"),
    [
        ("status-503", "server-error", "faq.setup.configure", "HTTP 503 Service Unavailable"),
        ("rate-limit-forever", "gateway-refused", "faq.postman.subscription-key", "API Management"),
    ],
    ids=["503", "gateway"],
)
def test_a_failing_server_or_gateway_fails_the_listed_resource(
    doctor: Callable[..., CliRun],
    tmp_path: Path,
    kind: str,
    outcome: str,
    guidance: str,
    words: str,
) -> None:
    fault = FaultRule(kind=kind, face="api", path="/sop_orders")  # type: ignore[arg-type] # a known kind
    config = dataclasses.replace(scenario_config("healthy"), faults=(fault,))
    run, _ = _run(doctor, tmp_path, config, "sop_orders,products")
    assert run.code == 1, run.stdout
    check = run.check(CHECK)
    assert check["summary"].endswith(f"sop_orders (SOP) {outcome.replace('-', ' ')}.")
    assert words in check["details"]
    assert guidance in _guidance(check)
    assert _cells(run)["sop_orders"]["outcome"] == outcome
    assert _cells(run)["products"]["outcome"] == "readable"


def test_a_name_the_reference_lacks_is_asked_for_and_fails_with_did_you_mean(
    doctor: Callable[..., CliRun], tmp_path: Path
) -> None:
    run, _ = _run(doctor, tmp_path, "healthy", "sop_order")
    assert run.code == 1, run.stdout
    assert run.check("config.values")["outcome"] == "warning"
    assert "Did you mean sop_orders?" in run.check("config.values")["details"]
    check = run.check(CHECK)
    assert check["summary"].endswith("sop_order (not in Sage's reference) not found.")
    assert "did you mean sop_orders?" in check["details"]
    assert run.check(CHECK)["facts"]["modules"] == {"unknown": {"not-found": 1}}


def test_without_a_list_denied_modules_are_facts_and_a_warning_only(
    doctor: Callable[..., CliRun],
) -> None:
    run = doctor("demo", "--scenario", "modules-denied")
    assert run.code == 0, run.stdout
    check = run.check(CHECK)
    assert check["outcome"] == "warning"
    assert check["summary"].startswith(
        "2 of 11 modules cannot be read: sop_orders (SOP) forbidden, products (Stock) forbidden"
    )
    assert "SAGE200_RESOURCES" in check["details"]
    assert _guidance(check) == {"faq.errors.403"}
    modules = check["facts"]["modules"]
    assert (modules["sop"], modules["stock"], modules["sales"]) == (
        {"forbidden": 1},
        {"forbidden": 1},
        {"readable": 1},
    )
    assert len(check["facts"]["resources"]) == 11


def test_without_a_list_a_healthy_site_reads_every_module_and_passes(
    doctor: Callable[..., CliRun],
) -> None:
    run = doctor("demo", "--scenario", "healthy")
    assert run.code == 0, run.stdout
    check = run.check(CHECK)
    assert check["outcome"] == "passed"
    assert "all 11 modules are readable" in check["summary"]
    assert {row["outcome"] for row in check["facts"]["resources"]} == {"readable"}
    assert {row["module"] for row in check["facts"]["resources"]} == set(check["facts"]["modules"])


def test_checks_and_explain_describe_the_check(doctor: Callable[..., CliRun]) -> None:
    listing = doctor("checks")
    assert listing.code == 0
    assert " 145  api.resources" in listing.stdout
    assert "needs:    sites.selection" in listing.stdout.split("api.resources", 1)[1]
    explained = doctor("explain", CHECK)
    assert explained.code == 0
    assert "SAGE200_RESOURCES" in explained.stdout
    assert "(faq.errors.403)" in explained.stdout
    assert "(faq.errors.404)" in explained.stdout
