"""`sage200-doctor diff A.json B.json`: what changed between two runs.

UAT against live, or last week against today: which checks changed outcome, which capability
facts changed, which companies one side can see and the other cannot, and whether the verdict
moved. Run-to-run noise (durations, timestamps, how long a token has left, summaries that
quote them) is not a difference. Exit 0 when nothing differs, 1 when something does, 4 when an
input is not a report.json.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sage200_doctor.errors import ExitCode, UsageError
from sage200_doctor.http.answer import JsonTooDeep, parse_json
from sage200_doctor.report.coverage import CHECK_ID as COVERAGE
from sage200_doctor.report.coverage import FACT_KEYS as MATRIX_FACTS
from sage200_doctor.report.coverage import Cell, matrix_of, module_title, words

REPORT_SCHEMA = "sage200-doctor/report@1"
DIFF_SCHEMA = "sage200-doctor/diff@1"
VOLATILE_FACTS = frozenset({("token.claims", "expires in")})
"""Facts that change from one run to the next on their own (a token's remaining lifetime)."""


class DiffInputError(UsageError):
    """An input file is not a readable report.json (exit 4)."""


@dataclass(frozen=True)
class OutcomeChange:
    check: str
    a: str | None  # None: the check did not run on that side
    b: str | None
    summary_a: str = ""
    summary_b: str = ""


@dataclass(frozen=True)
class FactChange:
    check: str
    fact: str
    a: Any
    b: Any


@dataclass(frozen=True)
class ResourceChange:
    """A cell of api.resources' matrix whose outcome changed (None: not read on that side)."""

    resource: str
    module: str
    a: str | None
    b: str | None
    reason_a: str = ""
    reason_b: str = ""


@dataclass
class Drift:
    verdict: tuple[str, str]
    root_cause: tuple[str | None, str | None]
    checks: list[OutcomeChange] = field(default_factory=list)
    facts: list[FactChange] = field(default_factory=list)
    resources: list[ResourceChange] = field(default_factory=list)
    companies_only_a: list[str] = field(default_factory=list)
    companies_only_b: list[str] = field(default_factory=list)
    companies_compared: bool = False
    compared_checks: int = 0

    @property
    def different(self) -> bool:
        return bool(
            self.verdict[0] != self.verdict[1]
            or self.root_cause[0] != self.root_cause[1]
            or self.checks
            or self.facts
            or self.resources
            or self.companies_only_a
            or self.companies_only_b
        )


# --- reading -----------------------------------------------------------------------------------


def load_report(path: Path) -> dict[str, Any]:
    """A report.json, checked just enough to compare it; `DiffInputError` names what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise DiffInputError(f"cannot read {path}: {reason}") from None
    try:
        data = parse_json(text)
    except JsonTooDeep as error:
        raise DiffInputError(f"{path} is not a sage200-doctor report.json: {error}") from None
    except ValueError as error:  # malformed, or a number of more than 4,300 digits
        reason = error if isinstance(error, json.JSONDecodeError) else "a number is too long"
        raise DiffInputError(f"{path} is not JSON: {reason}") from None
    problem = _shape_problem(data)
    if problem:
        raise DiffInputError(f"{path} is not a sage200-doctor report.json: {problem}")
    report: dict[str, Any] = data
    return report


def _shape_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "the top level is not an object"
    if data.get("schema") != REPORT_SCHEMA:
        return f"its schema is {data.get('schema')!r}, not {REPORT_SCHEMA!r}"
    checks = data.get("checks")
    if not isinstance(checks, list):
        return "it has no list of checks"
    for entry in checks:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("id"), str)
            and isinstance(entry.get("outcome"), str)
        ):
            return "a check entry has no id or outcome"
    if not isinstance(data.get("verdict"), str):
        return "it has no verdict"
    return None


# --- comparing ---------------------------------------------------------------------------------


def compare(a: dict[str, Any], b: dict[str, Any]) -> Drift:
    """The differences between two reports (already checked by `load_report`)."""
    checks_a, checks_b = _by_id(a), _by_id(b)
    drift = Drift(
        verdict=(str(a["verdict"]), str(b["verdict"])),
        root_cause=(_root(a), _root(b)),
        compared_checks=len(checks_a.keys() | checks_b.keys()),
    )
    order = _run_order(checks_a, checks_b)
    for check_id in order:
        one, two = checks_a.get(check_id), checks_b.get(check_id)
        if _label(one) != _label(two):
            drift.checks.append(
                OutcomeChange(check_id, _label(one), _label(two), _summary(one), _summary(two))
            )
        drift.facts.extend(_fact_changes(check_id, one, two))
    drift.resources = resource_changes(_by_id(a).get(COVERAGE), _by_id(b).get(COVERAGE))
    companies_a, companies_b = companies_visible(a), companies_visible(b)
    if companies_a is not None and companies_b is not None:
        drift.companies_compared = True
        drift.companies_only_a = sorted(companies_a[k] for k in companies_a.keys() - companies_b)
        drift.companies_only_b = sorted(companies_b[k] for k in companies_b.keys() - companies_a)
    return drift


def _by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["id"]: entry for entry in report["checks"]}


def _run_order(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> list[str]:
    def order(check_id: str) -> tuple[float, str]:
        entry = a.get(check_id) or b[check_id]
        value = entry.get("order")
        return (float(value) if isinstance(value, int | float) else float("inf"), check_id)

    return sorted(a.keys() | b.keys(), key=order)


def _root(report: dict[str, Any]) -> str | None:
    root = report.get("root_cause")
    return str(root.get("check")) if isinstance(root, dict) else None


def _label(entry: dict[str, Any] | None) -> str | None:
    if entry is None:
        return None
    outcome = str(entry["outcome"])
    return f"{outcome} (accepted)" if entry.get("accepted") else outcome


def _summary(entry: dict[str, Any] | None) -> str:
    return str(entry.get("summary", "")) if entry is not None else ""


def _facts(entry: dict[str, Any] | None) -> dict[str, Any]:
    facts = entry.get("facts") if entry is not None else None
    return facts if isinstance(facts, dict) else {}


def _fact_changes(
    check_id: str, one: dict[str, Any] | None, two: dict[str, Any] | None
) -> list[FactChange]:
    if one is None or two is None:
        return []  # the outcome change already says the check ran on one side only
    facts_a, facts_b = _facts(one), _facts(two)
    changes = []
    for name in sorted(facts_a.keys() | facts_b.keys()):
        if (check_id, name) in VOLATILE_FACTS:
            continue
        if check_id == COVERAGE and name in MATRIX_FACTS:
            continue  # compared cell by cell (resource_changes)
        if facts_a.get(name) != facts_b.get(name):
            changes.append(FactChange(check_id, name, facts_a.get(name), facts_b.get(name)))
    return changes


def resource_changes(
    one: dict[str, Any] | None, two: dict[str, Any] | None
) -> list[ResourceChange]:
    """The cells of api.resources' matrix whose outcome differs, per resource; none when the
    check kept no matrix on one side (its outcome change says so already)."""
    matrix_a, matrix_b = matrix_of(_facts(one)), matrix_of(_facts(two))
    if matrix_a is None or matrix_b is None:
        return []
    cells_a = {cell.resource: cell for cell in matrix_a.cells}
    cells_b = {cell.resource: cell for cell in matrix_b.cells}
    changes = []
    for name in [*cells_a, *(n for n in cells_b if n not in cells_a)]:
        x, y = cells_a.get(name), cells_b.get(name)
        if x is None or y is None or x.outcome != y.outcome:
            changes.append(_resource_change(x, y))
    return changes


def _resource_change(x: Cell | None, y: Cell | None) -> ResourceChange:
    either = x or y
    assert either is not None  # a name comes from one side at least
    return ResourceChange(
        either.resource,
        either.module,
        x.outcome if x else None,
        y.outcome if y else None,
        x.reason if x else "",
        y.reason if y else "",
    )


def companies_visible(report: dict[str, Any]) -> dict[tuple[str, str], str] | None:
    """(X-Site, X-Company) → "Site / Company" from the GET sites answer sites.list recorded;
    None when the report does not show it (sites.list did not run, or its answer is not there)."""
    entry = _by_id(report).get("sites.list")
    if entry is None:
        return None
    for exchange in entry.get("evidence") or []:
        response = exchange.get("response") if isinstance(exchange, dict) else None
        if not isinstance(response, dict) or response.get("status") != 200:
            continue
        try:
            body = json.loads(str(response.get("body", "")))
        except json.JSONDecodeError:
            continue
        if isinstance(body, list):
            return dict(_company(item) for item in body if isinstance(item, dict))
    return None


def _company(item: dict[str, Any]) -> tuple[tuple[str, str], str]:
    site, company = str(item.get("site_id", "?")), str(item.get("company_id", "?"))
    names = f"{item.get('site_name', '?')} / {item.get('company_name', '?')}"
    return (site.lower(), company), f"{names} (X-Site {site}, X-Company {company})"


# --- output ------------------------------------------------------------------------------------


def _side(report: dict[str, Any], path: str) -> dict[str, Any]:
    environment = report.get("environment")
    place = environment.get("api_base_url") if isinstance(environment, dict) else None
    return {
        "file": path,
        "started_at": report.get("started_at"),
        "api_base_url": place,
        "verdict": report.get("verdict"),
    }


def to_json(drift: Drift, a: dict[str, Any], b: dict[str, Any], names: tuple[str, str]) -> Any:
    return {
        "schema": DIFF_SCHEMA,
        "different": drift.different,
        "a": _side(a, names[0]),
        "b": _side(b, names[1]),
        "verdict": {"a": drift.verdict[0], "b": drift.verdict[1]},
        "root_cause": {"a": drift.root_cause[0], "b": drift.root_cause[1]},
        "checks": [
            {"id": c.check, "a": c.a, "b": c.b, "summary_a": c.summary_a, "summary_b": c.summary_b}
            for c in drift.checks
        ],
        "facts": [{"check": f.check, "fact": f.fact, "a": f.a, "b": f.b} for f in drift.facts],
        "resources": [
            {"resource": r.resource, "module": r.module, "a": r.a, "b": r.b}
            for r in drift.resources
        ],
        "companies": {
            "compared": drift.companies_compared,
            "only_a": drift.companies_only_a,
            "only_b": drift.companies_only_b,
        },
    }


def render_text(drift: Drift, a: dict[str, Any], b: dict[str, Any], names: tuple[str, str]) -> str:
    lines = [f"sage200-doctor diff: A = {names[0]}, B = {names[1]}"]
    for letter, report in (("A", a), ("B", b)):
        side = _side(report, "")
        lines.append(f"  {letter}: {side['started_at']}  {side['api_base_url']}")
    if not drift.different:
        lines.append(
            f"No difference: verdict {drift.verdict[0]} on both, the same outcome for all "
            f"{drift.compared_checks} checks, the same capability facts and resource outcomes"
            + ("; the same companies." if drift.companies_compared else ".")
        )
        return "\n".join(lines)
    lines.append(_verdict_line(drift))
    if drift.checks:
        lines.append(f"Checks whose outcome changed ({len(drift.checks)}):")
        for change in drift.checks:
            moved = f"{change.a or 'not run'} -> {change.b or 'not run'}"
            lines.append(f"  {change.check:<28} {moved}")
            for letter, summary in (("A", change.summary_a), ("B", change.summary_b)):
                if summary:
                    lines.append(f"      {letter}: {summary}")
    if drift.facts:
        lines.append(f"Capability facts that changed ({len(drift.facts)}):")
        for fact in drift.facts:
            lines.append(f"  {fact.check}: {fact.fact}: {_value(fact.a)} -> {_value(fact.b)}")
    lines += _resource_lines(drift.resources)
    for letter, only in (("A", drift.companies_only_a), ("B", drift.companies_only_b)):
        if only:
            lines.append(f"Companies visible only in {letter} ({len(only)}):")
            lines += [f"  {company}" for company in only]
    if not drift.companies_compared:
        lines.append("Companies: not compared (a report does not hold the GET sites answer).")
    return "\n".join(lines)


def _resource_lines(changes: list[ResourceChange]) -> list[str]:
    if not changes:
        return []
    lines = [f"Resources whose outcome changed ({len(changes)}, api.resources):"]
    labels = [f"{c.resource} ({module_title(c.module)})" for c in changes]
    width = max(len(label) for label in labels)
    for change, label in zip(changes, labels, strict=True):
        moved = f"{_cell(change.a)} -> {_cell(change.b)}"
        lines.append(f"  {label:<{width}}  {moved}")
        for letter, outcome, reason in (
            ("A", change.a, change.reason_a),
            ("B", change.b, change.reason_b),
        ):
            if reason and outcome not in (None, "readable"):  # why it cannot be read
                lines.append(f"      {letter}: {reason}")
    return lines


def _cell(outcome: str | None) -> str:
    return "not read" if outcome is None else words(outcome)


def _verdict_line(drift: Drift) -> str:
    (va, vb), (ra, rb) = drift.verdict, drift.root_cause
    verdict = f"Verdict: {va} -> {vb}" if va != vb else f"Verdict: {va} on both"
    if ra != rb:
        verdict += f" (root cause: {ra or 'none'} -> {rb or 'none'})"
    elif ra:
        verdict += f" (root cause {ra} on both)"
    return verdict


def _value(value: Any) -> str:
    return "(absent)" if value is None else str(value)


# --- command -----------------------------------------------------------------------------------


def command(args: argparse.Namespace) -> int:
    a, b = load_report(Path(args.a)), load_report(Path(args.b))
    drift = compare(a, b)
    names = (str(args.a), str(args.b))
    if args.json:
        print(json.dumps(to_json(drift, a, b, names), indent=2, ensure_ascii=False))
    else:
        print(render_text(drift, a, b, names))
    return int(ExitCode.FINDING if drift.different else ExitCode.PASS)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    """Add `diff` to the CLI's subcommands."""
    parser = commands.add_parser(
        "diff",
        help="compare two report.json files: outcomes, facts, resources, companies, verdict",
        description="What changed between two runs (UAT against live, last week against "
        "today): the verdict and root cause, checks whose outcome changed, capability facts, "
        "api.resources cells per resource, and the companies each side can see. Timings, "
        "timestamps and how long a token has left are not differences.",
        epilog="""\
exit codes:
  0  nothing differs
  1  something differs
  4  an input is not a report.json

example:
  sage200-doctor diff uat/report.json live/report.json
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("a", metavar="A.json", help="the earlier or reference report.json")
    parser.add_argument("b", metavar="B.json", help="the report.json to compare with it")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the differences as JSON (schema sage200-doctor/diff@1)",
    )
    parser.set_defaults(handler=command)
