"""Fleet runs: many environments from one TOML file, one merged report.

The TOML names each environment and where its settings come from::

    [[environment]]
    name = "acme-live"
    env_file = "acme.env"               # relative to the TOML's folder

    [[environment]]
    name = "beta"
    [environment.settings]
    SAGE200_SITE_ID = "..."
    SAGE200_CLIENT_SECRET = { env = "BETA_SECRET" }   # read from an environment variable

Every problem in the file is reported at once (`FleetError.problems`).
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sage200_doctor.engine.results import Acceptance, CheckResult, Exchange, Outcome, RunResult
from sage200_doctor.redact import Redactor

SCHEMA_ID = "sage200-doctor/fleet@1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Severity of an exit code when environments are merged: internal > unreachable > config > fail.
SEVERITY = {0: 0, 1: 1, 2: 2, 3: 3, 5: 4}


class FleetError(Exception):
    """The fleet file cannot be used; `problems` lists every reason."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.path = path
        self.problems = problems


@dataclass(frozen=True)
class FleetEnvironment:
    name: str
    env_file: Path | None = None
    settings: dict[str, str] = field(default_factory=dict)


def load_fleet(path: Path) -> list[FleetEnvironment]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise FleetError(path, [f"cannot read the fleet file ({error.strerror})"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise FleetError(path, [f"not valid TOML: {error}"]) from None
    problems: list[str] = []
    entries = data.get("environment")
    unknown = sorted(set(data) - {"environment"})
    if unknown:
        problems.append(f"unknown top-level key(s): {', '.join(unknown)}")
    if not isinstance(entries, list) or not entries:
        problems.append("no [[environment]] tables")
        raise FleetError(path, problems)
    environments: list[FleetEnvironment] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        env = _environment(entry, index, path.parent, problems)
        if env is None:
            continue
        if env.name in seen:
            problems.append(f"environment {env.name!r}: the name is used twice")
        seen.add(env.name)
        environments.append(env)
    if problems:
        raise FleetError(path, problems)
    return environments


def _environment(
    entry: Any, index: int, folder: Path, problems: list[str]
) -> FleetEnvironment | None:
    if not isinstance(entry, dict):
        problems.append(f"environment #{index}: not a table")
        return None
    name = entry.get("name")
    where = f"environment {name!r}" if isinstance(name, str) else f"environment #{index}"
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{where}: needs a name of letters, digits, '.', '_' or '-'")
    unknown = sorted(set(entry) - {"name", "env_file", "settings"})
    if unknown:
        problems.append(f"{where}: unknown key(s): {', '.join(unknown)}")
    env_file: Path | None = None
    raw_file = entry.get("env_file")
    if raw_file is not None:
        if not isinstance(raw_file, str):
            problems.append(f"{where}: env_file must be a string")
        else:
            env_file = folder / Path(raw_file).expanduser()
            if not env_file.is_file():
                problems.append(f"{where}: env_file {str(env_file)!r} does not exist")
    settings = _settings(entry.get("settings", {}), where, problems)
    if raw_file is None and not settings:
        problems.append(f"{where}: needs env_file or [environment.settings]")
    return FleetEnvironment(str(name), env_file, settings)


def _settings(raw: Any, where: str, problems: list[str]) -> dict[str, str]:
    if not isinstance(raw, dict):
        problems.append(f"{where}: settings must be a table")
        return {}
    settings: dict[str, str] = {}
    for key, value in raw.items():
        if not key.startswith("SAGE200_"):
            problems.append(f"{where}: setting {key!r} does not start with SAGE200_")
        elif isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str):
            if value["env"] in os.environ:
                settings[key] = os.environ[value["env"]]
            else:
                problems.append(f"{where}: {key} reads ${value['env']}, which is not set")
        elif isinstance(value, str | int):
            settings[key] = str(value)
        else:
            problems.append(f'{where}: {key} must be a string or {{ env = "VAR" }}')
    return settings


# --- results travelling from workers to the controller -------------------------------------


def result_to_json(result: CheckResult) -> str:
    return json.dumps(asdict(result), ensure_ascii=False)


def result_from_json(text: str) -> CheckResult:
    data = json.loads(text)
    data["outcome"] = Outcome(data["outcome"])
    data["guidance_ids"] = tuple(data["guidance_ids"])
    data["evidence"] = [Exchange(**entry) for entry in data["evidence"]]
    if data["accepted"] is not None:
        data["accepted"] = Acceptance(**data["accepted"])
    return CheckResult(**data)


# --- the merged report ---------------------------------------------------------------------


def worst_exit_code(codes: list[int]) -> int:
    return max(codes, key=lambda code: SEVERITY.get(code, 5), default=0)


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
        environments.append(
            {
                "name": name,
                "verdict": result.verdict.value,
                "exit_code": result.exit_code,
                "root_cause": {"check": root.id, "summary": root.summary} if root else None,
                "report": build_report(result, redactor),
            }
        )
    codes = [result.exit_code for result in results.values()]
    report = {
        "schema": SCHEMA_ID,
        "exit_code": worst_exit_code(codes),
        "environments": environments,
        "clusters": clusters(results),
    }
    redacted: dict[str, Any] = redactor.data(report)
    return redacted


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


_CELL = {
    "passed": "#cfc",
    "warning": "#ffc",
    "failed": "#fcc",
    "error": "#f99",
    "blocked": "#ddd",
    "skipped": "#eee",
}


def render_matrix(report: dict[str, Any]) -> str:
    """A small self-contained HTML page: environments by checks, every value escaped."""
    envs = report["environments"]
    check_ids: list[str] = []
    for env in envs:
        for check in env["report"]["checks"]:
            if check["id"] not in check_ids:
                check_ids.append(check["id"])
    esc = html.escape
    head = "".join(f"<th>{esc(check_id)}</th>" for check_id in check_ids)
    rows = []
    for env in envs:
        outcomes = {c["id"]: c for c in env["report"]["checks"]}
        cells = []
        for check_id in check_ids:
            check = outcomes.get(check_id)
            outcome = check["outcome"] if check else ""
            title = esc(check["summary"]) if check else ""
            colour = _CELL.get(outcome, "#fff")
            cells.append(f'<td style="background:{colour}" title="{title}">{esc(outcome)}</td>')
        rows.append(
            f"<tr><th>{esc(env['name'])}</th><td>{esc(env['verdict'])}</td>{''.join(cells)}</tr>"
        )
    found = "".join(f"<li>{esc(entry['summary'])}</li>" for entry in report["clusters"])
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>sage200-doctor fleet</title></head><body>"
        f"<h1>sage200-doctor fleet</h1><ul>{found}</ul>"
        f'<table border="1"><tr><th>environment</th><th>verdict</th>{head}</tr>'
        f"{''.join(rows)}</table></body></html>\n"
    )


def write_outputs(report: dict[str, Any], json_path: Path) -> None:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    json_path.write_text(text + "\n", encoding="utf-8")
    json_path.with_name("fleet.html").write_text(render_matrix(report), encoding="utf-8")


def split_junit_by_environment(path: Path) -> None:
    """Regroup pytest's single JUnit testsuite into one testsuite per environment.

    CI systems show a testsuite as one row; a fleet is read per customer site. pytest's
    junitxml writes one suite, with each testcase classnamed by its environment.
    """
    import xml.etree.ElementTree as ET

    tree = ET.parse(path)  # noqa: S314 - our own file, just written by pytest
    root = tree.getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    regrouped = ET.Element("testsuites")
    for suite in suites:
        groups: dict[str, list[ET.Element]] = {}
        for case in suite.findall("testcase"):
            groups.setdefault(case.get("classname", ""), []).append(case)
        for environment, cases in groups.items():
            regrouped.append(_suite_of(environment, cases, suite))
    _replace_atomically(path, ET.tostring(regrouped, encoding="unicode", xml_declaration=True))


def _suite_of(environment: str, cases: list[Any], original: Any) -> Any:
    import xml.etree.ElementTree as ET

    def count(tag: str) -> str:
        return str(sum(1 for case in cases if case.find(tag) is not None))

    seconds = sum(float(case.get("time", "0") or 0) for case in cases)
    suite = ET.Element(
        "testsuite",
        {
            "name": environment,
            "tests": str(len(cases)),
            "failures": count("failure"),
            "errors": count("error"),
            "skipped": count("skipped"),
            "time": f"{seconds:.3f}",
            "timestamp": original.get("timestamp", ""),
            "hostname": original.get("hostname", ""),
        },
    )
    suite.extend(cases)
    return suite


def _replace_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".junit-", suffix=".xml")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temporary, path)
