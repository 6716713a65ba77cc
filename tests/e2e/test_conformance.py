"""customers.query_conformance through the real CLI: capability facts pass, wrong answers fail.

Each scenario is run once per module (`demo --scenario NAME`) and its report read by the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from sage200_doctor.checks.conformance import REQUEST_BUDGET, SEED
from tests.e2e.conftest import CliRun, run_cli

pytestmark = pytest.mark.e2e

CHECK = "customers.query_conformance"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], CliRun]:
    """`demo --scenario NAME`, run once per scenario for the whole module."""
    runs: dict[str, CliRun] = {}

    def run(scenario: str) -> CliRun:
        if scenario not in runs:
            where: Path = tmp_path_factory.mktemp(scenario)
            runs[scenario] = run_cli(["demo", "--scenario", scenario], cwd=where)
        return runs[scenario]

    return run


def _check(demo: Callable[[str], CliRun], scenario: str) -> dict[str, Any]:
    return demo(scenario).check(CHECK)


def _urls(check: dict[str, Any]) -> list[str]:
    """The requests' paths and queries (each run has its own emulator port)."""
    return [entry["request"]["url"].split("/accounts/v1/", 1)[1] for entry in check["evidence"]]


def test_healthy_passes_within_budget_and_reports_the_documented_behaviour(
    demo: Callable[[str], CliRun],
) -> None:
    check = _check(demo, "healthy")
    facts = check["facts"]
    assert check["outcome"] == "passed", check["details"]
    assert facts["$skip without $orderby"] == "rejected (HTTP 400), as documented"
    assert facts["string eq"] == "case-insensitive"
    assert facts["string functions"] == "case-insensitive"
    assert {facts[f"{name}()"] for name in ("contains", "startswith", "endswith")} == {"supported"}
    assert facts["$count=true"] == "a bare number: 300"
    assert facts["$top default"].startswith("no cap seen: all 300")
    assert facts["$top maximum"].startswith("no cap seen: all 300")
    assert "no duplicates or gaps" in facts["paging"]
    assert facts["operators"].startswith("ne, lt and not accepted")
    assert facts["generated queries"].endswith("all answered correctly")
    assert f"seed {SEED}" in facts["generated queries"]
    assert len(check["evidence"]) == facts["requests"] <= REQUEST_BUDGET


def test_probes_are_read_only_and_bounded_to_the_sample(demo: Callable[[str], CliRun]) -> None:
    check = _check(demo, "healthy")
    assert {entry["request"]["method"] for entry in check["evidence"]} == {"GET"}
    bounded = [url for url in _urls(check) if "%24filter=" in url or "$filter=" in url]
    assert bounded
    assert all("id ge 27825 and id le 27874" in unquote_plus(url) for url in bounded)


def test_case_sensitive_strings_are_a_fact_not_a_failure(demo: Callable[[str], CliRun]) -> None:
    check = _check(demo, "filter-case-sensitive")
    assert check["outcome"] == "passed", check["details"]
    assert check["facts"]["string eq"] == "case-sensitive"
    assert check["facts"]["string functions"] == "case-sensitive"


def test_a_lower_top_cap_is_a_fact(demo: Callable[[str], CliRun]) -> None:
    check = _check(demo, "top-capped-at-100")
    assert check["outcome"] == "passed", check["details"]
    assert check["facts"]["$top default"] == "100 (documented: 500)"
    assert check["facts"]["$top maximum"] == "100 (documented: 5000)"


def test_skip_without_orderby_allowed_is_a_fact(demo: Callable[[str], CliRun]) -> None:
    check = _check(demo, "skip-without-orderby-allowed")
    assert check["outcome"] == "passed", check["details"]
    assert check["facts"]["$skip without $orderby"].startswith("allowed (HTTP 200")


def test_missing_string_functions_are_a_fact_and_never_generated(
    demo: Callable[[str], CliRun],
) -> None:
    check = _check(demo, "string-functions-unsupported")
    assert check["outcome"] == "passed", check["details"]
    for name in ("contains", "startswith", "endswith"):
        assert check["facts"][f"{name}()"].startswith("not supported (HTTP 400")
        assert sum(f"{name}(" in url for url in _urls(check)) == 1  # the probe itself only
    assert "string functions" not in check["facts"]


@pytest.mark.parametrize(
    ("scenario", "symptom"),
    [
        ("filter-and-as-or", "that do not match"),
        ("filter-datetime-as-date", "left out"),
        ("orderby-ignored", "not sorted by"),
    ],
)
def test_wrong_answers_fail_with_the_query_and_both_answers(
    demo: Callable[[str], CliRun], scenario: str, symptom: str
) -> None:
    run = demo(scenario)
    check = run.check(CHECK)
    assert check["outcome"] == "failed"
    assert run.report["root_cause"]["check"] == CHECK
    assert "faq.query.odata" in {entry["id"] for entry in check["guidance"]}
    assert symptom in check["summary"]
    details = check["details"]
    assert "Query: GET customers?$filter=" in details
    assert "it must return ids:" in details
    assert "It returned ids:" in details
    assert len(check["evidence"]) <= REQUEST_BUDGET


def test_the_search_reports_its_shrunk_query_sent_again_last(
    demo: Callable[[str], CliRun],
) -> None:
    check = _check(demo, "filter-and-as-or")
    details = check["details"]
    assert "Found by property-based probing" in details
    assert "Sent again (the last exchange in the evidence): the same answer." in details
    query = details.split("Query: GET customers?", 1)[1].splitlines()[0]
    assert " and (id ge 27825 and id le 27874)" in query
    assert query.count(" and ") == 2  # shrunk to one comparison, AND-ed with the two bounds


def test_the_probes_are_reproducible(demo: Callable[[str], CliRun], tmp_path: Path) -> None:
    again = run_cli(["demo", "--scenario", "filter-and-as-or"], cwd=tmp_path).check(CHECK)
    first = _check(demo, "filter-and-as-or")
    assert again["details"] == first["details"]
    assert _urls(again) == _urls(first)
