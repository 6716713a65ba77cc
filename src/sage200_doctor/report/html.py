"""report.html: pytest-html 4, extended through its hooks into a diagnosis a person can act on.

pytest-html still renders the page (one self-contained file, its results table, its filters);
these hooks put the verdict and the root cause with its guidance above the table, turn each row
into a check with its outcome badge, attach the check's redacted evidence as collapsed
<details>, replace pytest-metadata's environment table with a summary that holds no secret, and
sweep the written files once more with the run's redactor.

Everything interpolated into HTML here goes through `escape`: evidence, summaries and details
come from servers and users. pytest-html inserts extras and environment values as raw HTML.
The same hooks shape junit.xml (messages naming the root cause, the check id as the testcase).
"""

from __future__ import annotations

import html
import importlib
import platform
from collections import Counter
from collections.abc import Generator, Iterable
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sage200_doctor import __version__
from sage200_doctor.guidance import OWNER_LABELS, Guidance, guidance_for
from sage200_doctor.redact import DROPPED, Redactor, neutralise_controls, quiet_http_loggers
from sage200_doctor.results import CheckResult, Exchange, Outcome, RunResult

if TYPE_CHECKING:
    from sage200_doctor.suite import DoctorRun

TITLE = "sage200-doctor: Sage 200 API diagnosis"
CHECK_KEY = "sage200_check"
"""Attribute set on each check's TestReport: the check id (rows and junit look it up)."""

VERDICT_TEXT = {
    "pass": ("PASS", "The Sage 200 API set-up works"),
    "fail": ("FAIL", "The environment has a problem"),
    "config-error": ("CONFIG", "The configuration is unusable: fix the settings first"),
    "unreachable": ("UNREACHABLE", "A host cannot be reached"),
    "internal-error": ("ERROR", "sage200-doctor itself failed (a bug: please report it)"),
}
COLUMNS = (
    '<th class="sortable" data-column-type="result">Result</th>',
    '<th class="sortable" data-column-type="order">#</th>',
    "<th>Outcome</th>",
    '<th class="sortable" data-column-type="testId">Check</th>',
    "<th>Finding</th>",
    '<th class="sortable" data-column-type="duration">Time</th>',
)
NOT_RUN = (Outcome.BLOCKED, Outcome.SKIPPED)


def escape(value: object) -> str:
    # Control characters and bidi overrides from servers are shown, never obeyed.
    return html.escape(neutralise_controls(str(value), multiline=True), quote=True)


@cache
def stylesheet() -> str:
    return files("sage200_doctor.report").joinpath("report.css").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Rendering: plain functions over RunResult / CheckResult, every value escaped.


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


def next_step(result: CheckResult) -> str:
    for guidance_id in result.guidance_ids:
        entry = guidance_for(guidance_id)
        if entry.steps:
            return entry.steps[0]
    return "Fix this check's finding, then run sage200-doctor again."


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
    word, sentence = VERDICT_TEXT[verdict]
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
        return error_section(errors[0]) if errors else pass_section(result)
    blocked = [c.id for c in result.checks if c.outcome is Outcome.BLOCKED]
    guidance = "".join(guidance_card(guidance_for(g), full=True) for g in root.guidance_ids)
    details = f'<pre class="s2d-pre">{escape(root.details)}</pre>' if root.details else ""
    consequence = (
        f'<p class="s2d-note">{len(blocked)} later check(s) did not run because of it: '
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
        '<div class="s2d-next"><span>Next step</span> The set-up works: point your integration '
        "at the same settings (edition, base URL, client, X-Site and X-Company).</div></section>"
    )


def other_findings(result: RunResult) -> str:
    root = result.root_cause
    others = [
        c
        for c in result.checks
        if c.outcome in (Outcome.FAILED, Outcome.WARNING, Outcome.ERROR)
        and (root is None or c.id != root.id)
    ]
    if not others:
        return ""
    items = []
    for check in others:
        note = (
            f" <em>This may be a consequence of the root cause, {escape(root.id)}.</em>"
            if root is not None and check.outcome is Outcome.FAILED
            else ""
        )
        refs = ", ".join(
            link(guidance_for(g).url, guidance_for(g).title) for g in check.guidance_ids
        )
        items.append(
            f"<li>{badge(check.outcome)} {check_link(check.id)} {escape(check.summary)}{note}"
            + (f'<div class="s2d-refs">Guidance: {refs}</div>' if refs else "")
            + "</li>"
        )
    return (
        '<section class="s2d-card" id="s2d-other-findings"><p class="s2d-kicker">'
        f'Other findings</p><ul class="s2d-findings">{"".join(items)}</ul></section>'
    )


def facts_table(facts: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>" for name, value in facts.items()
    )
    return f'<table class="s2d-facts">{rows}</table>'


def capabilities_section(result: RunResult) -> str:
    rows = "".join(
        f"<tr><td>{check_link(c.id)}</td><th>{escape(name)}</th><td>{escape(value)}</td></tr>"
        for c in result.checks
        for name, value in c.facts.items()
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
    elif check.outcome is Outcome.FAILED and root is not None and root.id != check.id:
        parts.append(
            f'<p class="s2d-note">This may be a consequence of the root cause, '
            f"{check_link(root.id)}: fix that first.</p>"
        )
    if check.details:
        parts.append(f'<pre class="s2d-pre">{escape(check.details)}</pre>')
    parts += [guidance_card(guidance_for(g), full=False) for g in check.guidance_ids]
    if check.facts:
        parts.append(f"<h4>Capabilities</h4>{facts_table(check.facts)}")
    if check.evidence:
        count = len(check.evidence)
        parts.append(f"<h4>Evidence · {count} request{'s' if count != 1 else ''}</h4>")
        parts += [exchange_block(exchange) for exchange in check.evidence]
    parts.append("</div>")
    return "".join(parts)


def environment_summary(run: DoctorRun) -> dict[str, str]:
    """The Environment table: where the run pointed, never a secret (values are escaped:
    pytest-html renders them as HTML)."""
    env = run.environment()
    rows = {
        "sage200-doctor": __version__,
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "Platform": platform.platform(terse=True),
        "Edition": env.get("edition"),
        "API base URL": env.get("api_base_url"),
        "Token URL": env.get("token_url"),
        "X-Site": env.get("site_id"),
        "X-Company": env.get("company_id"),
        "Started": run.started_at,
    }
    return {
        key: escape(run.redactor.safe_text(str(value or "not set"))) for key, value in rows.items()
    }


# ---------------------------------------------------------------------------------------------
# JUnit: the same story in junit.xml's words.


def failure_message(check: CheckResult, root: CheckResult | None) -> str:
    """junit's failure text: the root cause says so; a later failure points at it."""
    lines = [f"{check.id}: {check.summary}"]
    if check.outcome is Outcome.ERROR:
        lines[0] = f"Internal error in sage200-doctor, {lines[0]}"
    elif root is None or root.id == check.id:
        lines[0] = f"Root cause: {lines[0]}"
    else:
        lines.append(f"This may be a consequence of the root cause, {root.id}: {root.summary}")
    if check.details:
        lines.append(check.details)
    for guidance_id in check.guidance_ids:
        entry = guidance_for(guidance_id)
        lines.append(f"Guidance {entry.id}: {entry.title} ({entry.url})")
    return "\n".join(lines)


def skip_reason(check: CheckResult, root: CheckResult | None) -> str:
    if check.outcome is Outcome.BLOCKED:
        cause = f"; root cause: {root.id}" if root is not None else ""
        return f"blocked by {check.blocked_by}, which did not pass{cause}"
    return check.summary


def first_failed(results: Iterable[CheckResult]) -> CheckResult | None:
    failed = [c for c in results if c.outcome is Outcome.FAILED]
    return min(failed, key=lambda c: c.order) if failed else None


# ---------------------------------------------------------------------------------------------
# The hooks.


class HtmlHooks:
    """pytest-html and junitxml hooks of an active run (registered by plugin.py)."""

    def __init__(self, run: DoctorRun) -> None:
        self.run = run
        self.config: pytest.Config | None = None
        quiet_http_loggers()

    @property
    def redactor(self) -> Redactor:
        return self.run.redactor

    def result(self) -> RunResult:
        return self.run.finish()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.config = session.config
        try:
            metadata_plugin: Any = importlib.import_module("pytest_metadata.plugin")
        except ImportError:  # pragma: no cover - pytest-metadata comes with pytest-html
            return
        metadata = session.config.stash.get(metadata_plugin.metadata_key, None)
        if metadata is not None:
            # pytest-metadata collects CI variables, plugin lists and --metadata values;
            # none of it helps a Sage 200 diagnosis and any of it could hold a secret.
            metadata.clear()
            metadata.update(environment_summary(self.run))

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = TITLE
        report.set_data("initialSort", "order")
        report.set_data("renderCollapsed", ["passed", "skipped"])
        report.set_data("environment", environment_summary(self.run))

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: Any
    ) -> None:
        result = self.result()
        prefix += [
            f"<style>{stylesheet()}</style>",
            banner(result),
            root_cause_section(result),
            other_findings(result),
        ]
        summary += [
            '<h2 class="s2d-section-title">Checks in run order</h2>'
            '<p class="s2d-muted">Click a row for its finding, guidance and the redacted '
            "requests and responses behind it.</p>"
        ]
        postfix.append(capabilities_section(result))

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells[:] = list(COLUMNS)

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        check = self.run.results.get(str(getattr(report, CHECK_KEY, "")))
        duration = cells[2] if len(cells) > 2 else '<td class="col-duration"></td>'
        first = cells[0] if cells else '<td class="col-result"></td>'
        if check is None:
            name = escape(report.nodeid)
            cells[:] = [
                first,
                '<td class="col-order"></td>',
                "<td></td>",
                f'<td class="col-testId">{name}</td>',
                "<td></td>",
                duration,
            ]
            return
        finding = (
            f"blocked by {check_link(check.blocked_by)}"
            if check.outcome is Outcome.BLOCKED
            else escape(check.summary)
        )
        cells[:] = [
            first,
            f'<td class="col-order"><span class="s2d-sortkey">{check.order:06d}</span>'
            f"{check.order}</td>",
            f'<td class="col-outcome">{badge(check.outcome)}</td>',
            f'<td class="col-testId">{escape(check.id)}</td>',
            f'<td class="col-finding"><span class="s2d-title">{escape(check.title)}</span>'
            f"<br>{finding}</td>",
            duration,
        ]

    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list[str]) -> None:
        # The row's panel already says what the log would (summary, details, guidance); keep
        # only captured output, redacted, and drop pytest's "No log output captured." filler.
        sections = [content for _, content in report.sections if content.strip()]
        data[:] = [self.redactor.safe_markup(line) for line in data] if sections else []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        check = self.run.results.get(item.name) if report.when == "call" else None
        if check is not None:
            setattr(report, CHECK_KEY, check.id)
            self._shape_junit(item, report, check)
            # pytest-html's own makereport wrapper (outermost) collects `report.extras`.
            report.extras = [  # type: ignore[attr-defined]
                *getattr(report, "extras", []),
                {
                    "name": "check",
                    "format_type": "html",
                    "content": self._panel(check),
                    "mime_type": None,
                    "extension": None,
                },
            ]
        report.sections = [(name, self.redactor.safe_text(text)) for name, text in report.sections]
        return report

    def _panel(self, check: CheckResult) -> str:
        done = [self.run.results[s.id] for s in self.run.specs if s.id in self.run.results]
        partial = RunResult(self.run.started_at, 0.0, {}, done)
        return self.redactor.safe_markup(check_panel(check, partial))

    def _shape_junit(
        self, item: pytest.Item, report: pytest.TestReport, check: CheckResult
    ) -> None:
        # Checks run in order, so the first failure so far is the run's root cause.
        root = first_failed(self.run.results.values())
        if check.outcome in (Outcome.FAILED, Outcome.ERROR):
            report.longrepr = self.redactor.safe_text(failure_message(check, root))
        elif report.skipped and isinstance(report.longrepr, tuple):
            path, line, _ = report.longrepr
            report.longrepr = (path, line, f"Skipped: {skip_reason(check, root)}")
        if root is not None and root.id == check.id:
            item.user_properties.append(("root_cause", "true"))
        if check.blocked_by:
            item.user_properties.append(("blocked_by", check.blocked_by))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # junit.xml would name the testcase's class ".sage200-doctor" (the suite has no file);
        # attributes set before junitxml sees the report are kept, as record_xml_attribute does.
        xml = self._junit()
        if xml is not None and report.when == "setup":
            xml.node_reporter(report).attrs["classname"] = "sage200-doctor"

    def _junit(self) -> Any:
        if self.config is None:
            return None
        try:
            from _pytest.junitxml import xml_key
        except ImportError:  # pragma: no cover - private API moved
            return None
        return self.config.stash.get(xml_key, None)

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, None, None]:
        yield
        # pytest-html and junitxml have written their files: sweep them once more by value,
        # since a token learned late in the run may sit in an earlier check's evidence.
        option = session.config.option
        for path in (getattr(option, "htmlpath", None), getattr(option, "xmlpath", None)):
            if path:
                sweep_file(Path(path), self.redactor)


def sweep_file(path: Path, redactor: Redactor) -> None:
    """Redact a written report in place; if that fails, replace it rather than leave it raw."""
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8")
    # Markup-aware: a sweep by value over rendered markup must never change the markup itself
    # (values a server chose could otherwise remove the report's own quotes and brackets).
    swept = redactor.safe_markup(text)
    if swept == DROPPED:
        swept = (
            "<!DOCTYPE html><title>sage200-doctor</title><p>This report was dropped because it "
            "could not be redacted safely. See report.json.</p>"
            if path.suffix == ".html"
            else '<?xml version="1.0" encoding="utf-8"?><testsuites name="sage200-doctor" />'
        )
    if swept != text:
        path.write_text(swept, encoding="utf-8")
