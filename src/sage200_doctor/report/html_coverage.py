"""report.html's go-live coverage: the api.resources matrix as a section of its own.

A table of modules by outcomes (a cell says how many of the module's resources ended that way, in
colour and in words), then one row per resource that cannot be read, with the reason. Every
value is escaped: resource names come from the user's SAGE200_RESOURCES, reasons quote servers.
"""

from __future__ import annotations

from sage200_doctor.engine.results import CheckResult, RunResult
from sage200_doctor.report.coverage import (
    CHECK_ID,
    READABLE,
    Cell,
    Matrix,
    ModuleRow,
    matrix_in,
    module_title,
    words,
)
from sage200_doctor.report.html_parts import check_link, escape

MARK = {True: "✔", False: "✘"}


def coverage_section(run: RunResult) -> str:
    """The section (empty when api.resources did not run or kept no matrix)."""
    matrix = matrix_in(run.checks)
    check = next((c for c in run.checks if c.id == CHECK_ID), None)
    if matrix is None or check is None:
        return ""
    return (
        '<section class="s2d-card s2d-coverage-card" id="s2d-resources">'
        "<h2>Go-live coverage: what the API user can read</h2>"
        f'<p class="s2d-muted">{_intro(check, matrix)}</p>'
        f"{matrix_table(matrix)}{failures_table(matrix)}</section>"
    )


def _intro(check: CheckResult, matrix: Matrix) -> str:
    resources = len(matrix.cells) or sum(row.total for row in matrix.modules)
    return (
        f"{check_link(check.id)} read {resources} resource{'s' if resources != 1 else ''} with "
        f"one GET each (<code>$top=1</code>): <strong>{escape(matrix.headline())}</strong>. "
        f"{escape(check.summary)}"
    )


def matrix_table(matrix: Matrix) -> str:
    """Modules down, outcomes across; readable first."""
    outcomes = matrix.outcomes
    head = "".join(
        f'<th scope="col" class="s2d-cell-head">{escape(words(o))}</th>' for o in outcomes
    )
    rows = "".join(_module_row(row, outcomes) for row in matrix.modules)
    return (
        '<div class="s2d-scroll"><table class="s2d-coverage" id="s2d-coverage-matrix">'
        f'<thead><tr><th scope="col">Module</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _module_row(row: ModuleRow, outcomes: tuple[str, ...]) -> str:
    state = "readable" if row.readable else "unreadable"
    cells = "".join(_cell(row, outcome) for outcome in outcomes)
    return (
        f'<tr class="s2d-module s2d-module-{state}" data-module="{escape(row.key)}">'
        f'<th scope="row"><span class="s2d-mark" aria-hidden="true">{MARK[row.readable]}</span> '
        f"{escape(row.title)}</th>{cells}</tr>"
    )


def _cell(row: ModuleRow, outcome: str) -> str:
    count = row.count(outcome)
    if not count:
        return '<td class="s2d-cell s2d-cell-none"><span aria-label="none">&ndash;</span></td>'
    kind = "ok" if outcome == READABLE else "bad"
    return (
        f'<td class="s2d-cell s2d-cell-{kind} s2d-cell-{escape(outcome)}">'
        f"{count} {escape(words(outcome))}</td>"
    )


def failures_table(matrix: Matrix) -> str:
    """One row per resource that cannot be read, with its status and reason."""
    failing = matrix.unreadable
    if not failing:
        return ""
    rows = "".join(_failure_row(cell) for cell in failing)
    return (
        f"<h3>Cannot be read ({len(failing)})</h3>"
        '<table class="s2d-coverage-failures"><thead><tr><th scope="col">Resource</th>'
        '<th scope="col">Module</th><th scope="col">Outcome</th><th scope="col">Why</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def _failure_row(cell: Cell) -> str:
    status = f"HTTP {cell.status}" if cell.status is not None else "no answer"
    return (
        f'<tr class="s2d-cell-row-{escape(cell.outcome)}"><td><code>{escape(cell.resource)}</code>'
        f"</td><td>{escape(module_title(cell.module))}</td>"
        f'<td><span class="s2d-cell-word s2d-cell-bad">{escape(words(cell.outcome))}</span> '
        f'<span class="s2d-muted-inline">{escape(status)}</span></td>'
        f"<td>{escape(cell.reason)}</td></tr>"
    )
