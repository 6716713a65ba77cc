"""api.schema: do the answers seen in this run have the documented shapes? (warning level)"""

from __future__ import annotations

from sage200_doctor.diagnosis import Diagnosis
from sage200_doctor.http.shapes import SHAPES
from sage200_doctor.registry import check, skip, warn


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
    for shape, url, body in run.seen_bodies:
        validator = Draft202012Validator(SHAPES[shape])
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.path))[:5]:
            where = "/".join(str(part) for part in error.path) or "(root)"
            problems.append(f"{shape} at {where}: {error.message[:200]}  [{url}]")
    if problems:
        warn(
            f"{len(problems)} answer(s) differ from the documented shapes; clients built on the "
            "documentation may break.",
            detail="\n".join(problems[:20]),
        )
    return f"{len(run.seen_bodies)} answer(s) match the documented shapes."
