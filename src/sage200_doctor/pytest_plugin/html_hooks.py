"""pytest-html's page (`pytest --sage200-env FILE --html PAGE`), decorated with the diagnosis.

pytest-html renders its own page; these hooks put the verdict, the root cause and what else was
found above its table, make each row a check with its outcome badge and its panel (finding,
guidance, collapsed evidence), and replace pytest-metadata's environment table with one that
holds no secret. The pieces are the same functions report.html is built from; the data they
render comes from the engine's result, redacted before rendering.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Generator
from typing import Any

import pytest

from sage200_doctor.engine.results import CheckResult, Outcome, RunResult
from sage200_doctor.redact import Redactor
from sage200_doctor.report.html import TITLE, environment_rows, redacted
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
)

COLUMNS = (
    '<th class="sortable" data-column-type="result">Result</th>',
    '<th class="sortable" data-column-type="order">#</th>',
    "<th>Outcome</th>",
    '<th class="sortable" data-column-type="testId">Check</th>',
    "<th>Finding</th>",
    '<th class="sortable" data-column-type="duration">Time</th>',
)


class HtmlHooks:
    """pytest-html hooks of an active run (registered by the adapter when pytest-html is on)."""

    def __init__(
        self,
        finish: Callable[[], RunResult | None],
        result_of: Callable[[pytest.Item], CheckResult | None],
        redactor: Redactor,
    ) -> None:
        self.finish = finish
        self.result_of = result_of
        self.redactor = redactor
        self.rows: dict[str, CheckResult] = {}

    def _run(self) -> RunResult | None:
        result = self.finish()
        return redacted(result, self.redactor) if result is not None else None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        try:
            metadata_plugin: Any = importlib.import_module("pytest_metadata.plugin")
        except ImportError:  # pragma: no cover - pytest-metadata comes with pytest-html
            return
        metadata = session.config.stash.get(metadata_plugin.metadata_key, None)
        if metadata is not None:
            # pytest-metadata collects CI variables, plugin lists and --metadata values; none of
            # it helps a Sage 200 diagnosis and any of it could hold a secret.
            metadata.clear()

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = TITLE
        report.set_data("initialSort", "order")
        report.set_data("renderCollapsed", ["passed", "skipped"])
        run = self._run()
        if run is not None:
            rows = {name: escape(value) for name, value in environment_rows(run).items()}
            report.set_data("environment", rows)

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: Any
    ) -> None:
        run = self._run()
        if run is None:
            return
        prefix += [
            f"<style>{stylesheet()}{stylesheet('pytest_html.css')}</style>",
            banner(run),
            interruption_section(run),
            root_cause_section(run),
            also_found_section(run),
            other_findings(run),
        ]
        summary.append('<h2 class="s2d-section-title">Checks</h2>')
        postfix.append(capabilities_section(run))

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells[:] = list(COLUMNS)

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        check = self.rows.get(report.nodeid)
        duration = cells[2] if len(cells) > 2 else '<td class="col-duration"></td>'
        first = cells[0] if cells else '<td class="col-result"></td>'
        if check is None:
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
            f'<td class="col-testId">{escape(report.head_line or check.id)}</td>',
            f'<td class="col-finding"><span class="s2d-title">{escape(check.title)}</span>'
            f"<br>{finding}</td>",
            duration,
        ]

    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list[str]) -> None:
        # The row's panel says what the log would; keep only captured output, redacted.
        sections = [content for _, content in report.sections if content.strip()]
        data[:] = [self.redactor.safe_markup(line) for line in data] if sections else []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        check = self.result_of(item) if report.when == "call" else None
        if check is not None:
            self.rows[report.nodeid] = check
            partial = RunResult("", 0.0, {}, [check])
            panel = check_panel(redacted(partial, self.redactor).checks[0], partial)
            # pytest-html's own makereport wrapper (outermost) collects `report.extras`.
            report.extras = [  # type: ignore[attr-defined]
                *getattr(report, "extras", []),
                {
                    "name": "check",
                    "format_type": "html",
                    "content": panel,
                    "mime_type": None,
                    "extension": None,
                },
            ]
        report.sections = [(name, self.redactor.safe_text(text)) for name, text in report.sections]
        return report
