"""The doctor-style terminal summary: the verdict and root cause first, then what else was found,
then one line per check.

Three forms: the full one for people (`verbose` adds each check's requests), and `quiet` (the
verdict and the root cause) for CI logs. Colour is the caller's decision; `NO_COLOR` always wins.
Without colour the outcome is spelled out (`FAIL`, `WARN`), so logs stay greppable and plain.
Every line passes `neutralise_controls`: text from a server never steers the terminal.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import replace
from typing import Any, TextIO

from sage200_doctor.engine.results import CheckResult, Outcome, RunResult
from sage200_doctor.guidance import guidance_for
from sage200_doctor.redact import neutralise_controls
from sage200_doctor.report.coverage import matrix_in, terminal_lines
from sage200_doctor.report.next_step import pass_words, step_for

# outcome: (symbol when coloured, word when plain, ANSI colour)
MARKS = {
    Outcome.PASSED: ("✔", "ok", "32"),
    Outcome.WARNING: ("!", "WARN", "33"),
    Outcome.FAILED: ("✘", "FAIL", "31"),
    Outcome.BLOCKED: ("·", "blocked", "90"),
    Outcome.SKIPPED: ("-", "skip", "90"),
    Outcome.ERROR: ("‼", "ERROR", "35"),
    Outcome.INTERRUPTED: ("◌", "stopped", "90"),
}
VERDICT_WORDS = {
    "pass": "PASS: the API set-up works",
    "fail": "FAIL: the environment has a problem",
    "config-error": "CONFIGURATION ERROR: fix the settings first",
    "unreachable": "UNREACHABLE: a host cannot be reached",
    "internal-error": "INTERNAL ERROR in sage200-doctor (please report it)",
    "interrupted": "STOPPED before the diagnosis was complete",
}
PROBLEMS = (Outcome.FAILED, Outcome.WARNING, Outcome.ERROR)


def no_color_requested() -> bool:
    """https://no-color.org: a non-empty NO_COLOR turns colour off, whatever the terminal."""
    return bool(os.environ.get("NO_COLOR"))


def supports_color(stream: TextIO) -> bool:
    """Whether to colour output written to `stream`."""
    if no_color_requested():
        return False
    if os.environ.get("FORCE_COLOR") or os.environ.get("PY_COLORS") == "1":
        return True
    if os.environ.get("TERM") == "dumb" or os.environ.get("PY_COLORS") == "0":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def _mark(outcome: Outcome, color: bool, *, pad: bool = True) -> str:
    symbol, word, code = MARKS[outcome]
    if color:
        return _paint(symbol, code, True)
    return f"{word:<7}" if pad else word


def _also(result: CheckResult, run: RunResult) -> str:
    root = run.root_cause
    if root is not None and result.counts_against_verdict and result.id != root.id:
        return " (also found: a fault of its own)"
    return ""


def _line(result: CheckResult, run: RunResult, color: bool) -> str:
    label = f"{result.id:<28}"
    if result.outcome in PROBLEMS:
        label = _paint(label, "1", color)
    if result.outcome is Outcome.BLOCKED:
        text = f"blocked by {result.blocked_by}"
    else:
        text = result.summary + _also(result, run)
    if result.accepted is not None:
        # An accepted finding keeps its outcome but no longer decides the verdict: say why.
        text += f" [accepted until {result.accepted.expires}: {result.accepted.reason}]"
    for substitute in result.substitutes:
        text += f" [ran on a substitute: {substitute.by}]"
    return f"  {_mark(result.outcome, color)} {label} {text}"


def _evidence_lines(result: CheckResult) -> list[str]:
    lines = []
    for exchange in result.evidence:
        status = exchange.status if exchange.status is not None else "no answer"
        lines.append(
            f"        {exchange.method} {exchange.url} -> {status} ({exchange.elapsed_ms:.0f} ms)"
        )
    return lines


def _guidance_lines(check: CheckResult, indent: str) -> list[str]:
    lines = []
    for guidance_id in check.guidance_ids:
        entry = guidance_for(guidance_id)
        lines.append(
            f"{indent}Guidance {entry.id} ({entry.title}), usually fixed by: {entry.owner}"
        )
        step = step_for(check, guidance_id)  # fitted to the finding (a proxy, not DNS)
        if step:
            lines.append(f"{indent}  Next step: {step}")
        lines.append(f"{indent}  {entry.url}   (sage200-doctor explain {entry.id})")
    return lines


def _root_cause_block(result: RunResult, color: bool) -> list[str]:
    root = result.root_cause
    if root is None:
        return []
    lines = [_paint(f"Root cause: {root.id}", "1;31", color) + f": {root.summary}"]
    if root.details:
        lines += [f"  {line}" for line in root.details.splitlines()[:8]]
    return lines + _guidance_lines(root, "  ")


def _also_found_block(result: RunResult, color: bool) -> list[str]:
    also = result.also_found
    if not also:
        return []
    lines = ["", _paint(f"Also found ({len(also)}):", "1;33", color)]
    for check in also:
        lines.append(f"  {_mark(check.outcome, color, pad=False)} {check.id}: {check.summary}")
        lines += _guidance_lines(check, "    ")
    return lines


def _interruption_block(result: RunResult) -> list[str]:
    stopped = result.interruption
    if stopped is None:
        return []
    during = f" while {stopped.during} was running" if stopped.during else ""
    done = sum(c.outcome is not Outcome.INTERRUPTED for c in result.checks)
    return [
        f"Stopped by {stopped.reason}{during}: {done} of {len(result.checks)} checks finished. "
        "This is not a complete diagnosis; run again for a verdict."
    ]


def _counts(result: RunResult) -> str:
    counts = Counter(check.outcome for check in result.checks)
    parts = [f"{counts[outcome]} {outcome.value}" for outcome in Outcome if counts[outcome]]
    return (
        f"{len(result.checks)} checks: {', '.join(parts) or 'none ran'} in {result.duration_s:.2f}s"
    )


def _head(result: RunResult, color: bool) -> str:
    verdict = result.verdict.value
    code = "1;32" if verdict == "pass" else "1;31"
    words = f"PASS: {pass_words(result)[0]}" if verdict == "pass" else VERDICT_WORDS[verdict]
    return _paint(f"sage200-doctor: {words} (exit {result.exit_code})", code, color)


def _quiet(result: RunResult, color: bool) -> str:
    """The verdict line and the root cause with its guidance link (and, on one more line, any
    further faults by id): for CI logs."""
    root = result.root_cause
    lines = [f"{_head(result, color)}. {_counts(result)}"]
    lines += _interruption_block(result)
    if root is not None:
        links = "; ".join(f"{g} {guidance_for(g).url}" for g in root.guidance_ids)
        suffix = f" [guidance: {links}]" if links else ""
        lines.append(f"Root cause: {root.id}: {root.summary}{suffix}")
    errors = [c.id for c in result.checks if c.outcome is Outcome.ERROR]
    if errors and root is None:
        lines.append(f"Internal error in: {', '.join(errors)}")
    if result.also_found:
        lines.append("Also found: " + ", ".join(c.id for c in result.also_found))
    return "\n".join(lines)


def render_summary(
    result: RunResult,
    *,
    color: bool = False,
    quiet: bool = False,
    verbose: bool = False,
    listed: bool = False,
) -> str:
    """The summary as text. `listed`: the checks were already printed one by one as they
    finished (CI progress), so they are not listed again."""
    color = color and not no_color_requested()
    result = _inert(result)
    if quiet:
        return _quiet(result, color)
    lines = [_head(result, color), *_interruption_block(result)]
    lines += _root_cause_block(result, color) + _also_found_block(result, color)
    if result.checks and not listed:
        lines.append("")
        for check in result.checks:
            lines.append(_line(check, result, color))
            if verbose:
                lines += _evidence_lines(check)
    lines += ["", f"  {_counts(result)}"]
    lines += coverage_lines(result)
    for check in result.checks:
        if check.outcome is Outcome.WARNING and check.guidance_ids:
            lines.append(f"  Warning {check.id}:")
            lines += _guidance_lines(check, "    ")
    lines += baseline_lines(result.baseline)
    if result.verdict.value == "pass":
        lines.append(f"\nNext step: {pass_words(result)[1]}")
    return "\n".join(lines)


def _inert(result: RunResult) -> RunResult:
    """The result with control characters in its text shown as escapes (before our own colour
    codes are added, which must keep working)."""
    clean = neutralise_controls
    checks = [
        replace(
            check,
            summary=clean(check.summary),
            details=neutralise_controls(check.details, multiline=True),
            evidence=[replace(e, url=clean(e.url)) for e in check.evidence],
        )
        for check in result.checks
    ]
    return replace(result, checks=checks)


def coverage_lines(result: RunResult) -> list[str]:
    """api.resources' module matrix in a few lines (empty when the check kept none)."""
    matrix = matrix_in(result.checks)
    if matrix is None:
        return []
    return [f"  {neutralise_controls(line)}" for line in terminal_lines(matrix)]


def baseline_lines(notes: dict[str, Any] | None) -> list[str]:
    """What the baseline did (empty without a baseline)."""
    if notes is None:
        return []
    lines = [f"Baseline {notes['file']}:"]
    for entry in notes["accepted"]:
        lines.append(
            f"  accepted {entry['check']} until {entry['expires']}: {entry['reason']} "
            "(its finding does not count against the verdict)"
        )
    for entry in notes["expired"]:
        lines.append(
            f"  EXPIRED  {entry['check']}: the acceptance ended {entry['expires']}, so its "
            f"finding counts again ({entry['reason']}). Fix it, or renew the entry on purpose."
        )
    for entry in notes["stale"]:
        lines.append(
            f"  stale    {entry['check']}: the accepted finding no longer occurs; remove the "
            f"entry ({entry['reason']})."
        )
    if len(lines) == 1:
        lines.append("  no entry applies to this environment.")
    return [neutralise_controls(line) for line in lines]
