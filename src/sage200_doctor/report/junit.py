"""junit.xml: the run in JUnit's words, valid against pytest's xunit2 schema (junit-10.xsd).

One testsuite per environment, one testcase per check in run order (classname: the check's area,
name: the check id). A failed check is a `<failure>` whose text says whether it is the root cause
or may be a consequence of it, and names its guidance; an `error` outcome (a bug in
sage200-doctor) is an `<error>`; blocked, skipped and interrupted checks are `<skipped>` with
the reason. The verdict, exit code and root cause travel as the suite's properties (the schema
allows properties on a testsuite only, never on a testcase), and so does api.resources' module
matrix: `resource_<module>` = `1 readable, 1 forbidden`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable

from sage200_doctor.engine.results import CheckResult, Outcome, RunResult
from sage200_doctor.guidance import guidance_for
from sage200_doctor.redact import Redactor
from sage200_doctor.report.coverage import junit_properties, matrix_in

SUITE_NAME = "sage200-doctor"
NOT_RUN = (Outcome.BLOCKED, Outcome.SKIPPED, Outcome.INTERRUPTED)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot carry (and C1 controls): a server string holding one would make
the whole file unreadable, so each is written as a visible escape instead."""

Clean = Callable[[str], str]


def cleaner(redactor: Redactor) -> Clean:
    """Redact a value, then make it XML-safe: applied to data before it becomes markup, never
    to the rendered document (a search-and-replace over markup could break it)."""

    def clean(value: str) -> str:
        return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", redactor.safe_text(value))

    return clean


def failure_text(check: CheckResult, run: RunResult) -> str:
    """The failure's text: the root cause says so; a later failure is a fault of its own."""
    root = run.root_cause
    lines = [f"{check.id}: {check.summary}"]
    if check.outcome is Outcome.ERROR:
        lines[0] = f"Internal error in sage200-doctor, {lines[0]}"
    elif root is not None and root.id == check.id:
        lines[0] = f"Root cause: {lines[0]}"
    elif check.counts_against_verdict:
        lines[0] = f"Also found: {lines[0]}"
    if check.accepted is not None:
        lines.append(
            f"Accepted by the baseline until {check.accepted.expires}: {check.accepted.reason}"
        )
    if check.details:
        lines.append(check.details)
    for substitute in check.substitutes:
        lines.append(f"Ran on a substitute: {substitute.by} instead of {substitute.replaced}.")
    for guidance_id in check.guidance_ids:
        entry = guidance_for(guidance_id)
        lines.append(f"Guidance {entry.id}: {entry.title} ({entry.url}); fixed by {entry.owner}")
    return "\n".join(lines)


def skip_reason(check: CheckResult, run: RunResult) -> str:
    if check.outcome is Outcome.BLOCKED:
        root = run.root_cause
        cause = f"; root cause: {root.id}" if root is not None else ""
        return f"blocked by {check.blocked_by}, which did not pass{cause}"
    return check.summary


def suite_element(run: RunResult, clean: Clean, *, name: str = SUITE_NAME) -> ET.Element:
    checks = run.checks
    suite = ET.Element(
        "testsuite",
        {
            "name": name,
            "tests": str(len(checks)),
            "failures": str(sum(c.outcome is Outcome.FAILED for c in checks)),
            "errors": str(sum(c.outcome is Outcome.ERROR for c in checks)),
            "skipped": str(sum(c.outcome in NOT_RUN for c in checks)),
            "time": _seconds(run.duration_s),
            "timestamp": run.started_at,
        },
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in _suite_properties(run):
        ET.SubElement(properties, "property", {"name": key, "value": clean(value)})
    for check in checks:
        suite.append(_testcase(check, run, clean, classname=clean(name)))
    return suite


def _suite_properties(run: RunResult) -> Iterable[tuple[str, str]]:
    root = run.root_cause
    yield "verdict", run.verdict.value
    yield "exit_code", str(run.exit_code)
    yield "root_cause", root.id if root else ""
    for guidance_id in root.guidance_ids if root else ():
        yield "root_cause_guidance", guidance_id
    for check in run.also_found:
        yield "also_found", check.id
    if run.interruption is not None:
        yield "interrupted", run.interruption.reason
    matrix = matrix_in(run.checks)
    if matrix is not None:
        yield from junit_properties(matrix)


def _testcase(check: CheckResult, run: RunResult, clean: Clean, *, classname: str) -> ET.Element:
    case = ET.Element(
        "testcase",
        {"classname": classname, "name": check.id, "time": _seconds(check.duration_ms / 1000)},
    )
    summary = clean(check.summary)
    if check.outcome is Outcome.FAILED:
        failure = ET.SubElement(case, "failure", {"message": summary, "type": "finding"})
        failure.text = clean(failure_text(check, run))
    elif check.outcome is Outcome.ERROR:
        error = ET.SubElement(case, "error", {"message": summary, "type": "internal"})
        error.text = clean(failure_text(check, run))
    elif check.outcome in NOT_RUN:
        reason = clean(skip_reason(check, run))
        ET.SubElement(case, "skipped", {"message": reason, "type": check.outcome.value})
    elif check.outcome is Outcome.WARNING:
        out = ET.SubElement(case, "system-out")
        out.text = clean("Warning: " + failure_text(check, run))
    return case


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def render_junit(suites: list[ET.Element]) -> str:
    """The document of these suites (built from cleaned values) as text."""
    root = ET.Element("testsuites", {"name": SUITE_NAME})
    root.extend(suites)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode", xml_declaration=False)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + text + "\n"


def build_junit(run: RunResult, redactor: Redactor) -> str:
    return render_junit([suite_element(run, cleaner(redactor))])
