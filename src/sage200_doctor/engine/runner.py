"""Running one check: gating on prerequisites, and turning what the check did into a result.

`DiagnosticRun` (run.py) calls `run_check` for each check in order; keeping the decision here
(plain functions over plain data) makes gating testable on its own.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import CheckSpec, Finding, all_checks
from sage200_doctor.engine.results import CheckResult, Outcome
from sage200_doctor.redact import Redactor

REPORT_BUG = (
    "This is a bug in sage200-doctor, not a problem with your Sage 200 set-up. "
    "Please report it with the support bundle (sage200-doctor run --bundle FILE.zip)."
)


def blocker(spec: CheckSpec, done: dict[str, CheckResult]) -> str | None:
    """The first prerequisite that did not pass, or None when the check may run."""
    for prerequisite in spec.depends:
        result = done.get(prerequisite)
        if result is None or not result.lets_dependents_run:
            return prerequisite
    return None


def send_ahead(
    specs: list[CheckSpec],
    diagnosis: Diagnosis,
    done: dict[str, CheckResult],
    started: set[str],
    *,
    running: str | None = None,
) -> None:
    """Start the requests of checks still to come that can be built now (see `CheckSpec.ahead`).

    Only checks nothing has blocked yet: a prerequisite that already failed makes them moot.
    `started` holds the ids whose requests are under way, so each check starts them once; the
    check `running` sends its own requests."""
    by_id = {spec.id: spec for spec in specs}
    for spec in specs:
        if spec.ahead is None or spec.id in done or spec.id in started or spec.id == running:
            continue
        if not _may_still_run(spec, by_id, done) or not _passed(spec.ahead_after, done):
            continue
        try:
            if spec.ahead(diagnosis):
                started.add(spec.id)
        except Exception:
            # Sending ahead only saves time; the check itself still sends what it needs.
            started.add(spec.id)


def _passed(check_ids: tuple[str, ...], done: dict[str, CheckResult]) -> bool:
    return all(c in done and done[c].lets_dependents_run for c in check_ids)


def _may_still_run(
    spec: CheckSpec, by_id: dict[str, CheckSpec], done: dict[str, CheckResult]
) -> bool:
    for prerequisite in spec.depends:
        result = done.get(prerequisite)
        if result is not None and not result.lets_dependents_run:
            return False
        known = by_id.get(prerequisite)
        if result is None and known is not None and not _may_still_run(known, by_id, done):
            return False
    return True


def run_check(spec: CheckSpec, diagnosis: Diagnosis, done: dict[str, CheckResult]) -> CheckResult:
    result = CheckResult(id=spec.id, order=spec.order, title=spec.title, outcome=Outcome.PASSED)
    blocked_by = blocker(spec, done)
    if blocked_by is not None:
        result.outcome = Outcome.BLOCKED
        result.blocked_by = blocked_by
        result.summary = f"Not run: it needs {blocked_by}, which did not pass."
        return result
    started = time.perf_counter()
    diagnosis.facts = {}
    result.substitutes = diagnosis.substitutes_for(needs(spec))
    try:
        summary = spec.function(diagnosis)
        result.summary = summary or "OK"
    except Finding as finding:
        result.outcome = Outcome(finding.outcome)
        result.summary = diagnosis.redactor.safe_text(finding.summary)
        result.details = diagnosis.redactor.safe_text(finding.detail)
        chosen = finding.guidance if finding.guidance is not None else spec.guidance
        if result.outcome in (Outcome.FAILED, Outcome.WARNING):
            result.guidance_ids = chosen
        if result.outcome is Outcome.FAILED:
            result.provides = diagnosis.take_proven(spec.id)
            result.details = _continued(result)
    except Exception as error:
        result = internal_error(spec, error, diagnosis.redactor)
    diagnosis.drop_proven(spec.id)  # proved but not needed: the check did not fail
    result.duration_ms = (time.perf_counter() - started) * 1000
    result.evidence = diagnosis.session.take_exchanges()
    result.facts = dict(diagnosis.facts)
    return result


def needs(spec: CheckSpec) -> set[str]:
    """Every check `spec` needs, directly or through its prerequisites."""
    by_id = {known.id: known for known in all_checks()}
    found: set[str] = set()
    pending = list(spec.depends)
    while pending:
        check_id = pending.pop()
        if check_id not in found:
            found.add(check_id)
            known = by_id.get(check_id)
            pending.extend(known.depends if known else ())
    return found


def _continued(result: CheckResult) -> str:
    """The finding's details, plus what the run carried on with."""
    if not result.provides:
        return result.details
    lines = [
        f"The run carried on with {s.by} instead ({s.proof}), so the checks after this one "
        "still ran; their own findings are listed as also found."
        for s in result.provides
    ]
    return "\n".join(filter(None, (result.details, *lines)))


def internal_error(spec: CheckSpec, error: Exception, redactor: Redactor) -> CheckResult:
    """A bug in sage200-doctor while running `spec`: the `error` outcome, never a traceback."""
    return CheckResult(
        id=spec.id,
        order=spec.order,
        title=spec.title,
        outcome=Outcome.ERROR,
        summary=f"sage200-doctor failed inside this check ({type(error).__name__}). {REPORT_BUG}",
        details=redactor.safe_text(_short_traceback(error)),
    )


def _short_traceback(error: BaseException) -> str:
    """Where it broke (files, lines, functions) without source text or the message.

    Both may echo a value the check was handling, and this text ends up in reports.
    """
    frames = traceback.extract_tb(error.__traceback__)[-4:]
    places = [f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}" for frame in frames]
    return " <- ".join(reversed(places)) + f": {type(error).__name__}"
