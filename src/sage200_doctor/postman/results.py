"""A Postman diagnosis as check results: the same ids, orders, titles and outcomes as a live run,
so the verdict, the root cause, the exit code and every report are decided exactly as for one.

Findings are grouped: the same judgement made on four requests is one finding that lists the
four, not four findings. A check the collection was examined on and found fine has passed; one
the collection says nothing about (no `$filter` anywhere, say) is skipped.

`postman.writes` is the one check of a Postman diagnosis that a live run does not have: the
requests other than GET, listed because the doctor never sends them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from sage200_doctor.engine.registry import CheckSpec, all_checks
from sage200_doctor.engine.results import CheckResult, Exchange, Outcome, RunResult
from sage200_doctor.redact import Redactor
from sage200_doctor.rules import Judgement

from .lint import WRITES_CHECK, Finding
from .model import ResolvedRequest
from .placed import Placed, Sent

if TYPE_CHECKING:
    from .coverage import Fine

WRITES_ORDER: Final = 160
WRITES_TITLE: Final = "Requests that write are listed, never sent"
WRITES_GUIDANCE: Final = ("guide.postman.writes",)
MAX_EVIDENCE: Final = 20
"""Requests shown as evidence per check; the details still name every one."""
MAX_PLACES: Final = 12
"""Places named in one finding's details before the rest are counted."""


def writes_spec() -> CheckSpec:
    """`postman.writes` as a check declaration (never registered: live runs send no writes)."""
    return CheckSpec(
        id=WRITES_CHECK,
        order=WRITES_ORDER,
        title=WRITES_TITLE,
        verifies="requests other than GET are listed and never sent (sage200-doctor only reads)",
        depends=(),
        guidance=WRITES_GUIDANCE,
        function=lambda run: None,
    )


def specs_by_id() -> dict[str, CheckSpec]:
    """Every live check, and `postman.writes`."""
    specs = {spec.id: spec for spec in all_checks()}
    specs[WRITES_CHECK] = writes_spec()
    return specs


def placed_findings(
    findings: Iterable[Finding],
    requests: Sequence[ResolvedRequest],
    redactor: Redactor,
) -> list[Placed]:
    """The lint's findings, each with the requests it concerns as evidence: the request itself,
    or every request that inherits the folder's or the collection's auth it is about."""
    exchanges = {request.path: request_exchange(request, redactor) for request in requests}
    return [
        Placed(
            finding.judgement,
            finding.where,
            tuple(exchanges[path] for path in finding.requests if path in exchanges),
        )
        for finding in findings
    ]


def request_exchange(request: ResolvedRequest, redactor: Redactor) -> Exchange:
    """The request as the export holds it (typed headers, resolved), redacted, with no answer."""
    headers = [(pair.key, pair.value) for pair in request.headers if pair.key.strip()]
    return Exchange(
        method=request.method or "GET",
        url=redactor.safe_text(request.url) or "(no URL)",
        request_headers=redactor.headers(headers),
    )


def check_results(
    placed: Sequence[Placed],
    fine: Mapping[str, tuple[Outcome, str]],
    redactor: Redactor,
    *,
    facts: Mapping[str, dict[str, object]] | None = None,
    evidence: Mapping[str, Sequence[Exchange]] | None = None,
) -> list[CheckResult]:
    """One result per check, in run order: failed or warning where something was found (worst
    first), else what `fine` says (passed or skipped, with its sentence, and the exchanges in
    `evidence` that show it)."""
    specs = specs_by_id()
    by_check: dict[str, list[Placed]] = {}
    for item in placed:
        by_check.setdefault(item.judgement.check, []).append(item)
    results = []
    for check_id in sorted(set(by_check) | set(fine), key=lambda c: specs[c].order):
        spec = specs[check_id]
        if check_id in by_check:
            result = _found(spec, by_check[check_id], redactor)
        else:
            outcome, summary = fine[check_id]
            result = _result(spec, outcome, redactor.safe_text(summary))
            result.evidence = list((evidence or {}).get(check_id, ()))[:MAX_EVIDENCE]
        result.facts = dict((facts or {}).get(check_id, {}))
        results.append(result)
    return results


def _result(spec: CheckSpec, outcome: Outcome, summary: str) -> CheckResult:
    return CheckResult(
        id=spec.id, order=spec.order, title=spec.title, outcome=outcome, summary=summary
    )


def _found(spec: CheckSpec, items: Sequence[Placed], redactor: Redactor) -> CheckResult:
    groups = _grouped(items)
    first = groups[0][0]
    more = len(groups) - 1
    summary = first.summary.rstrip() + _places_suffix(groups[0][1])
    if more:
        summary += f" (and {more} more finding{'s' if more > 1 else ''}: see the details)"
    outcome = Outcome.FAILED if first.outcome == "failed" else Outcome.WARNING
    result = _result(spec, outcome, redactor.safe_text(summary))
    result.details = redactor.safe_text("\n\n".join(_block(j, w) for j, w in groups))
    guidance = [g for judgement, _ in groups for g in judgement.guidance]
    result.guidance_ids = tuple(dict.fromkeys(guidance)) or spec.guidance
    result.evidence = _evidence(items)
    return result


def _grouped(items: Sequence[Placed]) -> list[tuple[Judgement, list[str]]]:
    """Identical judgements together, with every place they were made; failures first."""
    groups: dict[Judgement, list[str]] = {}
    for item in items:
        places = groups.setdefault(item.judgement, [])
        if item.where not in places:
            places.append(item.where)
    ordered = sorted(groups.items(), key=lambda group: group[0].outcome != "failed")
    return [(judgement, places) for judgement, places in ordered]


def _places_suffix(places: list[str]) -> str:
    if len(places) == 1:
        return f" ({places[0]})"
    kind = "requests" if all(place.startswith("request '") for place in places) else "places"
    return f" ({len(places)} {kind}: see the details)"


def _block(judgement: Judgement, places: list[str]) -> str:
    mark = "FAIL" if judgement.outcome == "failed" else "WARN"
    shown = places[:MAX_PLACES]
    rest = len(places) - len(shown)
    listing = "; ".join(shown) + (f"; and {rest} more" if rest else "")
    lines = [f"{mark} {judgement.summary}"]
    if judgement.detail:
        lines.append(judgement.detail)
    lines.append(f"In {listing}.")
    return "\n".join(lines)


def _evidence(items: Sequence[Placed]) -> list[Exchange]:
    seen: set[int] = set()
    evidence = []
    for item in items:
        for exchange in item.evidence:
            if id(exchange) not in seen:
                seen.add(id(exchange))
                evidence.append(exchange)
    return evidence[:MAX_EVIDENCE]


def assemble(
    placed: Sequence[Placed],
    fine: Fine,
    redactor: Redactor,
    *,
    sent: Sent | None,
    started_at: str,
    duration_s: float,
    environment: dict[str, Any],
    input_name: str,
) -> RunResult:
    """The `RunResult` of a Postman diagnosis: the lint's findings and, with `--run`, what the
    requests' answers showed. The verdict, root cause and exit code are the `RunResult`'s own."""
    fine = dict(fine)
    placed = list(placed)
    facts: dict[str, dict[str, object]] = {}
    evidence: dict[str, list[Exchange]] = {}
    if sent is not None:
        for check, (outcome, summary) in sent.fine.items():
            if outcome is Outcome.PASSED or check not in fine:
                fine[check] = (outcome, summary)
        placed += sent.placed
        evidence = sent.evidence
        facts[WRITES_CHECK] = {"requests": [row.fact() for row in sent.rows]}
    checks = check_results(placed, fine, redactor, facts=facts, evidence=evidence)
    if sent is not None and sent.failure is not None:
        checks = _with_internal_error(checks, *sent.failure, redactor)
    return RunResult(
        started_at=started_at,
        duration_s=duration_s,
        environment=environment,
        checks=checks,
        requests=None
        if sent is None
        else {"sent": sent.sent, "concurrency": 1, "sent_ahead_unused": []},
        interruption=None if sent is None else sent.interruption,
        source="postman",
        input=input_name,
    )


def _with_internal_error(
    checks: list[CheckResult], check_id: str, error: Exception, redactor: Redactor
) -> list[CheckResult]:
    from sage200_doctor.engine.runner import internal_error

    spec = specs_by_id()[check_id]
    broken = internal_error(spec, error, redactor)
    kept = [check for check in checks if check.id != check_id]
    return sorted([*kept, broken], key=lambda check: check.order)
