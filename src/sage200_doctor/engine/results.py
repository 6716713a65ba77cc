"""What a diagnostic run produces: check outcomes, evidence, the verdict and its exit code.

Everything here is plain data, already redacted by the time it is stored, so the report
writers (JSON, HTML, JUnit, terminal) can render it without knowing any secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"
    BLOCKED = "blocked"
    SKIPPED = "skipped"
    ERROR = "error"

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


EXIT_CODES: dict[Verdict, int] = {
    Verdict.PASS: 0,
    Verdict.FAIL: 1,
    Verdict.CONFIG_ERROR: 2,
    Verdict.UNREACHABLE: 3,
    Verdict.INTERNAL_ERROR: 5,
}
EXIT_USAGE = 4


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

    @property
    def root_cause(self) -> CheckResult | None:
        """The first failed check in run order: everything after it may only be a consequence.

        A failure a baseline accepts is never the root cause.
        """
        failed = [c for c in self.checks if c.counts_against_verdict]
        return min(failed, key=lambda c: c.order) if failed else None

    @property
    def verdict(self) -> Verdict:
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
        return EXIT_CODES[self.verdict]

    def check(self, check_id: str) -> CheckResult:
        for result in self.checks:
            if result.id == check_id:
                return result
        raise KeyError(check_id)
