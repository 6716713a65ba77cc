"""Baselines: findings a team has accepted for a while, per environment (`run --baseline FILE`).

A baseline is a TOML file of `[[accept]]` entries::

    [[accept]]
    check = "api.schema"
    reason = "Sage returns company_id as a string on this site; ticket SUP-123"
    expires = 2027-01-31
    environment = "https://api.columbus.sage.com/uk/sage200extra/accounts/v1/"  # optional
    match = "company_id"  # optional: only findings whose summary or details contain this

An accepted failure or warning keeps its outcome but no longer decides the verdict or the exit
code, up to and including its `expires` date. After that it no longer applies, and the run says
so. An entry whose finding no longer occurs is reported as stale, so the file does not rot.

`apply_baseline` is a pure function over a `RunResult`; the engine applies it once, so every
output (report.json, junit.xml, report.html, the terminal) sees the same accepted findings.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sage200_doctor.engine.results import Acceptance, CheckResult, Outcome, RunResult
from sage200_doctor.errors import UsageError

ENTRY_KEYS = ("check", "reason", "expires", "environment", "match")
ACCEPTABLE = (Outcome.FAILED, Outcome.WARNING)
"""An `error` is a bug in sage200-doctor and a `blocked` check found nothing: never accepted."""


class BaselineError(UsageError):
    """The baseline file cannot be used (exit 4, the usage-error code)."""


@dataclass(frozen=True)
class Accept:
    """One `[[accept]]` entry."""

    check: str
    reason: str
    expires: date
    environment: str | None = None
    match: str | None = None

    def applies_to(self, environment: dict[str, Any]) -> bool:
        """True when the entry names no environment, or the run's API base URL or site id."""
        if self.environment is None:
            return True
        wanted = _normal_place(self.environment)
        places = (environment.get("api_base_url"), environment.get("site_id"))
        return any(_normal_place(str(place)) == wanted for place in places if place)

    def matches(self, result: CheckResult) -> bool:
        if result.id != self.check or result.outcome not in ACCEPTABLE:
            return False
        if self.match is None:
            return True
        text = f"{result.summary}\n{result.details}".casefold()
        return self.match.casefold() in text

    def describe(self) -> dict[str, str]:
        entry = {"check": self.check, "reason": self.reason, "expires": self.expires.isoformat()}
        if self.environment is not None:
            entry["environment"] = self.environment
        if self.match is not None:
            entry["match"] = self.match
        return entry


@dataclass(frozen=True)
class Baseline:
    entries: tuple[Accept, ...]
    source: str = "baseline"
    """The file name, for messages (never a path outside what the user typed)."""


def _normal_place(value: str) -> str:
    return value.strip().rstrip("/").casefold()


# --- loading ------------------------------------------------------------------------------------


def load_baseline(path: Path, *, known_checks: Collection[str] | None = None) -> Baseline:
    """Read and validate a baseline file; every problem in it is named in one `BaselineError`.

    `known_checks` defaults to the ids of the declared checks, so a mistyped id is caught
    instead of silently accepting nothing.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise BaselineError(f"cannot read the baseline {path}: {reason}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise BaselineError(f"the baseline {path} is not valid TOML: {error}") from None
    if known_checks is None:
        from sage200_doctor.engine.registry import all_checks

        known_checks = [spec.id for spec in all_checks()]
    return parse_baseline(data, known_checks=known_checks, source=str(path))


def parse_baseline(
    data: dict[str, Any], *, known_checks: Collection[str], source: str = "baseline"
) -> Baseline:
    """A validated `Baseline` from parsed TOML, or a `BaselineError` listing every problem."""
    problems = [
        f"unknown top-level key {key!r}; the file holds [[accept]] entries only"
        for key in data
        if key != "accept"
    ]
    raw = data.get("accept", [])
    if not isinstance(raw, list):
        problems.append("'accept' must be an array of tables: write each entry as [[accept]]")
        raw = []
    entries: list[Accept] = []
    for number, item in enumerate(raw, start=1):
        entry, entry_problems = _entry(item, known_checks)
        problems.extend(f"[[accept]] #{number}: {problem}" for problem in entry_problems)
        if entry is not None:
            entries.append(entry)
    if problems:
        listed = "\n  ".join(problems)
        raise BaselineError(f"the baseline {source} cannot be used:\n  {listed}")
    return Baseline(tuple(entries), source=source)


def _entry(item: object, known_checks: Collection[str]) -> tuple[Accept | None, list[str]]:
    if not isinstance(item, dict):
        return None, ["is not a table"]
    problems = [_unknown_key(key) for key in item if key not in ENTRY_KEYS]
    check = item.get("check")
    if not isinstance(check, str) or not check:
        problems.append("'check' (a check id such as \"api.schema\") is required")
    elif check not in known_checks:
        close = difflib.get_close_matches(check, list(known_checks), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else " (see sage200-doctor checks)"
        problems.append(f"'check' names unknown check {check!r}{hint}")
    reason = item.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        problems.append("'reason' (why the finding is accepted, e.g. a ticket) is required")
    expires = _expiry(item.get("expires"), problems)
    for key in ("environment", "match"):
        if key in item and (not isinstance(item[key], str) or not item[key].strip()):
            problems.append(f"'{key}' must be a non-empty string")
    if problems:
        return None, problems
    assert isinstance(check, str)
    assert isinstance(reason, str)
    assert expires is not None
    entry = Accept(check, reason.strip(), expires, item.get("environment"), item.get("match"))
    return entry, []


def _unknown_key(key: str) -> str:
    close = difflib.get_close_matches(key, ENTRY_KEYS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r}{hint} (known: {', '.join(ENTRY_KEYS)})"


def _expiry(value: object, problems: list[str]) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    problems.append(
        "'expires' (a date such as 2027-01-31, unquoted) is required: an acceptance without an "
        "end date would hide the finding for ever"
    )
    return None


# --- applying -----------------------------------------------------------------------------------


def apply_baseline(result: RunResult, baseline: Baseline, today: date) -> RunResult:
    """The run as the baseline sees it: accepted findings marked, notes on what did not apply.

    Pure: `result` is not changed. The verdict of the returned run ignores accepted failures.
    """
    entries = [entry for entry in baseline.entries if entry.applies_to(result.environment)]
    used: set[int] = set()
    accepted: list[dict[str, str]] = []
    expired: list[dict[str, str]] = []
    checks: list[CheckResult] = []
    for check in result.checks:
        found = [(n, entry) for n, entry in enumerate(entries) if entry.matches(check)]
        used.update(n for n, _ in found)
        current = next((entry for _, entry in found if today <= entry.expires), None)
        if current is not None:
            mark = Acceptance(reason=current.reason, expires=current.expires.isoformat())
            checks.append(dataclasses.replace(check, accepted=mark))
            accepted.append(current.describe())
        else:
            checks.append(dataclasses.replace(check, accepted=None))
            expired.extend(entry.describe() for _, entry in found)
    ran = {check.id: check for check in result.checks}
    stale = [
        entry.describe()
        for n, entry in enumerate(entries)
        if n not in used and _no_longer_occurs(ran.get(entry.check))
    ]
    notes = {"file": baseline.source, "accepted": accepted, "expired": expired, "stale": stale}
    return dataclasses.replace(result, checks=checks, baseline=notes)


def _no_longer_occurs(check: CheckResult | None) -> bool:
    """The check ran and did not report the accepted finding. A check that did not run (blocked,
    or left out with --only) says nothing either way, so its entry is not called stale."""
    return check is not None and check.outcome not in (Outcome.BLOCKED, Outcome.ERROR)
