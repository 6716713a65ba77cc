"""Go-live coverage: the api.resources matrix (modules by outcomes), read back from the check's facts.

api.resources (checks/resources.py) keeps one row per resource it read in `facts["resources"]`
(resource, module, outcome, status, reason) and the outcomes counted per module in
`facts["modules"]`. Every report shows that matrix from here: report.html as a table of its
own, the terminal summary as one line per module that is not fully readable, junit.xml as
suite properties, and `sage200-doctor diff` per resource. The facts may come from a live run or
from a report.json written by another version, so their shape is checked, never trusted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, get_args

from sage200_doctor import catalogue

CHECK_ID = "api.resources"
FACT_KEYS = frozenset({"resources", "modules"})
"""The facts the matrix is made of: shown as the matrix, never as raw lists in a facts table."""
READABLE = "readable"
OUTCOMES: tuple[str, ...] = get_args(catalogue.ReadOutcome)
"""Every outcome of a cell, readable first (catalogue.ReadOutcome)."""
UNKNOWN_MODULE = "unknown"
UNKNOWN_TITLE = "Not in Sage's reference"


@dataclass(frozen=True)
class Cell:
    """How reading one resource went."""

    resource: str
    module: str
    outcome: str
    status: int | None
    reason: str

    @property
    def readable(self) -> bool:
        return self.outcome == READABLE


@dataclass(frozen=True)
class ModuleRow:
    """One module of the matrix: how many of its resources ended in each outcome."""

    key: str
    counts: tuple[tuple[str, int], ...]
    """(outcome, how many), in the order of OUTCOMES, zero counts left out."""

    @property
    def title(self) -> str:
        return module_title(self.key)

    @property
    def total(self) -> int:
        return sum(count for _, count in self.counts)

    @property
    def readable(self) -> bool:
        return all(outcome == READABLE for outcome, _ in self.counts)

    def count(self, outcome: str) -> int:
        return dict(self.counts).get(outcome, 0)

    def summary(self) -> str:
        """`1 readable, 2 forbidden`."""
        return ", ".join(f"{count} {words(outcome)}" for outcome, count in self.counts)


@dataclass(frozen=True)
class Matrix:
    modules: tuple[ModuleRow, ...]
    cells: tuple[Cell, ...]

    @property
    def outcomes(self) -> tuple[str, ...]:
        """The outcomes that occur, in the order of OUTCOMES (readable always first)."""
        seen = {outcome for row in self.modules for outcome, _ in row.counts}
        return tuple(o for o in OUTCOMES if o in seen or o == READABLE) + tuple(
            sorted(seen - set(OUTCOMES))
        )

    @property
    def unreadable(self) -> tuple[Cell, ...]:
        return tuple(cell for cell in self.cells if not cell.readable)

    @property
    def readable_modules(self) -> int:
        return sum(row.readable for row in self.modules)

    def headline(self) -> str:
        """`all 11 modules readable` or `9 of 11 modules readable`."""
        total = len(self.modules)
        noun = "module" if total == 1 else "modules"
        if self.readable_modules == total:
            return f"all {total} {noun} readable" if total != 1 else "the 1 module readable"
        return f"{self.readable_modules} of {total} {noun} readable"


def words(outcome: str) -> str:
    """`not-found` -> `not found`."""
    return outcome.replace("-", " ")


def module_title(key: str) -> str:
    if key == UNKNOWN_MODULE:
        return UNKNOWN_TITLE
    known = catalogue.modules().get(key)
    return known.title if known is not None else key


def matrix_of(facts: Mapping[str, Any]) -> Matrix | None:
    """The matrix in api.resources' facts; None when they hold none."""
    cells = tuple(_cells(facts.get("resources")))
    counted = _counted(cells) if cells else _counts_fact(facts.get("modules"))
    if not counted:
        return None
    order = list(catalogue.modules())
    keys = sorted(counted, key=lambda k: (order.index(k) if k in order else len(order), k))
    rows = tuple(ModuleRow(key, _ordered(counted[key])) for key in keys)
    return Matrix(rows, cells)


def matrix_in(checks: Iterable[Any]) -> Matrix | None:
    """The matrix of a run's api.resources check (CheckResult objects), None if it has none."""
    for check in checks:
        if check.id == CHECK_ID:
            return matrix_of(check.facts or {})
    return None


def _cells(rows: Any) -> Iterable[Cell]:
    if not isinstance(rows, list):
        return
    for row in rows:
        if not isinstance(row, Mapping) or not isinstance(row.get("resource"), str):
            continue
        status = row.get("status")
        yield Cell(
            resource=row["resource"],
            module=str(row.get("module") or UNKNOWN_MODULE),
            outcome=str(row.get("outcome") or "unexpected"),
            status=status if isinstance(status, int) and not isinstance(status, bool) else None,
            reason=str(row.get("reason") or ""),
        )


def _counted(cells: tuple[Cell, ...]) -> dict[str, Counter[str]]:
    counted: dict[str, Counter[str]] = {}
    for cell in cells:
        counted.setdefault(cell.module, Counter())[cell.outcome] += 1
    return counted


def _counts_fact(modules: Any) -> dict[str, Counter[str]]:
    if not isinstance(modules, Mapping):
        return {}
    counted: dict[str, Counter[str]] = {}
    for key, counts in modules.items():
        if isinstance(counts, Mapping):
            valid = {str(o): n for o, n in counts.items() if isinstance(n, int) and n > 0}
            if valid:
                counted[str(key)] = Counter(valid)
    return counted


def _ordered(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    rank = {outcome: index for index, outcome in enumerate(OUTCOMES)}
    return tuple(
        (outcome, count)
        for outcome, count in sorted(counts.items(), key=lambda i: (rank.get(i[0], 99), i[0]))
        if count > 0
    )


# --- text forms --------------------------------------------------------------------------------


def terminal_lines(matrix: Matrix) -> list[str]:
    """The terminal's block: the headline, then one line per module not fully readable."""
    head = f"Go-live coverage ({CHECK_ID}): {matrix.headline()}"
    if matrix.readable_modules == len(matrix.modules):
        return [head + "."]
    lines = [head + "; not readable:"]
    width = max(len(row.title) for row in matrix.modules if not row.readable)
    for row in matrix.modules:
        if row.readable:
            continue
        names = [c.resource for c in matrix.cells if c.module == row.key and not c.readable]
        where = f": {', '.join(names)}" if names else ""
        lines.append(f"  {row.title:<{width}}  {row.summary()}{where}")
    return lines


def junit_properties(matrix: Matrix) -> list[tuple[str, str]]:
    """`resource_<module>` = `1 readable, 1 forbidden`, one per module."""
    return [(f"resource_{row.key}", row.summary()) for row in matrix.modules]


def shown_facts(check_id: str, facts: Mapping[str, Any]) -> dict[str, Any]:
    """A check's facts as a facts table shows them: the matrix's raw rows and counts become
    one sentence each (the matrix itself has a section of its own)."""
    if check_id != CHECK_ID or not FACT_KEYS & facts.keys():
        return dict(facts)
    shown = {name: value for name, value in facts.items() if name not in FACT_KEYS}
    matrix = matrix_of(facts)
    if matrix is not None:
        failing = len(matrix.unreadable)
        resources = len(matrix.cells) or sum(row.total for row in matrix.modules)
        shown["modules"] = matrix.headline()
        shown["resources"] = (
            f"{resources} read, {failing} cannot be read"
            if failing
            else (f"{resources} read, all readable")
        )
    return shown
