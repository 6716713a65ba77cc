"""report.json (CONTRACT §6): the machine-readable record of a run."""

from __future__ import annotations

import json
import os
import tempfile
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from sage200_doctor import __version__
from sage200_doctor.engine.results import CheckResult, RunResult
from sage200_doctor.guidance import guidance_for
from sage200_doctor.redact import Redactor

SCHEMA_ID = "sage200-doctor/report@1"
SCHEMA_FILE = "report.schema.json"


def guidance_entries(ids: tuple[str, ...]) -> list[dict[str, str]]:
    entries = []
    for guidance_id in ids:
        entry = guidance_for(guidance_id)
        entries.append(
            {"id": entry.id, "title": entry.title, "url": entry.url, "owner": entry.owner}
        )
    return entries


def check_entry(result: CheckResult) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": result.id,
        "order": result.order,
        "title": result.title,
        "outcome": result.outcome.value,
        "blocked_by": result.blocked_by,
        "summary": result.summary,
        "details": result.details,
        "guidance": guidance_entries(result.guidance_ids),
        "evidence": [exchange.to_json() for exchange in result.evidence],
        "duration_ms": round(result.duration_ms, 1),
    }
    if result.facts:
        entry["facts"] = result.facts
    if result.accepted is not None:
        entry["accepted"] = result.accepted.to_json()
    if result.substitutes:
        entry["substitutes"] = [substitute.to_json() for substitute in result.substitutes]
    return entry


def build_report(result: RunResult, redactor: Redactor) -> dict[str, Any]:
    root = result.root_cause
    report = {
        "schema": SCHEMA_ID,
        "tool": {"name": "sage200-doctor", "version": __version__},
        "started_at": result.started_at,
        "duration_s": result.duration_s,
        "environment": result.environment,
        "verdict": result.verdict.value,
        "exit_code": result.exit_code,
        "root_cause": {"check": root.id, "summary": root.summary} if root else None,
        "checks": [check_entry(check) for check in result.checks],
    }
    if result.also_found:
        report["also_found"] = [
            {"check": c.id, "summary": c.summary, "guidance": list(c.guidance_ids)}
            for c in result.also_found
        ]
    if result.interruption is not None:
        report["interruption"] = result.interruption.to_json()
    if result.selection:
        report["selection"] = list(result.selection)
    if result.source != "live":
        report["source"] = result.source
    if result.input is not None:
        report["input"] = result.input
    if result.baseline is not None:
        report["baseline"] = result.baseline
    if result.requests is not None:
        report["requests"] = result.requests
    # A last sweep by value over everything: evidence was redacted when recorded, but a token
    # learned later in the run may have appeared in an earlier answer.
    redacted: dict[str, Any] = redactor.data(report)
    return redacted


def write_report(result: RunResult, path: Path, redactor: Redactor) -> None:
    text = json.dumps(build_report(result, redactor), indent=2, ensure_ascii=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".report-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text + "\n")
    os.replace(temporary, path)


@cache
def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of report.json, shipped inside the package."""
    text = files("sage200_doctor.report").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_report(data: Any) -> list[str]:
    """Every way `data` breaks the report.json contract, as readable lines; [] when it is valid.

    The schema covers shapes and the verdict/exit-code pairing; the few rules a schema cannot
    say (the root cause is the first failed check, checks in run order) are checked here.
    """
    import jsonschema  # only when validating: a plain run need not pay for importing it

    validator = jsonschema.Draft202012Validator(report_schema())
    problems = [
        f"{_where(error.absolute_path)}: {error.message}"
        for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    ]
    if problems or not isinstance(data, dict):
        return problems
    return _consistency(data)


def _where(path: Any) -> str:
    return "/" + "/".join(str(part) for part in path) if path else "(top level)"


def _consistency(data: dict[str, Any]) -> list[str]:
    checks: list[dict[str, Any]] = data["checks"]
    problems: list[str] = []
    orders = [check["order"] for check in checks]
    if orders != sorted(orders):
        problems.append("/checks: not in run order")
    ids = [check["id"] for check in checks]
    if len(set(ids)) != len(ids):
        problems.append("/checks: a check id appears twice")
    # A failure a baseline accepted is never the root cause (see baseline.py).
    failed = [c for c in checks if c["outcome"] == "failed" and not c.get("accepted")]
    expected = failed[0]["id"] if failed else None
    actual = data["root_cause"]["check"] if data["root_cause"] else None
    if actual != expected:
        problems.append(f"/root_cause: is {actual}, but the first failed check is {expected}")
    also = [entry["check"] for entry in data.get("also_found", [])]
    if also != [c["id"] for c in failed[1:]]:
        problems.append("/also_found: is not every further failed check, in run order")
    for check in checks:
        if check["blocked_by"] is not None and check["blocked_by"] not in ids:
            problems.append(
                f"/checks/{check['id']}: blocked by unknown check {check['blocked_by']}"
            )
    return problems
