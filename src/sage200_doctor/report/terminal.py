"""The doctor-style terminal summary: the verdict and root cause first, then one line per check.

Two forms: the full one for people, and `quiet` (one line per problem) for CI logs. Colour is
the caller's decision (pytest's terminal knows whether it writes to a terminal); `NO_COLOR`
always wins. Without colour the outcome is spelled out (`FAIL`, `WARN`), so logs stay greppable
and plain ASCII.

Summaries, details and reasons quote servers; they pass `neutralise_controls` before they are
printed, so no escape sequence, carriage return or bidi override from a server reaches the
terminal (only this module's own colour codes do).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import TextIO

from sage200_doctor.guidance import guidance_for
from sage200_doctor.redact import neutralise_controls
from sage200_doctor.results import CheckResult, Outcome, RunResult

# outcome: (symbol when coloured, word when plain, ANSI colour)
MARKS = {
    Outcome.PASSED: ("✔", "ok", "32"),
    Outcome.WARNING: ("!", "WARN", "33"),
    Outcome.FAILED: ("✘", "FAIL", "31"),
    Outcome.BLOCKED: ("·", "blocked", "90"),
    Outcome.SKIPPED: ("-", "skip", "90"),
    Outcome.ERROR: ("‼", "ERROR", "35"),
}
VERDICT_WORDS = {
    "pass": "PASS: the API set-up works",
    "fail": "FAIL: the environment has a problem",
    "config-error": "CONFIGURATION ERROR: fix the settings first",
    "unreachable": "UNREACHABLE: a host cannot be reached",
    "internal-error": "INTERNAL ERROR in sage200-doctor (please report it)",
}
PROBLEMS = (Outcome.FAILED, Outcome.WARNING, Outcome.ERROR)


def no_color_requested() -> bool:
    """https://no-color.org: a non-empty NO_COLOR turns colour off, whatever the terminal."""
    return bool(os.environ.get("NO_COLOR"))


def supports_color(stream: TextIO) -> bool:
    """Whether to colour output written to `stream` (for callers without pytest's terminal)."""
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


def _consequence(result: CheckResult, run: RunResult) -> str:
    root = run.root_cause
    if root is not None and result.outcome is Outcome.FAILED and result.id != root.id:
        return f" (may be a consequence of {root.id})"
    return ""


def _line(result: CheckResult, run: RunResult, color: bool) -> str:
    label = f"{result.id:<28}"
    if result.outcome in PROBLEMS:
        label = _paint(label, "1", color)
    if result.outcome is Outcome.BLOCKED:
        text = f"blocked by {result.blocked_by}"
    else:
        text = result.summary + _consequence(result, run)
    if result.accepted is not None:
        # An accepted finding keeps its outcome but no longer decides the verdict: say why.
        text += f" [accepted until {result.accepted.expires}: {result.accepted.reason}]"
    return f"  {_mark(result.outcome, color)} {label} {neutralise_controls(text)}"


def _guidance_lines(guidance_ids: tuple[str, ...], indent: str) -> list[str]:
    lines = []
    for guidance_id in guidance_ids:
        entry = guidance_for(guidance_id)
        lines.append(
            f"{indent}Guidance {entry.id} ({entry.title}), usually fixed by: {entry.owner}"
        )
        if entry.steps:
            lines.append(f"{indent}  Next step: {entry.steps[0]}")
        lines.append(f"{indent}  {entry.url}   (sage200-doctor explain {entry.id})")
    return lines


def _root_cause_block(result: RunResult, color: bool) -> list[str]:
    root = result.root_cause
    if root is None:
        return []
    summary = neutralise_controls(root.summary)
    lines = [_paint(f"Root cause: {root.id}", "1;31", color) + f": {summary}"]
    if root.details:
        details = neutralise_controls(root.details, multiline=True)
        lines += [f"  {line}" for line in details.split("\n")[:8]]
    return lines + _guidance_lines(root.guidance_ids, "  ")


def _counts(result: RunResult) -> str:
    counts = Counter(check.outcome for check in result.checks)
    parts = [f"{counts[outcome]} {outcome.value}" for outcome in Outcome if counts[outcome]]
    return (
        f"{len(result.checks)} checks: {', '.join(parts) or 'none ran'} in {result.duration_s:.2f}s"
    )


def _head(result: RunResult, color: bool) -> str:
    verdict = result.verdict.value
    code = "1;32" if verdict == "pass" else "1;31"
    return _paint(
        f"sage200-doctor: {VERDICT_WORDS[verdict]} (exit {result.exit_code})", code, color
    )


def _quiet(result: RunResult, color: bool) -> str:
    """One line for the verdict, one per problem, each with its guidance link: for CI logs."""
    root = result.root_cause
    head = _head(result, color) + (f", root cause {root.id}" if root else "")
    lines = [f"{head}. {_counts(result)}"]
    for check in result.checks:
        if check.outcome not in PROBLEMS:
            continue
        links = [f"{g} {guidance_for(g).url}" for g in check.guidance_ids]
        text = neutralise_controls(check.summary + _consequence(check, result))
        suffix = f" [guidance: {'; '.join(links)}]" if links else ""
        lines.append(f"{_mark(check.outcome, color, pad=False)} {check.id}: {text}{suffix}")
    return "\n".join(lines)


def render_summary(result: RunResult, *, color: bool = False, quiet: bool = False) -> str:
    color = color and not no_color_requested()
    if quiet:
        return _quiet(result, color)
    lines = [_head(result, color), *_root_cause_block(result, color)]
    if result.checks:
        lines.append("")
        lines += [_line(check, result, color) for check in result.checks]
    lines += ["", f"  {_counts(result)}"]
    for check in result.checks:
        if check.outcome is Outcome.WARNING and check.guidance_ids:
            lines.append(f"  Warning {check.id}:")
            lines += _guidance_lines(check.guidance_ids, "    ")
    if result.verdict.value == "pass":
        lines.append("\nNext step: the set-up works; point your integration at the same settings.")
    return "\n".join(lines)
