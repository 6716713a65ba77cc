"""report.json: its shape (CONTRACT §6), its schema, and the last redaction sweep."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from sage200_doctor.engine.results import CheckResult, Exchange, Outcome, RunResult
from sage200_doctor.redact import Redactor
from sage200_doctor.report.json import build_report, report_schema, validate_report, write_report

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlLWNhbmFyeQ"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def sample_run(*, failing: bool = True, body: str = '{"Message": "ok"}') -> RunResult:
    """A small run: passes, a warning with facts, optionally a root cause and what it blocked."""
    exchange = Exchange(
        method="GET",
        url="https://api.example.test/uk/sage200extra/accounts/v1/sites?x=1",
        request_headers={"Authorization": "Bearer [redacted]", "X-Site": "abc"},
        status=401 if failing else 200,
        response_headers={"content-type": "application/json"},
        body_excerpt=body,
        elapsed_ms=12.34,
    )
    checks = [
        CheckResult("config.complete", 10, "Configuration is complete", Outcome.PASSED, "OK"),
        CheckResult(
            "gateway.subscription_key",
            50,
            "Gateway accepts the subscription key",
            Outcome.FAILED if failing else Outcome.PASSED,
            "The gateway requires a subscription key and none is configured.",
            details="HTTP 401. Set SAGE200_SUBSCRIPTION_KEY.",
            guidance_ids=("faq.postman.subscription-key",) if failing else (),
            evidence=[exchange],
            duration_ms=3.21,
        ),
        CheckResult(
            "token.refresh",
            60,
            "Refresh token mints an access token",
            Outcome.SKIPPED,
            "No refresh token is configured.",
        ),
        CheckResult(
            "header.authorization",
            90,
            "Authorization header is well-formed",
            Outcome.BLOCKED if failing else Outcome.PASSED,
            "Not run." if failing else "OK",
            blocked_by="gateway.subscription_key" if failing else None,
        ),
        CheckResult(
            "customers.query_conformance",
            140,
            "Query options behave as documented",
            Outcome.WARNING,
            "$skip without $orderby is allowed.",
            guidance_ids=("faq.query.odata",),
            facts={"contains()": "supported", "$top limit": 500},
        ),
    ]
    return RunResult(
        started_at="2026-11-23T18:00:00Z",
        duration_s=1.42,
        environment={
            "edition": "professional",
            "api_base_url": "https://api.example.test/uk/sage200extra/accounts/v1/",
            "token_url": "https://id.example.test/oauth/token",
            "site_id": "6800e15c-6a18-4a3d-bc22-a09f89ac2d01",
            "company_id": "33",
        },
        checks=checks,
    )


def test_report_has_the_contract_keys_and_validates() -> None:
    report = build_report(sample_run(), Redactor())
    assert list(report) == [
        "schema",
        "tool",
        "started_at",
        "duration_s",
        "environment",
        "verdict",
        "exit_code",
        "root_cause",
        "checks",
    ]
    assert report["schema"] == "sage200-doctor/report@1"
    assert report["verdict"] == "fail"
    assert report["exit_code"] == 1
    assert report["root_cause"] == {
        "check": "gateway.subscription_key",
        "summary": "The gateway requires a subscription key and none is configured.",
    }
    assert validate_report(report) == []


def test_a_passing_report_validates() -> None:
    report = build_report(sample_run(failing=False), Redactor())
    assert report["root_cause"] is None
    assert validate_report(report) == []


def test_check_entries_carry_guidance_evidence_and_facts() -> None:
    checks = {c["id"]: c for c in build_report(sample_run(), Redactor())["checks"]}
    gateway = checks["gateway.subscription_key"]
    assert gateway["guidance"][0]["id"] == "faq.postman.subscription-key"
    assert gateway["guidance"][0]["url"].startswith("https://")
    assert gateway["guidance"][0]["owner"] == "developer"
    assert gateway["evidence"][0]["response"]["status"] == 401
    assert gateway["evidence"][0]["request"]["headers"]["Authorization"] == "Bearer [redacted]"
    assert checks["header.authorization"]["blocked_by"] == "gateway.subscription_key"
    assert checks["customers.query_conformance"]["facts"] == {
        "contains()": "supported",
        "$top limit": 500,
    }
    assert "facts" not in checks["config.complete"]


RESOURCE_ROW = {
    "resource": "sop_orders",
    "module": "sop",
    "outcome": "forbidden",
    "status": 403,
    "reason": "HTTP 403: the role lacks the SOP module.",
}


def _with_facts(facts: dict[str, Any]) -> dict[str, Any]:
    report = build_report(sample_run(failing=False), Redactor())
    report["checks"][0]["facts"] = facts
    return report


def test_facts_may_be_a_table_and_a_mapping_of_counts() -> None:
    """api.resources keeps its matrix as rows, and a module → outcome → count summary."""
    facts = {"resources": [RESOURCE_ROW], "modules": {"sop": {"forbidden": 1}}, "n": 3}
    assert validate_report(_with_facts(facts)) == []


@pytest.mark.parametrize(
    "value",
    [[[1, 2]], [{"nested": {"too": "deep"}}], {"sop": {"forbidden": [1]}}, [1, 2]],
    ids=["list-of-lists", "row-with-object", "deep-mapping", "list-of-scalars"],
)
def test_facts_nested_deeper_than_rows_are_rejected(value: Any) -> None:
    assert validate_report(_with_facts({"x": value})) != []


def test_a_token_learned_late_is_swept_from_earlier_evidence(tmp_path: Path) -> None:
    run = sample_run(body=f'{{"echo": "{TOKEN}"}}')
    redactor = Redactor()
    redactor.add("access_token", TOKEN)  # learned after the evidence was recorded
    path = tmp_path / "out" / "report.json"
    write_report(run, path, redactor)
    text = path.read_text(encoding="utf-8")
    assert TOKEN not in text
    assert validate_report(json.loads(text)) == []
    assert not list(path.parent.glob(".report-*"))  # the temporary file was renamed


def test_the_schema_is_draft_2020_12_and_itself_valid() -> None:
    schema = report_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def _broken(change: str) -> dict[str, Any]:
    report = build_report(sample_run(), Redactor())
    broken = copy.deepcopy(report)
    if change == "verdict":
        broken["verdict"] = "maybe"
    elif change == "exit code":
        broken["exit_code"] = 0
    elif change == "root cause":
        broken["root_cause"] = {"check": "config.complete", "summary": "x"}
    elif change == "blocked without blocker":
        broken["checks"][3]["blocked_by"] = None
    elif change == "order":
        broken["checks"].reverse()
    elif change == "failure without guidance":
        broken["checks"][1]["guidance"] = []
    elif change == "status":
        broken["checks"][1]["evidence"][0]["response"]["status"] = 42
    elif change == "extra key":
        broken["checks"][0]["surprise"] = True
    return broken


@pytest.mark.parametrize(
    "change",
    [
        "verdict",
        "exit code",
        "root cause",
        "blocked without blocker",
        "order",
        "failure without guidance",
        "status",
        "extra key",
    ],
)
def test_validate_report_catches(change: str) -> None:
    assert validate_report(_broken(change)) != []


def test_validate_report_points_at_the_problem() -> None:
    problems = validate_report(_broken("status"))
    assert any(p.startswith("/checks/1/evidence/0/response") for p in problems)
    assert validate_report([]) == ["(top level): [] is not of type 'object'"]
