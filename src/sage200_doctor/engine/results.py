"""What a diagnostic run produces: check outcomes, evidence, the verdict and its exit code.

Everything here is plain data, already redacted by the time it is stored, so the report
writers (JSON, HTML, JUnit, terminal) can render it without knowing any secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sage200_doctor.errors import ExitCode


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"
    BLOCKED = "blocked"
    SKIPPED = "skipped"
    ERROR = "error"
    INTERRUPTED = "interrupted"
    """The run was stopped (Ctrl-C, SIGTERM, a time limit) before this check finished."""

    @property
    def satisfies_dependents(self) -> bool:
        """A check that passed, warned or did not apply lets the checks that depend on it run."""
        return self in (Outcome.PASSED, Outcome.WARNING, Outcome.SKIPPED)


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    CONFIG_ERROR = "config-error"
    UNREACHABLE = "unreachable"
    INTERNAL_ERROR = "internal-error"
    INTERRUPTED = "interrupted"
    """Stopped before the diagnosis was complete: never a pass, whatever ran before."""


EXIT_CODES: dict[Verdict, ExitCode] = {
    Verdict.PASS: ExitCode.PASS,
    Verdict.FAIL: ExitCode.FINDING,
    Verdict.CONFIG_ERROR: ExitCode.CONFIG,
    Verdict.UNREACHABLE: ExitCode.UNREACHABLE,
    Verdict.INTERNAL_ERROR: ExitCode.INTERNAL,
}


@dataclass(frozen=True)
class Interruption:
    """Why a run stopped early. Its exit code is the signal's (130, 143) or a timeout's (124)."""

    reason: str
    exit_code: ExitCode
    during: str | None = None
    """The check that was running when it came, if any."""

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "exit_code": int(self.exit_code), "during": self.during}


@dataclass(frozen=True)
class Substitute:
    """A failed check proved a working alternative; later checks ran on it (never written back)."""

    replaced: str
    """What the configuration said, in words (never a secret value)."""
    by: str
    """What the run used instead."""
    proof: str
    """The request whose answer proved the alternative works."""
    set_by: str
    """The check that proved it."""

    def to_json(self) -> dict[str, str]:
        return {
            "replaced": self.replaced,
            "by": self.by,
            "proof": self.proof,
            "set_by": self.set_by,
        }


@dataclass
class Exchange:
    """One HTTP exchange a check made, redacted. `response` is None when no answer came."""

    method: str
    url: str
    request_headers: dict[str, str]
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    body_excerpt: str = ""
    elapsed_ms: float = 0.0
    error: str | None = None
    request_body: str | None = None
    entry: int | None = None
    """Recorded diagnoses: the exchange's position in the capture."""
    started_at: str | None = None
    """Recorded diagnoses: when it started, as the capture says."""

    def to_json(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "method": self.method,
            "url": self.url,
            "headers": self.request_headers,
        }
        if self.request_body is not None:
            request["body"] = self.request_body
        entry: dict[str, Any] = {"request": request, "elapsed_ms": round(self.elapsed_ms, 1)}
        if self.status is None:
            entry["response"] = None
        else:
            entry["response"] = {
                "status": self.status,
                "headers": self.response_headers,
                "body": self.body_excerpt,
            }
        if self.error is not None:
            entry["error"] = self.error
        if self.entry is not None:
            entry["entry"] = self.entry
        if self.started_at is not None:
            entry["started_at"] = self.started_at
        return entry


@dataclass(frozen=True)
class Acceptance:
    """A baseline entry that accepts a check's finding until a date (see `baseline.py`)."""

    reason: str
    expires: str  # ISO date, the last day the acceptance applies

    def to_json(self) -> dict[str, str]:
        return {"reason": self.reason, "expires": self.expires}


@dataclass
class CheckResult:
    id: str
    order: int
    title: str
    outcome: Outcome
    summary: str = ""
    details: str = ""
    blocked_by: str | None = None
    guidance_ids: tuple[str, ...] = ()
    evidence: list[Exchange] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    """Capability facts a check learned (shown as a table, never as failures)."""
    duration_ms: float = 0.0
    accepted: Acceptance | None = None
    """Set when a baseline accepts this check's failure or warning: the outcome stays, but the
    verdict is computed as if the check had passed."""
    substitutes: tuple[Substitute, ...] = ()
    """The substitutes this check ran on (proved by an earlier failed check)."""
    provides: tuple[Substitute, ...] = ()
    """Substitutes this (failed) check proved, which let the checks after it run."""

    @property
    def lets_dependents_run(self) -> bool:
        """Passed, warned, did not apply, or failed having proved a working substitute."""
        return self.outcome.satisfies_dependents or (
            self.outcome is Outcome.FAILED and bool(self.provides)
        )

    @property
    def counts_against_verdict(self) -> bool:
        return self.outcome is Outcome.FAILED and self.accepted is None


@dataclass
class RunResult:
    started_at: str
    duration_s: float
    environment: dict[str, Any]
    checks: list[CheckResult]
    baseline: dict[str, Any] | None = None
    """What a baseline did to this run (accepted, expired, stale entries); None without one."""
    requests: dict[str, Any] | None = None
    """Requests sent, the concurrency, and GETs sent ahead that no check used (report.json)."""
    interruption: Interruption | None = None
    """Set when the run was stopped before every check had finished."""
    selection: tuple[str, ...] = ()
    """The check ids asked for with --only (empty: the whole diagnosis)."""
    source: str = "live"
    """What was diagnosed: "live", "recorded" (a capture) or "postman" (an export)."""
    input: str | None = None
    """The file a recorded or Postman diagnosis read (its name only)."""

    @property
    def root_cause(self) -> CheckResult | None:
        """The first failed check in run order: everything after it may only be a consequence.

        A failure a baseline accepts is never the root cause.
        """
        failed = [c for c in self.checks if c.counts_against_verdict]
        return min(failed, key=lambda c: c.order) if failed else None

    @property
    def also_found(self) -> list[CheckResult]:
        """Every further failed check after the root cause, in run order. Each ran because its
        prerequisites passed or a proven substitute stood in, so each is a fault of its own."""
        root = self.root_cause
        return [c for c in self.checks if c.counts_against_verdict and c is not root]

    @property
    def verdict(self) -> Verdict:
        if self.interruption is not None:
            return Verdict.INTERRUPTED
        if any(c.outcome is Outcome.ERROR for c in self.checks):
            return Verdict.INTERNAL_ERROR
        root = self.root_cause
        if root is None:
            return Verdict.PASS
        if root.id.startswith("config."):
            return Verdict.CONFIG_ERROR
        if root.id.startswith("network."):
            return Verdict.UNREACHABLE
        return Verdict.FAIL

    @property
    def exit_code(self) -> int:
        if self.interruption is not None:
            return int(self.interruption.exit_code)
        return int(EXIT_CODES[self.verdict])

    def check(self, check_id: str) -> CheckResult:
        for result in self.checks:
            if result.id == check_id:
                return result
        raise KeyError(check_id)
