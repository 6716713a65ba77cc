"""Go-live coverage (api.resources' module matrix) in every report: read back from the facts,
the terminal block, junit.xml's suite properties, report.html's section, and `diff` per cell."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from sage200_doctor.commands.diff import compare, render_text, to_json
from sage200_doctor.engine.results import CheckResult, Outcome, RunResult
from sage200_doctor.redact import Redactor
from sage200_doctor.report import coverage
from sage200_doctor.report.html import render_page
from sage200_doctor.report.html_coverage import coverage_section
from sage200_doctor.report.html_parts import capabilities_section, check_panel
from sage200_doctor.report.junit import build_junit
from sage200_doctor.report.terminal import render_summary
from tests.unit.test_report_json import sample_run

HOSTILE = '<script>alert("x")</script>'


def cell(
    resource: str, module: str | None, outcome: str = "readable", **extra: Any
) -> dict[str, Any]:
    status = {"readable": 200, "forbidden": 403, "not-found": 404}.get(outcome)
    reason = "readable" if outcome == "readable" else f"HTTP {status}: {outcome} because"
    return {"resource": resource, "module": module, "outcome": outcome, "status": status} | {
        "reason": reason,
        **extra,
    }


def healthy_cells() -> list[dict[str, Any]]:
    return [
        cell("customers", "sales"),
        cell("sop_orders", "sop"),
        cell("products", "stock"),
    ]


def failing_cells() -> list[dict[str, Any]]:
    return [
        cell("customers", "sales"),
        cell("sop_orders", "sop", "forbidden"),
        cell("sop_quotes", "sop"),
        cell("products", "stock", "not-found"),
        cell("widgets", None, "not-found"),
    ]


def facts_of(cells: list[dict[str, Any]]) -> dict[str, Any]:
    modules: dict[str, dict[str, int]] = {}
    for row in cells:
        counts = modules.setdefault(row["module"] or "unknown", {})
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    return {"resources": cells, "modules": modules}


def resources_check(cells: list[dict[str, Any]]) -> CheckResult:
    failing = any(row["outcome"] != "readable" for row in cells)
    return CheckResult(
        "api.resources",
        145,
        "The modules the integration uses are readable",
        Outcome.FAILED if failing else Outcome.PASSED,
        "2 of 5 listed resource(s) cannot be read." if failing else "All readable.",
        guidance_ids=("faq.errors.403",) if failing else (),
        facts=facts_of(cells),
    )


def run_with(cells: list[dict[str, Any]]) -> RunResult:
    run = sample_run(failing=False)
    run.checks.append(resources_check(cells))
    return run


# --- the matrix, read back ---------------------------------------------------------------------


def test_the_matrix_is_modules_in_catalogue_order_with_counts_per_outcome() -> None:
    matrix = coverage.matrix_of(facts_of(failing_cells()))
    assert matrix is not None
    assert [row.key for row in matrix.modules] == ["sales", "sop", "stock", "unknown"]
    assert [row.title for row in matrix.modules] == [
        "Sales",
        "SOP",
        "Stock",
        "Not in Sage's reference",
    ]
    sop = matrix.modules[1]
    assert sop.counts == (("readable", 1), ("forbidden", 1))
    assert sop.summary() == "1 readable, 1 forbidden"
    assert not sop.readable
    assert matrix.outcomes == ("readable", "forbidden", "not-found")
    assert [c.resource for c in matrix.unreadable] == ["sop_orders", "products", "widgets"]
    assert matrix.headline() == "1 of 4 modules readable"


def test_an_all_readable_matrix_says_so() -> None:
    matrix = coverage.matrix_of(facts_of(healthy_cells()))
    assert matrix is not None
    assert matrix.headline() == "all 3 modules readable"
    assert matrix.outcomes == ("readable",)


@pytest.mark.parametrize(
    "facts",
    [{}, {"resources": "nope"}, {"resources": [1, None, {"module": "sop"}]}, {"modules": []}],
)
def test_facts_without_a_matrix_give_none(facts: dict[str, Any]) -> None:
    assert coverage.matrix_of(facts) is None


def test_the_counts_alone_still_make_a_matrix() -> None:
    """An older report.json, or one cut short, may hold only `modules`."""
    matrix = coverage.matrix_of({"modules": {"stock": {"forbidden": 2}, "sales": {"readable": 1}}})
    assert matrix is not None
    assert [(row.key, row.summary()) for row in matrix.modules] == [
        ("sales", "1 readable"),
        ("stock", "2 forbidden"),
    ]


def test_raw_rows_never_reach_a_facts_table() -> None:
    shown = coverage.shown_facts("api.resources", facts_of(failing_cells()))
    assert shown == {"modules": "1 of 4 modules readable", "resources": "5 read, 3 cannot be read"}
    other = {"paging": "supported"}
    assert coverage.shown_facts("customers.query_conformance", other) == other


# --- terminal ----------------------------------------------------------------------------------


def test_terminal_says_all_modules_readable_in_one_line() -> None:
    text = render_summary(run_with(healthy_cells()))
    assert "  Go-live coverage (api.resources): all 3 modules readable." in text.splitlines()


def test_terminal_has_one_line_per_module_not_fully_readable() -> None:
    lines = render_summary(run_with(failing_cells())).splitlines()
    start = lines.index(
        "  Go-live coverage (api.resources): 1 of 4 modules readable; not readable:"
    )
    assert lines[start + 1 : start + 4] == [
        "    SOP                      1 readable, 1 forbidden: sop_orders",
        "    Stock                    1 not found: products",
        "    Not in Sage's reference  1 not found: widgets",
    ]


def test_the_quiet_form_has_no_coverage_block() -> None:
    assert "Go-live coverage" not in render_summary(run_with(failing_cells()), quiet=True)


def test_no_block_when_the_check_kept_no_matrix() -> None:
    assert "Go-live coverage" not in render_summary(sample_run())


# --- junit.xml ---------------------------------------------------------------------------------


def test_junit_carries_one_suite_property_per_module() -> None:
    root = ET.fromstring(build_junit(run_with(failing_cells()), Redactor()))
    suite = root.find("testsuite")
    assert suite is not None
    properties = [
        (p.get("name"), p.get("value"))
        for p in suite.findall("properties/property")
        if str(p.get("name")).startswith("resource_")
    ]
    assert properties == [
        ("resource_sales", "1 readable"),
        ("resource_sop", "1 readable, 1 forbidden"),
        ("resource_stock", "1 not found"),
        ("resource_unknown", "1 not found"),
    ]
    for case in root.iter("testcase"):
        assert case.find("properties") is None  # the xunit2 schema allows none there


# --- report.html -------------------------------------------------------------------------------


def test_html_section_is_a_matrix_in_colour_and_words_with_the_failing_cells() -> None:
    section = coverage_section(run_with(failing_cells()))
    assert 'id="s2d-resources"' in section
    assert "1 of 4 modules readable" in section
    assert 'class="s2d-cell s2d-cell-bad s2d-cell-forbidden">1 forbidden</td>' in section
    assert 'class="s2d-cell s2d-cell-ok s2d-cell-readable">1 readable</td>' in section
    assert section.count('class="s2d-module s2d-module-unreadable"') == 3
    failures = section[section.index("Cannot be read (3)") :]
    assert failures.count("<tr class=") == 3
    for resource in ("sop_orders", "products", "widgets"):
        assert f"<code>{resource}</code>" in failures
    assert "HTTP 403: forbidden because" in failures


def test_html_has_no_failure_table_when_everything_is_readable() -> None:
    section = coverage_section(run_with(healthy_cells()))
    assert "all 3 modules readable" in section
    assert "Cannot be read" not in section


def test_html_page_places_the_matrix_between_the_checks_and_the_capabilities() -> None:
    page = render_page(run_with(failing_cells()), Redactor())
    assert page.index('id="s2d-checks"') < page.index('id="s2d-resources"')
    assert page.index('id="s2d-resources"') < page.index('id="s2d-capabilities"')


def test_html_never_prints_the_raw_facts() -> None:
    run = run_with(failing_cells())
    check = run.checks[-1]
    for piece in (capabilities_section(run), check_panel(check, run)):
        assert "[{" not in piece
        assert "&#x27;resource&#x27;" not in piece
        assert "1 of 4 modules readable" in piece


def test_html_escapes_resource_names_and_reasons() -> None:
    cells = [cell(HOSTILE, None, "not-found", reason=f"HTTP 404: {HOSTILE}")]
    section = coverage_section(run_with(cells))
    assert "<script>" not in section
    assert "&lt;script&gt;" in section


def test_no_section_when_api_resources_did_not_run() -> None:
    assert coverage_section(sample_run()) == ""


# --- diff --------------------------------------------------------------------------------------


def report_with(cells: list[dict[str, Any]]) -> dict[str, Any]:
    outcome = "failed" if any(c["outcome"] != "readable" for c in cells) else "passed"
    return {
        "schema": "sage200-doctor/report@1",
        "verdict": "pass",
        "root_cause": None,
        "checks": [
            {"id": "api.resources", "order": 145, "outcome": outcome, "facts": facts_of(cells)}
        ],
    }


def test_diff_compares_the_matrix_cell_by_cell() -> None:
    before = report_with(healthy_cells())
    after_cells = copy.deepcopy(healthy_cells())
    after_cells[1] = cell("sop_orders", "sop", "forbidden")
    after_cells.append(cell("pop_orders", "pop"))
    after = report_with(after_cells[:1] + after_cells[1:])
    del after["checks"][0]["facts"]["resources"][2]  # products no longer read
    drift = compare(before, after)
    assert [(r.resource, r.module, r.a, r.b) for r in drift.resources] == [
        ("sop_orders", "sop", "readable", "forbidden"),
        ("products", "stock", "readable", None),
        ("pop_orders", "pop", None, "readable"),
    ]
    assert not drift.facts  # the raw rows are not a "fact that changed" as well
    text = render_text(drift, before, after, ("a.json", "b.json"))
    assert "Resources whose outcome changed (3, api.resources):" in text
    assert "  sop_orders (SOP)  readable -> forbidden" in text
    assert "      B: HTTP 403: forbidden because" in text
    assert "  products (Stock)  readable -> not read" in text
    data = to_json(drift, before, after, ("a.json", "b.json"))
    assert data["resources"][0] == {
        "resource": "sop_orders",
        "module": "sop",
        "a": "readable",
        "b": "forbidden",
    }
    assert data["different"] is True


def test_diff_of_equal_matrices_is_no_difference() -> None:
    drift = compare(report_with(healthy_cells()), report_with(healthy_cells()))
    assert drift.resources == []
    assert not drift.different
