"""Answers against the documented shapes of sites and customers (check api.schema, a warning).

The live check validates the answers its run saw; triage validates the ones a capture holds.
The same customer comes back in many answers (list, filter, probes): each distinct record is
validated once, and reported where it was first seen.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sage200_doctor.http.shapes import SHAPES
from sage200_doctor.rules import Judgement

CHECK_ID = "api.schema"
ERRORS_PER_ANSWER = 5
LINES_SHOWN = 20
MESSAGE_CHARS = 200
Excerpt = Callable[[str, int], str]
"""How a message is cut for people (`Redactor.excerpt`: redacted before it is cut)."""


@dataclass(frozen=True)
class ShapeProblem:
    """One difference from the documented shape: which shape, where in the body, what."""

    shape: str
    where: str
    message: str
    url: str

    def line(self, excerpt: Excerpt) -> str:
        return f"{self.shape} at {self.where}: {excerpt(self.message, MESSAGE_CHARS)}  [{self.url}]"


@dataclass
class ShapeJudge:
    """Validates answers one by one, remembering which records it has validated."""

    remember: int = 100_000
    """At most this many records are remembered (a digest each); beyond, records are
    validated again wherever they appear (bounded memory for very large captures)."""
    validated: set[str] = field(default_factory=set)
    _validators: dict[str, Any] = field(default_factory=dict)

    def problems(self, shape: str, url: str, body: Any) -> list[ShapeProblem]:
        """What in `body` (an answer of `shape`: sites, customers, customer) differs."""
        rows, positions = not_yet_validated(shape, body, self.validated, limit=self.remember)
        if rows is None:
            return []
        errors = sorted(self._validator(shape).iter_errors(rows), key=lambda e: list(e.path))
        found = []
        for error in errors[:ERRORS_PER_ANSWER]:
            path = list(error.path)
            if path and positions:
                path[0] = positions[int(path[0])]
            where = "/".join(str(part) for part in path) or "(root)"
            found.append(ShapeProblem(shape, where, error.message, url))
        return found

    def _validator(self, shape: str) -> Any:
        if shape not in self._validators:
            # Imported here: listing or running other checks should not pay ~140 ms for it.
            from jsonschema import Draft202012Validator

            self._validators[shape] = Draft202012Validator(SHAPES[shape])
        return self._validators[shape]


def not_yet_validated(
    shape: str, body: Any, validated: set[str], *, limit: int | None = None
) -> tuple[Any, list[int]]:
    """The body to validate (for a list: only records not validated before) and, for a list,
    each kept record's index in the original body. None when nothing is new."""
    if not isinstance(body, list):
        return body, []
    rows: list[Any] = []
    positions: list[int] = []
    for index, row in enumerate(body):
        key = _digest(shape, row)
        if key not in validated:
            if limit is None or len(validated) < limit:
                validated.add(key)
            rows.append(row)
            positions.append(index)
    if body and not rows:
        return None, []
    return rows, positions


def _digest(shape: str, row: Any) -> str:
    text = shape + json.dumps(row, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def judge_shapes(lines: list[str]) -> Judgement | None:
    """The warning for answers that differ from the documented shapes (`lines`: one each)."""
    if not lines:
        return None
    return Judgement(
        CHECK_ID,
        "warning",
        f"{len(lines)} answer(s) differ from the documented shapes; clients built on the "
        "documentation may break.",
        "\n".join(lines[:LINES_SHOWN]),
    )
