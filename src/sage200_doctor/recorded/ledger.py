"""What triage found, check by check, while it reads a capture, in bounded memory.

Each live check id gets a `CheckLedger`: the rules' judgements (the first of each kind, with the
entries it was seen in), how many exchanges bore on it, its facts, and why it was not observed.
Exchanges are kept only as evidence, a few per check and with bodies cut, never all of them.
Nothing is rendered until the whole capture is read: by then the redactor knows every secret
the capture holds, so evidence, summaries and facts are redacted once, with all of them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sage200_doctor.engine.registry import CheckSpec
from sage200_doctor.engine.results import CheckResult, Exchange, Outcome
from sage200_doctor.http.session import EXCERPT_CHARS, body_excerpt
from sage200_doctor.redact import Redactor
from sage200_doctor.rules import Judgement

from .exchanges import answer_of, problem_of
from .model import RecordedExchange

MAX_EVIDENCE = 6
"""Exchanges shown per check: those a finding came from first, then ones observed."""
MAX_KINDS = 12
"""Distinct findings kept per check; more are counted."""
ENTRIES_LISTED = 8
BODY_KEEP_CHARS = 64_000
"""Kept of a body for evidence: well over the excerpt, so redaction sees whole values."""


@dataclass
class Finding:
    """One kind of finding (same outcome and summary) and where it was seen."""

    judgement: Judgement
    entries: list[int] = field(default_factory=list)
    count: int = 0


@dataclass
class CheckLedger:
    spec: CheckSpec
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    more_findings: int = 0
    observations: int = 0
    evidence: list[int] = field(default_factory=list)
    shown_findings: set[int] = field(default_factory=set)
    """Evidence entries a finding came from (never replaced by ones merely observed)."""
    facts: dict[str, Any] = field(default_factory=dict)
    modules: list[str] = field(default_factory=list)
    summary: str = ""
    """What was seen when all is well (set when the capture is finished)."""
    unseen: str = "Not observed in this capture."
    """Why the check could not be judged, when nothing bore on it."""

    def outcome(self) -> Outcome:
        kinds = {finding.judgement.outcome for finding in self.findings.values()}
        if "failed" in kinds:
            return Outcome.FAILED
        if "warning" in kinds:
            return Outcome.WARNING
        return Outcome.PASSED if self.observations else Outcome.SKIPPED


class Ledger:
    """Every check's ledger, and the exchanges kept as their evidence."""

    def __init__(self, specs: list[CheckSpec]) -> None:
        self.checks = {spec.id: CheckLedger(spec) for spec in specs}
        self._kept: dict[int, RecordedExchange] = {}

    def __getitem__(self, check_id: str) -> CheckLedger:
        return self.checks[check_id]

    def judged(
        self, judgement: Judgement | None, exchange: RecordedExchange | None, *, times: int = 1
    ) -> bool:
        """Record a rule's finding (None: nothing to record) seen in `exchange` (and `times` - 1
        more exchanges not kept); True if there was one."""
        if judgement is None or judgement.check not in self.checks:
            return False
        ledger = self.checks[judgement.check]
        ledger.observations += times
        key = (judgement.outcome, judgement.summary)
        finding = ledger.findings.get(key)
        if finding is None:
            if len(ledger.findings) >= MAX_KINDS:
                ledger.more_findings += times
                return True
            finding = ledger.findings[key] = Finding(judgement)
        finding.count += times
        if exchange is not None:
            if exchange.index not in finding.entries and len(finding.entries) < ENTRIES_LISTED:
                finding.entries.append(exchange.index)
            self._evidence(ledger, exchange, finding=True)
        return True

    def observed(self, check_id: str, exchange: RecordedExchange | None = None) -> None:
        """`exchange` bore on the check and was fine."""
        ledger = self.checks.get(check_id)
        if ledger is None:
            return
        ledger.observations += 1
        if exchange is not None:
            self._evidence(ledger, exchange, finding=False)

    def amend(self, check_id: str, summary: str, detail: str) -> None:
        """Replace the detail of a finding already recorded (context learned later)."""
        ledger = self.checks.get(check_id)
        for finding in ledger.findings.values() if ledger else ():
            if finding.judgement.summary == summary:
                finding.judgement = dataclasses.replace(finding.judgement, detail=detail)

    def module(self, check_id: str, title: str | None) -> None:
        """Name the module (Sage's reference) of a request this check judged, in its facts."""
        ledger = self.checks.get(check_id)
        if ledger is None or title is None or title in ledger.modules:
            return
        ledger.modules.append(title)
        ledger.facts["modules of the requests"] = ", ".join(ledger.modules)

    def fact(self, check_id: str, name: str, value: Any) -> None:
        if check_id in self.checks:
            self.checks[check_id].facts[name] = value

    def _evidence(self, ledger: CheckLedger, exchange: RecordedExchange, *, finding: bool) -> None:
        index = exchange.index
        if finding:
            if len(ledger.shown_findings) >= MAX_EVIDENCE or index in ledger.shown_findings:
                return
            ledger.shown_findings.add(index)
        if index in ledger.evidence:
            return
        if len(ledger.evidence) >= MAX_EVIDENCE:
            # Only an exchange a finding came from may take the place of one merely observed.
            observed = [i for i in ledger.evidence if i not in ledger.shown_findings]
            if not finding or not observed:
                return
            ledger.evidence.remove(observed[-1])
        ledger.evidence.append(index)
        if index not in self._kept:
            self._kept[index] = trimmed(exchange)

    # --- results --------------------------------------------------------------------------

    def results(self, redactor: Redactor) -> list[CheckResult]:
        """One result per check, in run order, redacted with everything `redactor` knows."""
        rendered: dict[int, Exchange] = {}
        results = []
        for ledger in self.checks.values():
            evidence = []
            for index in sorted(ledger.evidence):
                if index not in rendered:
                    rendered[index] = evidence_of(self._kept[index], redactor)
                evidence.append(rendered[index])
            results.append(_result(ledger, evidence, redactor))
        return results


def _result(ledger: CheckLedger, evidence: list[Exchange], redactor: Redactor) -> CheckResult:
    spec = ledger.spec
    outcome = ledger.outcome()
    result = CheckResult(
        id=spec.id,
        order=spec.order,
        title=spec.title,
        outcome=outcome,
        evidence=evidence,
        facts=redactor.safe_data(ledger.facts) if ledger.facts else {},
    )
    if outcome is Outcome.SKIPPED:
        result.summary = redactor.safe_text(ledger.unseen)
        return result
    if outcome is Outcome.PASSED:
        result.summary = redactor.safe_text(ledger.summary or f"{ledger.observations} seen.")
        return result
    wanted = "failed" if outcome is Outcome.FAILED else "warning"
    chosen = [f for f in ledger.findings.values() if f.judgement.outcome == wanted]
    first = chosen[0]
    result.summary = redactor.safe_text(first.judgement.summary)
    result.details = redactor.safe_text(_details(ledger, first))
    guidance = [g for f in chosen for g in (f.judgement.guidance or spec.guidance)]
    result.guidance_ids = tuple(dict.fromkeys(guidance))
    return result


def _details(ledger: CheckLedger, first: Finding) -> str:
    lines = [first.judgement.detail] if first.judgement.detail else []
    lines.append(f"Seen in {_where(first)}.")
    others = [f for f in ledger.findings.values() if f is not first]
    if others or ledger.more_findings:
        lines.append("\nAlso in this capture:")
        lines += [f"- {f.judgement.outcome}: {f.judgement.summary} ({_where(f)})" for f in others]
        if ledger.more_findings:
            lines.append(f"- {ledger.more_findings} more finding(s) of other kinds")
    return "\n".join(lines)


def _where(finding: Finding) -> str:
    listed = ", ".join(str(i) for i in finding.entries)
    noun = "entry" if finding.count == 1 else "entries"
    more = f" … ({finding.count} in all)" if finding.count > len(finding.entries) else ""
    return f"{noun} {listed}{more}" if listed else f"{finding.count} exchange(s)"


# --- evidence ---------------------------------------------------------------------------------


def trimmed(exchange: RecordedExchange) -> RecordedExchange:
    """The exchange with bodies cut to what evidence can show (bounded memory)."""
    request, response = exchange.request, exchange.response
    if len(request.body or "") > BODY_KEEP_CHARS:
        request = dataclasses.replace(
            request, body=(request.body or "")[:BODY_KEEP_CHARS], body_truncated=True
        )
    if len(response.body or "") > BODY_KEEP_CHARS:
        response = dataclasses.replace(
            response, body=(response.body or "")[:BODY_KEEP_CHARS], body_truncated=True
        )
    return dataclasses.replace(exchange, request=request, response=response)


def evidence_of(exchange: RecordedExchange, redactor: Redactor) -> Exchange:
    """A recorded exchange as report evidence, redacted, with its entry number and time."""
    request, response = exchange.request, exchange.response
    body: str | None = None
    if request.form:
        fields = redactor.safe_data(dict(request.form))
        body = urlencode(fields) if isinstance(fields, dict) else str(fields)
    elif request.body:
        body = redactor.excerpt(request.body, EXCERPT_CHARS, suffix=" …(cut)")
    return Exchange(
        method=request.method,
        url=redactor.safe_text(request.url),
        request_headers=redactor.headers(request.headers),
        status=response.status,
        response_headers=redactor.headers(response.headers),
        body_excerpt=body_excerpt(answer_of(exchange), redactor) if exchange.answered else "",
        elapsed_ms=max(exchange.elapsed_ms or 0.0, 0.0),
        error=None if exchange.answered else redactor.safe_text(problem_of(exchange).sentence),
        request_body=body,
        entry=exchange.index,
        started_at=exchange.started.isoformat() if exchange.started else None,
    )
