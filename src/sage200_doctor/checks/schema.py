"""api.schema: do the answers seen in this run have the documented shapes? (warning level)"""

from __future__ import annotations

from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import check, report_any, skip
from sage200_doctor.rules.schema import ShapeJudge, judge_shapes


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
    judge = ShapeJudge()
    problems = [p for shape, url, body in run.seen_bodies for p in judge.problems(shape, url, body)]
    # Redacted before it is cut: a secret cut in two is no longer recognised.
    report_any([judge_shapes([problem.line(run.redactor.excerpt) for problem in problems])])
    return f"{len(run.seen_bodies)} answer(s) match the documented shapes."
