"""Drift between two report.json files: outcomes, facts, companies, verdict; exit 0 / 1 / 4."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sage200_doctor.commands.diff import (
    DiffInputError,
    companies_visible,
    compare,
    load_report,
    render_text,
    to_json,
)

SITES = [
    {"site_id": "S-1", "site_name": "Mart", "company_id": 33, "company_name": "Mart UK"},
    {"site_id": "S-1", "site_name": "Mart", "company_id": 13, "company_name": "Mart IE"},
    {"site_id": "S-2", "site_name": "Bell", "company_id": 7, "company_name": "Bell Ltd"},
]


def entry(check_id: str, order: int, outcome: str = "passed", **extra: Any) -> dict[str, Any]:
    return {
        "id": check_id,
        "order": order,
        "title": check_id,
        "outcome": outcome,
        "blocked_by": None,
        "summary": f"{check_id} {outcome}",
        "details": "",
        "guidance": [],
        "evidence": [],
        "duration_ms": 1.0,
        **extra,
    }


def sites_evidence(sites: list[dict[str, Any]], status: int = 200) -> list[dict[str, Any]]:
    return [
        {
            "request": {"method": "GET", "url": "https://api/sites", "headers": {}},
            "response": {"status": status, "headers": {}, "body": json.dumps(sites)},
            "elapsed_ms": 10.0,
        }
    ]


def report(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema": "sage200-doctor/report@1",
        "tool": {"name": "sage200-doctor", "version": "0.1.0"},
        "started_at": "2026-11-23T12:00:00Z",
        "duration_s": 1.0,
        "environment": {"api_base_url": "https://uat.example/api/"},
        "verdict": "pass",
        "exit_code": 0,
        "root_cause": None,
        "checks": [
            entry(
                "token.claims", 70, facts={"issuer": "https://id.sage.com/", "expires in": "59 min"}
            ),
            entry(
                "sites.list", 100, facts={"sites and companies": 3}, evidence=sites_evidence(SITES)
            ),
            entry(
                "customers.query_conformance",
                140,
                facts={"contains()": "supported", "$skip without $orderby": "rejected (400)"},
            ),
        ],
    }
    data.update(changes)
    return data


def check_of(data: dict[str, Any], check_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in data["checks"] if c["id"] == check_id)
    return found


NAMES = ("a.json", "b.json")


# --- comparing -------------------------------------------------------------------------------


def test_the_same_report_twice_shows_no_difference() -> None:
    drift = compare(report(), report())
    assert not drift.different
    assert drift.companies_compared
    text = render_text(drift, report(), report(), NAMES)
    assert "No difference: verdict pass on both, the same outcome for all 3 checks" in text


def test_run_to_run_noise_is_not_a_difference() -> None:
    later = report(started_at="2026-11-30T12:00:00Z", duration_s=9.0)
    claims = check_of(later, "token.claims")
    claims["facts"]["expires in"] = "12 min"
    claims["summary"] = "JWT ... 12 min left."
    claims["duration_ms"] = 99.0
    assert not compare(report(), later).different


def test_an_outcome_change_is_listed_with_both_summaries() -> None:
    later = report(verdict="fail", exit_code=1, root_cause={"check": "sites.list", "summary": "x"})
    check_of(later, "sites.list")["outcome"] = "failed"
    check_of(later, "sites.list")["summary"] = "GET sites answered an empty list"
    drift = compare(report(), later)
    assert drift.different
    [change] = drift.checks
    assert (change.check, change.a, change.b) == ("sites.list", "passed", "failed")
    assert change.summary_b == "GET sites answered an empty list"
    assert drift.verdict == ("pass", "fail")
    assert drift.root_cause == (None, "sites.list")
    text = render_text(drift, report(), later, NAMES)
    assert "Verdict: pass -> fail (root cause: none -> sites.list)" in text
    assert "sites.list                   passed -> failed" in text
    assert "B: GET sites answered an empty list" in text


def test_a_check_on_one_side_only_is_not_run_on_the_other() -> None:
    later = report()
    later["checks"].insert(1, entry("token.expiry", 85, "warning"))
    drift = compare(report(), later)
    [change] = drift.checks
    assert (change.check, change.a, change.b) == ("token.expiry", None, "warning")
    assert "token.expiry                 not run -> warning" in render_text(
        drift, report(), later, NAMES
    )
    # Checks stay in run order, whichever side they come from.
    assert [c.check for c in compare(later, report()).checks] == ["token.expiry"]


def test_an_acceptance_change_is_an_outcome_change() -> None:
    accepted = report()
    check_of(accepted, "sites.list")["accepted"] = {"reason": "r", "expires": "2027-01-31"}
    [change] = compare(report(), accepted).checks
    assert (change.a, change.b) == ("passed", "passed (accepted)")


def test_changed_capability_facts_are_listed() -> None:
    later = report()
    facts = check_of(later, "customers.query_conformance")["facts"]
    facts["contains()"] = "not supported (400)"
    del facts["$skip without $orderby"]
    facts["$top limit"] = 500
    drift = compare(report(), later)
    listed = [(f.fact, f.a, f.b) for f in drift.facts]
    assert listed == [
        ("$skip without $orderby", "rejected (400)", None),
        ("$top limit", None, 500),
        ("contains()", "supported", "not supported (400)"),
    ]
    text = render_text(drift, report(), later, NAMES)
    assert "Capability facts that changed (3):" in text
    assert "customers.query_conformance: $top limit: (absent) -> 500" in text


def test_companies_visible_on_one_side_only() -> None:
    later = report()
    moved = [SITES[0], {**SITES[2], "company_id": 8, "company_name": "Bell Services"}]
    check_of(later, "sites.list")["evidence"] = sites_evidence(moved)
    drift = compare(report(), later)
    assert drift.companies_only_a == [
        "Bell / Bell Ltd (X-Site S-2, X-Company 7)",
        "Mart / Mart IE (X-Site S-1, X-Company 13)",
    ]
    assert drift.companies_only_b == ["Bell / Bell Services (X-Site S-2, X-Company 8)"]
    text = render_text(drift, report(), later, NAMES)
    assert "Companies visible only in A (2):" in text
    assert "Companies visible only in B (1):" in text


def test_companies_are_read_from_the_first_good_sites_answer() -> None:
    data = report()
    evidence = sites_evidence([], status=429) + sites_evidence(SITES)
    check_of(data, "sites.list")["evidence"] = evidence
    visible = companies_visible(data)
    assert visible is not None
    assert len(visible) == 3
    assert ("s-1", "33") in visible


def test_companies_not_shown_are_not_compared() -> None:
    without = report()
    without["checks"] = [c for c in without["checks"] if c["id"] != "sites.list"]
    assert companies_visible(without) is None
    cut = report()
    check_of(cut, "sites.list")["evidence"][0]["response"]["body"] = '[{"site_id": "S-1", "compa'
    assert companies_visible(cut) is None
    drift = compare(report(), cut)
    assert not drift.companies_compared
    assert not drift.different
    assert "Companies: not compared" not in render_text(drift, report(), cut, NAMES)
    other = compare(report(), without)
    assert "Companies: not compared" in render_text(other, report(), without, NAMES)


def test_an_empty_sites_list_shows_every_company_gone() -> None:
    later = report()
    check_of(later, "sites.list")["evidence"] = sites_evidence([])
    assert len(compare(report(), later).companies_only_a) == 3


def test_the_json_form() -> None:
    later = report(verdict="fail", root_cause={"check": "sites.list", "summary": "x"})
    check_of(later, "sites.list")["outcome"] = "failed"
    data = to_json(compare(report(), later), report(), later, NAMES)
    assert data["schema"] == "sage200-doctor/diff@1"
    assert data["different"] is True
    assert data["a"] == {
        "file": "a.json",
        "started_at": "2026-11-23T12:00:00Z",
        "api_base_url": "https://uat.example/api/",
        "verdict": "pass",
    }
    assert data["verdict"] == {"a": "pass", "b": "fail"}
    assert data["root_cause"] == {"a": None, "b": "sites.list"}
    assert data["checks"][0]["id"] == "sites.list"
    assert data["companies"] == {"compared": True, "only_a": [], "only_b": []}
    json.dumps(data)


# --- reading -------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        ([], "top level is not an object"),
        ({"schema": "something/else@1"}, "schema is 'something/else@1'"),
        ({"schema": "sage200-doctor/report@1", "verdict": "pass"}, "no list of checks"),
        ({"schema": "sage200-doctor/report@1", "checks": [{"id": "x"}]}, "no id or outcome"),
        ({"schema": "sage200-doctor/report@1", "checks": []}, "no verdict"),
    ],
)
def test_input_that_is_not_a_report_is_refused(tmp_path: Path, content: Any, message: str) -> None:
    with pytest.raises(DiffInputError, match=message):
        load_report(write(tmp_path, "x.json", content))


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DiffInputError, match="cannot read"):
        load_report(tmp_path / "missing.json")


# --- the command -----------------------------------------------------------------------------


def run(a: Path, b: Path, *, as_json: bool = False) -> int:
    from sage200_doctor.commands import main

    return main(["diff", str(a), str(b), *(["--json"] if as_json else [])])


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path, "a.json", report())
    changed = copy.deepcopy(report())
    check_of(changed, "sites.list")["outcome"] = "warning"
    b = write(tmp_path, "b.json", changed)
    assert run(a, a) == 0
    assert "No difference" in capsys.readouterr().out
    assert run(a, b) == 1
    assert "passed -> warning" in capsys.readouterr().out
    assert run(a, b, as_json=True) == 1
    assert json.loads(capsys.readouterr().out)["different"] is True
    assert run(a, tmp_path / "missing.json") == 4
    assert "sage200-doctor: cannot read" in capsys.readouterr().err
