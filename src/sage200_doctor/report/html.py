"""report.html: one self-contained page a person can act on, on any screen, with or without
JavaScript.

Everything is in the HTML itself: the verdict, the root cause with its guidance and who fixes it,
what else was found, every check in run order with its finding, guidance and collapsed evidence,
the capabilities and the environment. JavaScript only adds filter buttons and "expand all".
A Content-Security-Policy allows no external resource and no script but the page's own (by its
hash), so even a value that escaped escaping could not run.

Rendering order: the result's data is redacted first (a token learned late in the run may sit
in an earlier check's evidence), then escaped and rendered. Nothing ever searches or replaces
inside the rendered markup.
"""

from __future__ import annotations

import base64
import hashlib
import platform
from collections import Counter
from dataclasses import replace
from typing import Any

from sage200_doctor import __version__
from sage200_doctor.engine.results import CheckResult, Exchange, Outcome, RunResult
from sage200_doctor.redact import Redactor
from sage200_doctor.report.html_coverage import coverage_section
from sage200_doctor.report.html_parts import (
    also_found_section,
    badge,
    banner,
    capabilities_section,
    check_link,
    check_panel,
    escape,
    interruption_section,
    other_findings,
    root_cause_section,
    stylesheet,
    verdict_text,
)

TITLE = "sage200-doctor: Sage 200 API diagnosis"
SCRIPT = """
(function () {
  var bar = document.getElementById('s2d-filters');
  var groups = Array.prototype.slice.call(document.querySelectorAll('tbody.s2d-check'));
  if (!bar || !groups.length) { return; }
  bar.hidden = false;
  var buttons = Array.prototype.slice.call(bar.querySelectorAll('button[data-outcome]'));
  function apply(outcome) {
    groups.forEach(function (g) { g.hidden = outcome !== 'all' && g.dataset.outcome !== outcome; });
    buttons.forEach(function (b) { b.setAttribute('aria-pressed', String(b.dataset.outcome === outcome)); });
  }
  buttons.forEach(function (b) { b.addEventListener('click', function () { apply(b.dataset.outcome); }); });
  var toggle = document.getElementById('s2d-expand');
  toggle.addEventListener('click', function () {
    var open = toggle.getAttribute('aria-pressed') !== 'true';
    document.querySelectorAll('details.s2d-more').forEach(function (d) { d.open = open; });
    toggle.setAttribute('aria-pressed', String(open));
    toggle.textContent = open ? 'Collapse all' : 'Expand all';
  });
})();
"""


def render_page(result: RunResult, redactor: Redactor) -> str:
    """The whole page for one run."""
    run = redacted(result, redactor)
    word, sentence = verdict_text(run)
    body = "".join(
        (
            f'<h1 class="s2d-page-title">{escape(TITLE)}</h1>',
            f'<p class="s2d-subtitle">{escape(word)}: {escape(sentence)} · report written by '
            f"sage200-doctor {escape(__version__)}</p>",
            banner(run),
            interruption_section(run),
            root_cause_section(run),
            also_found_section(run),
            other_findings(run),
            checks_section(run),
            coverage_section(run),
            capabilities_section(run),
            environment_section(run),
            '<p class="s2d-footer">Every value from a server or your settings is shown as text; '
            "secrets are masked. <code>sage200-doctor explain ID</code> prints any guidance.</p>",
        )
    )
    return document(f"{TITLE}: {word}", body)


def document(title: str, body: str) -> str:
    """A standalone page: our stylesheet, our script, nothing from anywhere else."""
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    policy = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(policy)}">'
        f"<title>{escape(title)}</title><style>{stylesheet()}</style></head>"
        f'<body class="s2d">{body}<script>{SCRIPT}</script></body></html>\n'
    )


def checks_section(run: RunResult) -> str:
    counts = Counter(check.outcome for check in run.checks)
    buttons = "".join(
        f'<button type="button" data-outcome="{o.value}" aria-pressed="false">'
        f"{counts[o]} {o.value}</button>"
        for o in Outcome
        if counts[o]
    )
    rows = "".join(check_rows(check, run) for check in run.checks)
    return (
        '<section id="s2d-checks"><h2 class="s2d-section-title">Checks in run order</h2>'
        '<p class="s2d-muted">Each check\'s finding, guidance and the redacted requests and '
        "responses behind it are under its row.</p>"
        '<div class="s2d-filters" id="s2d-filters" hidden>'
        f'<button type="button" data-outcome="all" aria-pressed="true">all {len(run.checks)}</button>'
        f'{buttons}<button type="button" id="s2d-expand" aria-pressed="false">Expand all</button>'
        "</div>"
        '<table class="s2d-checks" id="s2d-checks-table"><thead><tr><th>#</th><th>Outcome</th>'
        "<th>Check</th><th>Finding</th><th>Time</th></tr></thead>"
        f"{rows}</table></section>"
    )


def check_rows(check: CheckResult, run: RunResult) -> str:
    """One check: a row, and under it its panel in a <details> (open for the root cause);
    no panel when the check has nothing more to show than its row."""
    finding = (
        f"blocked by {check_link(check.blocked_by)}"
        if check.outcome is Outcome.BLOCKED
        else escape(check.summary)
    )
    label = panel_label(check)
    opened = " open" if check.counts_against_verdict and run.root_cause is check else ""
    panel = (
        f'<tr class="s2d-panel-row"><td colspan="5"><details class="s2d-more"{opened}>'
        f"<summary>{escape(label)}</summary>{check_panel(check, run)}</details></td></tr>"
        if label
        else ""
    )
    return (
        f'<tbody class="s2d-check s2d-{check.outcome.value}" data-outcome="{check.outcome.value}"'
        f' id="{escape(check.id)}">'
        f'<tr class="s2d-row"><td class="col-order">{check.order}</td>'
        f'<td class="col-outcome">{badge(check.outcome)}</td>'
        f'<td class="col-check">{escape(check.id)}<br><span class="s2d-title">'
        f"{escape(check.title)}</span></td>"
        f'<td class="col-finding">{finding}</td>'
        f'<td class="col-time">{check.duration_ms:.0f} ms</td></tr>{panel}'
        "</tbody>"
    )


def panel_label(check: CheckResult) -> str:
    """What the check's panel holds, e.g. "Details, guidance and evidence (2 requests)"; empty
    when it would hold nothing the row does not already say."""
    parts = [
        name
        for name, present in (
            ("details", bool(check.details)),
            ("guidance", bool(check.guidance_ids)),
            ("capabilities", bool(check.facts)),
            ("substitutes", bool(check.substitutes)),
        )
        if present
    ]
    if check.evidence:
        count = len(check.evidence)
        parts.append(f"evidence ({count} request{'s' if count != 1 else ''})")
    if not parts:
        return ""
    text = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return text[0].upper() + text[1:]


def environment_rows(run: RunResult) -> dict[str, str]:
    """Where the run pointed (already redacted, no secret), and what ran it."""
    env = run.environment
    return {
        "sage200-doctor": __version__,
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "Platform": platform.platform(terse=True),
        "Edition": str(env.get("edition") or "not set"),
        "API base URL": str(env.get("api_base_url") or "not set"),
        "Token URL": str(env.get("token_url") or "not set"),
        "X-Site": str(env.get("site_id") or "not set"),
        "X-Company": str(env.get("company_id") or "not set"),
        "Started": run.started_at,
    }


def environment_section(run: RunResult) -> str:
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>"
        for name, value in environment_rows(run).items()
    )
    return (
        '<section id="s2d-environment"><h2 class="s2d-section-title">Environment</h2>'
        f'<table class="s2d-environment" id="environment">{rows}</table></section>'
    )


# --- redacting the data before rendering -----------------------------------------------------


def redacted(result: RunResult, redactor: Redactor) -> RunResult:
    """The result with every string passed through the redactor once more (late-learned
    tokens), as data: escaping and rendering come after."""
    text = redactor.safe_text
    checks = [
        replace(
            check,
            title=text(check.title),
            summary=text(check.summary),
            details=text(check.details),
            evidence=[_exchange(e, redactor) for e in check.evidence],
            facts=_facts(check.facts, redactor),
        )
        for check in result.checks
    ]
    environment: dict[str, Any] = redactor.safe_data(result.environment)
    return replace(result, checks=checks, environment=environment)


def _facts(facts: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    data = redactor.safe_data(facts)
    return data if isinstance(data, dict) else {"facts": data}


def _exchange(exchange: Exchange, redactor: Redactor) -> Exchange:
    text = redactor.safe_text
    return replace(
        exchange,
        url=text(exchange.url),
        request_headers=redactor.headers(exchange.request_headers),
        request_body=text(exchange.request_body) if exchange.request_body is not None else None,
        response_headers=redactor.headers(exchange.response_headers),
        body_excerpt=text(exchange.body_excerpt),
        error=text(exchange.error) if exchange.error is not None else None,
    )
