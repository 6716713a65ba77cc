"""api.schema: do the answers seen in this run have the documented shapes? (warning level)"""

from __future__ import annotations

import json
from typing import Any

from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import check, skip, warn
from sage200_doctor.http.shapes import SHAPES


@check(
    "api.schema",
    order=150,
    title="Responses have the documented shapes",
    verifies="the responses seen in this run match the documented shapes of sites and customers "
    "(warning level)",
    depends=("sites.list",),
    guidance=("faq.errors.404",),
)
def check_responses_match_documented_shapes(run: Diagnosis) -> str:
    if not run.seen_bodies:
        skip("No sites or customers answers were seen in this run.")
    # Imported here: listing or running other checks should not pay ~140 ms for jsonschema.
    from jsonschema import Draft202012Validator

    problems: list[str] = []
    validators = {shape: Draft202012Validator(SHAPES[shape]) for shape in SHAPES}
    validated: set[str] = set()
    for shape, url, body in run.seen_bodies:
        # The same customer comes back in many answers (list, filter, probes): each distinct
        # record is validated once, and reported where it was first seen.
        rows, positions = _not_yet_validated(shape, body, validated)
        if rows is None:
            continue
        for error in sorted(validators[shape].iter_errors(rows), key=lambda e: list(e.path))[:5]:
            path = list(error.path)
            if path and positions:
                path[0] = positions[int(path[0])]
            where = "/".join(str(part) for part in path) or "(root)"
            # Redacted before it is cut: a secret cut in two is no longer recognised.
            message = run.redactor.excerpt(error.message, 200)
            problems.append(f"{shape} at {where}: {message}  [{url}]")
    if problems:
        warn(
            f"{len(problems)} answer(s) differ from the documented shapes; clients built on the "
            "documentation may break.",
            detail="\n".join(problems[:20]),
        )
    return f"{len(run.seen_bodies)} answer(s) match the documented shapes."


def _not_yet_validated(shape: str, body: Any, validated: set[str]) -> tuple[Any, list[int]]:
    """The body to validate (for a list: only records not validated before) and, for a list,
    each kept record's index in the original body. None when nothing is new."""
    if not isinstance(body, list):
        return body, []
    rows: list[Any] = []
    positions: list[int] = []
    for index, row in enumerate(body):
        key = shape + json.dumps(row, sort_keys=True, default=str)
        if key not in validated:
            validated.add(key)
            rows.append(row)
            positions.append(index)
    if body and not rows:
        return None, []
    return rows, positions
