"""The fleet's outputs: one merged report.json (`sage200-doctor/fleet@1`), clusters of shared
root causes, fleet.html (environments by checks), junit.xml with one testsuite per environment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sage200_doctor.engine.results import RunResult
from sage200_doctor.errors import ExitCode
from sage200_doctor.redact import Redactor

SCHEMA_ID = "sage200-doctor/fleet@1"
SEVERITY: dict[int, int] = {
    ExitCode.PASS: 0,
    ExitCode.FINDING: 1,
    ExitCode.CONFIG: 2,
    ExitCode.UNREACHABLE: 3,
    ExitCode.INTERNAL: 4,
    ExitCode.TIMED_OUT: 5,
    ExitCode.TERMINATED: 6,
    ExitCode.INTERRUPTED: 7,
}
"""How bad an exit code is when environments are merged: a stopped fleet outranks everything,
then internal > unreachable > config > a finding."""


def worst_exit_code(codes: list[int]) -> int:
    return max(codes, key=lambda code: SEVERITY.get(code, 4), default=0)


def clusters(results: dict[str, RunResult]) -> list[dict[str, Any]]:
    """Root causes shared across environments, most widespread first."""
    by_check: dict[str, list[str]] = {}
    for name, result in results.items():
        root = result.root_cause
        if root is not None:
            by_check.setdefault(root.id, []).append(name)
    total = len(results)
    entries = []
    for check_id, names in sorted(by_check.items(), key=lambda item: (-len(item[1]), item[0])):
        shared = "one shared cause" if len(names) > 1 else "this environment only"
        entries.append(
            {
                "check": check_id,
                "count": len(names),
                "of": total,
                "environments": names,
                "summary": f"{check_id} failed on {len(names)} of {total}: {shared}",
            }
        )
    return entries


def build_fleet_report(results: dict[str, RunResult], redactor: Redactor) -> dict[str, Any]:
    from sage200_doctor.report.json import build_report

    environments = []
    for name, result in results.items():
        root = result.root_cause
        entry: dict[str, Any] = redactor.data(
            {
                "name": name,
                "verdict": result.verdict.value,
                "exit_code": result.exit_code,
                "root_cause": {"check": root.id, "summary": root.summary} if root else None,
            }
        )
        # build_report sweeps its report with this same redactor: not swept twice.
        entry["report"] = build_report(result, redactor)
        environments.append(entry)
    codes = [result.exit_code for result in results.values()]
    return {
        "schema": SCHEMA_ID,
        "exit_code": worst_exit_code(codes),
        "environments": environments,
        "clusters": redactor.data(clusters(results)),
    }


def render_summary(results: dict[str, RunResult]) -> str:
    lines = ["", f"sage200-doctor fleet: {len(results)} environment(s)"]
    for name, result in results.items():
        root = result.root_cause
        cause = f" root cause: {root.id}: {root.summary}" if root else ""
        lines.append(f"  {name:<24} {result.verdict.value:<15}{cause}".rstrip())
    found = clusters(results)
    if found:
        lines.append("Root causes across the fleet:")
        lines.extend(f"  {entry['summary']}" for entry in found)
    codes = [result.exit_code for result in results.values()]
    lines.append(f"Fleet exit code: {worst_exit_code(codes)}")
    return "\n".join(lines)


def render_matrix(report: dict[str, Any]) -> str:
    """fleet.html: environments by checks, every value escaped, each row linked to its page."""
    from sage200_doctor.report.html import document
    from sage200_doctor.report.html_parts import badge_for, escape

    envs = report["environments"]
    check_ids: list[str] = []
    for env in envs:
        for check in env["report"]["checks"]:
            if check["id"] not in check_ids:
                check_ids.append(check["id"])
    head = "".join(f"<th>{escape(check_id)}</th>" for check_id in check_ids)
    rows = []
    for env in envs:
        outcomes = {c["id"]: c for c in env["report"]["checks"]}
        cells = "".join(
            f'<td title="{escape(outcomes[c]["summary"])}">{badge_for(outcomes[c]["outcome"])}</td>'
            if c in outcomes
            else "<td></td>"
            for c in check_ids
        )
        name = escape(env["name"])
        rows.append(
            f'<tr><th><a href="environments/{name}.html">{name}</a></th>'
            f"<td>{escape(env['verdict'])}</td>{cells}</tr>"
        )
    found = "".join(f"<li>{escape(entry['summary'])}</li>" for entry in report["clusters"])
    body = (
        '<h1 class="s2d-page-title">sage200-doctor fleet</h1>'
        f'<p class="s2d-subtitle">{len(envs)} environment(s), exit code {report["exit_code"]}</p>'
        f'<section class="s2d-card"><p class="s2d-kicker">Root causes across the fleet</p>'
        f'<ul class="s2d-findings">{found or "<li>none: every environment passed</li>"}</ul>'
        "</section>"
        '<div class="s2d-scroll"><table class="s2d-checks s2d-matrix"><thead><tr>'
        f"<th>environment</th><th>verdict</th>{head}</tr></thead><tbody>{''.join(rows)}"
        "</tbody></table></div>"
    )
    return document("sage200-doctor fleet", body)


def write_fleet_reports(
    results: dict[str, RunResult], report_dir: Path, redactor: Redactor
) -> dict[str, Any]:
    """report.json (fleet@1), fleet.html, junit.xml (a testsuite per environment) and each
    environment's own report.html under environments/."""
    from sage200_doctor.report.files import write_atomically
    from sage200_doctor.report.html import render_page
    from sage200_doctor.report.junit import cleaner, render_junit, suite_element

    report = build_fleet_report(results, redactor)
    write_atomically(
        report_dir / "report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    )
    write_atomically(report_dir / "fleet.html", render_matrix(report))
    clean = cleaner(redactor)
    suites = [suite_element(result, clean, name=name) for name, result in results.items()]
    write_atomically(report_dir / "junit.xml", render_junit(suites))
    for name, result in results.items():
        write_atomically(
            report_dir / "environments" / f"{name}.html", render_page(result, redactor)
        )
    return report
