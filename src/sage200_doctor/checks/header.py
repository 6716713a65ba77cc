"""header.authorization: is the Authorization header exactly `Bearer` + one space + token?"""

from __future__ import annotations

from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import check, fail, report_any, warn
from sage200_doctor.engine.results import Substitute
from sage200_doctor.http.sage import status_phrase
from sage200_doctor.http.session import Answer
from sage200_doctor.rules.authorization import (
    bare_token,
    judge_well_formed,
    lint_authorization,
    refused_by_api,
)

BEARER_SPACE = ("faq.postman.bearer-space",)


def _ask_header_probes_ahead(run: Diagnosis) -> bool:
    if run.token is None:
        return False
    supplied = run.settings.authorization.reveal() if run.settings.authorization else None
    if supplied is not None and lint_authorization(supplied):
        run.get_ahead("sites", authorization=supplied, with_company=False)
    well_formed = "Bearer " + run.token.access_token.reveal()
    return run.get_ahead("sites", authorization=well_formed, with_company=False)


@check(
    "header.authorization",
    order=90,
    title="Authorization header is well-formed",
    verifies="the Authorization header is `Bearer` + one space + token; a supplied "
    "`SAGE200_AUTHORIZATION` is linted and tried",
    depends=("token.claims", "gateway.subscription_key"),
    guidance=BEARER_SPACE,
    ahead=_ask_header_probes_ahead,
)
def check_authorization_header_format(run: Diagnosis) -> str:
    assert run.token is not None
    well_formed = "Bearer " + run.token.access_token.reveal()
    supplied = run.settings.authorization.reveal() if run.settings.authorization else None
    issues = lint_authorization(supplied) if supplied is not None else []
    tried = run.get("sites", authorization=supplied, with_company=False) if issues else None
    good = run.get("sites", authorization=well_formed, with_company=False)
    _judge_well_formed(good)
    if supplied is None:
        accepted = "is accepted" if good.ok else "was not refused"
        return f"'Bearer <token>' {accepted} ({status_phrase(good)})."
    if issues:
        assert tried is not None
        _judge_malformed(run, issues, tried, good)
    if bare_token(supplied) != run.token.access_token.reveal():
        warn(
            "SAGE200_AUTHORIZATION is well-formed but carries a different token than the run uses.",
            detail="It was linted only; the run's own token was tried.",
        )
    return f"SAGE200_AUTHORIZATION is well-formed and accepted ({status_phrase(good)})."


def _judge_well_formed(answer: Answer) -> None:
    report_any([judge_well_formed(answer)])


def _judge_malformed(run: Diagnosis, issues: list[str], tried: Answer, good: Answer) -> None:
    listing = "; ".join(issues)
    if tried.problem is not None:
        fail(
            f"SAGE200_AUTHORIZATION is malformed ({listing}) and could not even be sent.",
            detail=f"{tried.problem.sentence} HTTP headers cannot carry line breaks.",
        )
    if refused_by_api(tried):
        if good.ok:
            # The well-formed header was accepted: the later checks send that one (they always
            # build their own), so they can still run and find what else is wrong.
            run.substitute(
                Substitute(
                    replaced="SAGE200_AUTHORIZATION as configured",
                    by="'Bearer <token>' with one space",
                    proof=f"GET sites with it answered HTTP {good.status}",
                    set_by="header.authorization",
                )
            )
        fail(
            f"SAGE200_AUTHORIZATION is malformed: {listing}.",
            detail=f"Sent as-is, the API answered {status_phrase(tried)}: the documented symptom. "
            f"Sent as 'Bearer <token>' (one space), the same request got HTTP {good.status}.",
        )
    warn(
        f"SAGE200_AUTHORIZATION is malformed ({listing}), although this server accepted it.",
        detail=f"Sent as-is: {status_phrase(tried)}. Other servers and proxies may refuse it.",
    )
