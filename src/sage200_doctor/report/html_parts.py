"""The pieces of report.html: plain functions from results to HTML, every value escaped.

report.html (html.py) and the decorations of pytest-html's page (pytest_plugin/html_hooks.py)
are built from these. Everything interpolated here goes through `escape`: evidence, summaries and
details come from servers and users. The data they render was redacted before it got here;
nothing here searches or replaces inside rendered markup.
"""

from __future__ import annotations

import html
from collections import Counter
from functools import cache
from importlib.resources import files
from typing import Any

from sage200_doctor.engine.results import CheckResult, Exchange, Outcome, RunResult
from sage200_doctor.guidance import OWNER_LABELS, Guidance, guidance_for
from sage200_doctor.redact import neutralise_controls
from sage200_doctor.report.coverage import shown_facts
from sage200_doctor.report.next_step import next_step, pass_words

VERDICT_TEXT = {
    "pass": ("PASS", "The Sage 200 API set-up works"),
    "fail": ("FAIL", "The environment has a problem"),
    "config-error": ("CONFIG", "The configuration is unusable: fix the settings first"),
    "unreachable": ("UNREACHABLE", "A host cannot be reached"),
    "internal-error": ("ERROR", "sage200-doctor itself failed (a bug: please report it)"),
    "interrupted": ("STOPPED", "The run was stopped before the diagnosis was complete"),
}
NOT_RUN = (Outcome.BLOCKED, Outcome.SKIPPED, Outcome.INTERRUPTED)


def verdict_text(result: RunResult) -> tuple[str, str]:
    """The verdict's word and sentence; a pass says what was examined (a site, a capture...)."""
    word, sentence = VERDICT_TEXT[result.verdict.value]
    if result.verdict.value == "pass":
        sentence = pass_words(result)[0].capitalize()
    return word, sentence


def escape(value: object) -> str:
    # Control characters and bidi overrides from servers are shown, never obeyed.
    return html.escape(neutralise_controls(str(value), multiline=True), quote=True)


@cache
def stylesheet(name: str = "report.css") -> str:
    return files("sage200_doctor.report").joinpath(name).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Rendering: plain functions over RunResult / CheckResult, every value escaped.


def badge_for(outcome: str) -> str:
    """A badge for an outcome read back from a report (a string)."""
    return f'<span class="s2d-badge s2d-{escape(outcome)}">{escape(outcome)}</span>'


def badge(outcome: Outcome) -> str:
    return f'<span class="s2d-badge s2d-{outcome.value}">{outcome.value}</span>'


def check_link(check_id: str | None) -> str:
    return f'<a class="s2d-check" href="#{escape(check_id)}">{escape(check_id)}</a>'


def link(url: str, text: str | None = None) -> str:
    """A link for public https pages; anything else (our own docs paths) is shown as text."""
    label = escape(text or url)
    if url.startswith("https://"):
        return f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">{label}</a>'
    path = f"<code>{escape(url)}</code>"
    return f"{label} ({path} in the sage200-doctor repository)" if text else path


def guidance_card(entry: Guidance, *, full: bool) -> str:
    steps = "".join(f"<li>{escape(step)}</li>" for step in entry.steps)
    causes = "".join(f"<li>{escape(cause)}</li>" for cause in entry.causes)
    body = (
        f"<p>{escape(entry.meaning)}</p>"
        + (f"<h5>Likely causes</h5><ul>{causes}</ul>" if full and causes else "")
        + (f"<h5>What to do</h5><ol>{steps}</ol>" if steps else "")
    )
    return (
        f'<div class="s2d-guidance"><div class="s2d-guidance-head">'
        f'<span class="s2d-guidance-title">{escape(entry.title)}</span>'
        f'<span class="s2d-owner">Usually fixed by: {escape(OWNER_LABELS[entry.owner])}</span>'
        f"</div>{body}"
        f'<p class="s2d-source">Based on {link(entry.url, entry.source)} '
        f"· <code>sage200-doctor explain {escape(entry.id)}</code></p></div>"
    )


def counts_line(result: RunResult) -> str:
    counts = Counter(check.outcome for check in result.checks)
    chips = [
        f'<span class="s2d-chip s2d-{o.value}">{counts[o]} {o.value}</span>'
        for o in Outcome
        if counts[o]
    ]
    return "".join(chips)


def banner(result: RunResult) -> str:
    verdict = result.verdict.value
    word, sentence = verdict_text(result)
    env = result.environment
    meta = [
        f"{len(result.checks)} checks in {result.duration_s:.2f} s",
        f"edition: {env.get('edition') or 'not set'}",
        f"started {result.started_at}",
        f"exit code {result.exit_code}",
    ]
    return (
        f'<section class="s2d-banner s2d-verdict-{escape(verdict)}" id="s2d-verdict">'
        f'<div class="s2d-verdict-word">{escape(word)}</div>'
        f'<div class="s2d-verdict-text"><h2>{escape(sentence)}</h2>'
        f'<p class="s2d-chips">{counts_line(result)}</p>'
        f'<p class="s2d-meta">{" · ".join(escape(m) for m in meta)}</p></div></section>'
    )


def root_cause_section(result: RunResult) -> str:
    root = result.root_cause
    errors = [c for c in result.checks if c.outcome is Outcome.ERROR]
    if root is None:
        if errors:
            return error_section(errors[0])
        return "" if result.interruption is not None else pass_section(result)
    blocked = [c.id for c in result.checks if c.outcome is Outcome.BLOCKED]
    guidance = "".join(guidance_card(guidance_for(g), full=True) for g in root.guidance_ids)
    details = f'<pre class="s2d-pre">{escape(root.details)}</pre>' if root.details else ""
    consequence = (
        f'<p class="s2d-note">{len(blocked)} later check(s) could not run because of it: '
        + ", ".join(check_link(c) for c in blocked)
        + ".</p>"
        if blocked
        else ""
    )
    return (
        f'<section class="s2d-card s2d-root" id="s2d-root-cause">'
        f'<p class="s2d-kicker">Root cause · the first check that failed, in run order</p>'
        f"<h3>{check_link(root.id)} {escape(root.title)}</h3>"
        f'<p class="s2d-lead">{escape(root.summary)}</p>{details}'
        f'<div class="s2d-next"><span>Next step</span> {escape(next_step(root))}</div>'
        f"{guidance}{consequence}</section>"
    )


def also_found_section(result: RunResult) -> str:
    """Every further independent fault, right under the root cause: all of them in one run."""
    also = result.also_found
    if not also:
        return ""
    items = "".join(_finding_item(check) for check in also)
    return (
        '<section class="s2d-card s2d-also" id="s2d-also-found"><p class="s2d-kicker">'
        f"Also found · {len(also)} further fault{'s' if len(also) != 1 else ''} of their own, "
        "in run order</p>"
        f'<ul class="s2d-findings">{items}</ul></section>'
    )


def substitutes_note(check: CheckResult) -> str:
    if not check.substitutes:
        return ""
    lines = "".join(
        f"<li>{escape(s.by)} instead of {escape(s.replaced)} (proved by {escape(s.proof)}, "
        f"found by {check_link(s.set_by)})</li>"
        for s in check.substitutes
    )
    return f'<div class="s2d-note">Ran on a proven substitute:<ul>{lines}</ul></div>'


def interruption_section(result: RunResult) -> str:
    stopped = result.interruption
    if stopped is None:
        return ""
    done = sum(c.outcome is not Outcome.INTERRUPTED for c in result.checks)
    during = f" while {check_link(stopped.during)} was running" if stopped.during else ""
    return (
        '<section class="s2d-card s2d-interrupted-card" id="s2d-interrupted">'
        '<p class="s2d-kicker">Stopped · this is not a complete diagnosis</p>'
        f"<h3>The run was stopped by {escape(stopped.reason)}{during}.</h3>"
        f'<p class="s2d-lead">{done} of {len(result.checks)} checks finished; what follows '
        "shows what was known by then. Run sage200-doctor again for a verdict.</p></section>"
    )


def error_section(check: CheckResult) -> str:
    return (
        '<section class="s2d-card s2d-root" id="s2d-root-cause">'
        '<p class="s2d-kicker">Internal error · a bug in sage200-doctor, not in your set-up</p>'
        f"<h3>{check_link(check.id)} {escape(check.title)}</h3>"
        f'<p class="s2d-lead">{escape(check.summary)}</p>'
        f'<pre class="s2d-pre">{escape(check.details)}</pre>'
        '<div class="s2d-next"><span>Next step</span> Report it with the support bundle '
        "(<code>sage200-doctor run --bundle FILE.zip</code>).</div></section>"
    )


def pass_section(result: RunResult) -> str:
    return (
        '<section class="s2d-card s2d-ok" id="s2d-root-cause">'
        '<p class="s2d-kicker">No root cause · every blocking check passed</p>'
        f"<h3>All {len(result.checks)} checks passed or did not apply.</h3>"
        f'<div class="s2d-next"><span>Next step</span> {escape(pass_words(result)[1])}</div>'
        "</section>"
    )


def other_findings(result: RunResult) -> str:
    """Warnings, accepted findings and internal errors that are neither the root cause nor
    among the faults "also found"."""
    shown = {c.id for c in result.also_found}
    root = result.root_cause
    others = [
        c
        for c in result.checks
        if c.outcome in (Outcome.FAILED, Outcome.WARNING, Outcome.ERROR)
        and c.id not in shown
        and (root is None or c.id != root.id)
    ]
    if not others:
        return ""
    items = "".join(_finding_item(check) for check in others)
    return (
        '<section class="s2d-card" id="s2d-other-findings"><p class="s2d-kicker">'
        f'Other findings</p><ul class="s2d-findings">{items}</ul></section>'
    )


def _finding_item(check: CheckResult) -> str:
    refs = ", ".join(
        link(guidance_for(g).url, guidance_for(g).title)
        + f" (usually fixed by {escape(OWNER_LABELS[guidance_for(g).owner])})"
        for g in check.guidance_ids
    )
    accepted = (
        f" <em>Accepted by the baseline until {escape(check.accepted.expires)}: "
        f"{escape(check.accepted.reason)}</em>"
        if check.accepted is not None
        else ""
    )
    return (
        f"<li>{badge(check.outcome)} {check_link(check.id)} {escape(check.summary)}{accepted}"
        + (f'<div class="s2d-refs">Guidance: {refs}</div>' if refs else "")
        + "</li>"
    )


def facts_table(facts: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td>{fact_value(value)}</td></tr>"
        for name, value in facts.items()
    )
    return f'<table class="s2d-facts">{rows}</table>'


def fact_value(value: object) -> str:
    """A fact as markup: rows of a table (a list of mappings, such as the requests a Postman
    collection sent) as a table, a list as its items, a mapping as name: value lines."""
    if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
        columns = list(dict.fromkeys(name for row in value for name in row))
        head = "".join(f"<th>{escape(name)}</th>" for name in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{_cell(row.get(name))}</td>" for name in columns) + "</tr>"
            for row in value
        )
        return (
            f'<table class="s2d-facts s2d-fact-rows"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
        )
    if isinstance(value, list | tuple):
        return escape(", ".join(_cell(item, escaped=False) for item in value))
    if isinstance(value, dict):
        return "<br>".join(f"{escape(name)}: {_cell(item)}" for name, item in value.items())
    return escape(value)


def _cell(value: object, *, escaped: bool = True) -> str:
    text = "" if value is None else str(value)
    return escape(text) if escaped else text


def capabilities_section(result: RunResult) -> str:
    rows = "".join(
        f"<tr><td>{check_link(c.id)}</td><th>{escape(name)}</th><td>{fact_value(value)}</td></tr>"
        for c in result.checks
        for name, value in shown_facts(c.id, c.facts).items()
    )
    if not rows:
        return ""
    return (
        '<section class="s2d-card" id="s2d-capabilities"><h2>Capabilities found</h2>'
        '<p class="s2d-muted">What the checks learned about this server. Facts, not findings.</p>'
        '<table class="s2d-facts s2d-capabilities"><thead><tr><th>Check</th><th>Capability</th>'
        f"<th>Value</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def headers_table(headers: dict[str, str]) -> str:
    if not headers:
        return '<p class="s2d-muted">(none)</p>'
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>"
        for name, value in headers.items()
    )
    return f'<table class="s2d-headers">{rows}</table>'


def status_class(status: int | None) -> str:
    return f"s2d-status-{status // 100}xx" if status else "s2d-status-none"


def exchange_block(exchange: Exchange) -> str:
    status = str(exchange.status) if exchange.status is not None else "no answer"
    request_body = (
        f'<h5>Request body</h5><pre class="s2d-pre">{escape(exchange.request_body)}</pre>'
        if exchange.request_body
        else ""
    )
    error = f'<p class="s2d-error">{escape(exchange.error)}</p>' if exchange.error else ""
    response = (
        f"<h5>Response headers</h5>{headers_table(exchange.response_headers)}"
        f'<h5>Response body (excerpt)</h5><pre class="s2d-pre">'
        f"{escape(exchange.body_excerpt) or '(empty)'}</pre>"
        if exchange.status is not None
        else ""
    )
    return (
        f'<details class="s2d-exchange"><summary><span class="s2d-method">'
        f'{escape(exchange.method)}</span> <span class="s2d-url">{escape(exchange.url)}</span> '
        f'<span class="s2d-status {status_class(exchange.status)}">{escape(status)}</span> '
        f'<span class="s2d-ms">{exchange.elapsed_ms:.0f} ms</span></summary>'
        f'<div class="s2d-exchange-body">{error}<h5>Request headers</h5>'
        f"{headers_table(exchange.request_headers)}{request_body}{response}</div></details>"
    )


def check_panel(check: CheckResult, run: RunResult) -> str:
    """The expandable part of a check's row: finding, guidance, facts and evidence."""
    root = run.root_cause
    parts = ['<div class="s2d-panel">']
    if check.outcome is Outcome.BLOCKED:
        parts.append(
            f'<p class="s2d-note">Not run: it needs {check_link(check.blocked_by)}, which did not '
            "pass. Fix that first; this check runs again on the next run.</p>"
        )
    elif check.counts_against_verdict and root is not None and root.id != check.id:
        parts.append(
            '<p class="s2d-note">Also found: a fault of its own (everything it needs passed, '
            f"or a proven substitute stood in), besides the root cause {check_link(root.id)}.</p>"
        )
    elif check.outcome is Outcome.INTERRUPTED:
        parts.append(f'<p class="s2d-note">{escape(check.summary)}</p>')
    parts.append(substitutes_note(check))
    if check.details:
        parts.append(f'<pre class="s2d-pre">{escape(check.details)}</pre>')
    parts += [guidance_card(guidance_for(g), full=False) for g in check.guidance_ids]
    if check.facts:
        parts.append(f"<h4>Capabilities</h4>{facts_table(shown_facts(check.id, check.facts))}")
    if check.evidence:
        count = len(check.evidence)
        parts.append(f"<h4>Evidence · {count} request{'s' if count != 1 else ''}</h4>")
        parts += [exchange_block(exchange) for exchange in check.evidence]
    parts.append("</div>")
    return "".join(parts)
