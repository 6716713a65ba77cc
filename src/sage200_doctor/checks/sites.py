"""sites.*: does GET sites list the user's sites, and is the configured X-Site/X-Company among them?"""

from __future__ import annotations

from typing import NoReturn

from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import check, fail, report, report_any, warn
from sage200_doctor.http.sage import endpoint
from sage200_doctor.http.session import Answer
from sage200_doctor.rules.answers import judge_data_answer
from sage200_doctor.rules.sites import (
    EDITION_OF_SEGMENT,
    OTHER_SEGMENT,
    SETUP,
    Pair,
    find_pair,
    judge_selection,
    judge_sites_body,
    listing,
    other_edition_hint,
    pairs_of,
)

__all__ = ["EDITION_OF_SEGMENT", "SETUP", "explain_http_failure"]


def explain_http_failure(run: Diagnosis, answer: Answer, what: str, *, check: str) -> NoReturn:
    """The meaning of a failed data call (rules/answers.py); for a 404, the other edition's path
    is probed first, since a site answering there says which edition it is."""
    hint = _other_edition_hint(run) if answer.status == 404 else None
    report(judge_data_answer(answer, what, check=check, not_found_hint=hint))


def _other_edition_hint(run: Diagnosis) -> str | None:
    base = run.settings.api_base_url.strip()
    for segment, other in OTHER_SEGMENT.items():
        if segment in base:
            probe = run.session.request(
                "GET",
                endpoint(base.replace(segment, other), "sites"),
                headers=run.api_headers(with_company=False),
            )
            if probe.status is not None and probe.status != 404:
                return other_edition_hint(other, probe.status)
            return None
    return None


def _ask_sites_ahead(run: Diagnosis) -> bool:
    return run.get_ahead("sites", with_company=False)


@check(
    "sites.list",
    order=100,
    title="GET sites lists at least one site",
    verifies="GET sites answers 200 with at least one site",
    depends=("header.authorization",),
    guidance=SETUP,
    ahead=_ask_sites_ahead,
)
def check_sites_are_listed(run: Diagnosis) -> str:
    answer = run.get("sites", with_company=False)
    if not answer.ok:
        explain_http_failure(run, answer, "GET sites", check="sites.list")
    body = answer.json
    if isinstance(body, list):
        run.seen_bodies.append(("sites", answer.url, body))
    report_any([judge_sites_body(answer)])
    assert isinstance(body, list)
    entries = [entry for entry in body if isinstance(entry, dict)]
    run.sites = entries
    run.facts["sites and companies"] = len(entries)
    names = sorted({str(entry.get("site_name", "?")) for entry in entries})
    return f"{len(entries)} company entr{'y' if len(entries) == 1 else 'ies'} on {len(names)} site(s): {', '.join(names)}."


@check(
    "sites.selection",
    order=110,
    title="X-Site / X-Company are in the sites list",
    verifies="the configured X-Site / X-Company pair appears in the sites list",
    depends=("sites.list",),
    guidance=("faq.postman.site-company",),
)
def check_site_and_company_are_listed(run: Diagnosis) -> str:
    assert run.sites is not None
    pairs = pairs_of(run.sites)
    site = (run.settings.site_id or "").strip().lower()
    company = (run.settings.company_id or "").strip()
    if site and company:
        return _confirm_configured(run, pairs, site, company)
    candidates = [p for p in pairs if not site or p.site.lower() == site]
    if len(candidates) == 1:
        run.site_id, run.company_id = candidates[0].site, candidates[0].company
        warn(
            f"No X-Site/X-Company pair is configured; using the only one visible: {candidates[0].names}.",
            detail=f"Pin it: SAGE200_SITE_ID={run.site_id} and SAGE200_COMPANY_ID={run.company_id}.",
        )
    fail(
        "SAGE200_SITE_ID and SAGE200_COMPANY_ID are not both set and several companies are visible.",
        detail="Choose one of:\n" + listing(candidates or pairs),
    )


def _confirm_configured(run: Diagnosis, pairs: list[Pair], site: str, company: str) -> str:
    judgement = judge_selection(pairs, site, company)
    if judgement is not None:
        report(judgement)
    match = find_pair(pairs, site, company)
    assert match is not None
    run.site_id, run.company_id = match.site, match.company
    return f"X-Site and X-Company name {match.names}."
