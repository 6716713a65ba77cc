"""sites.*: does GET sites list the user's sites, and is the configured X-Site/X-Company among them?"""

from __future__ import annotations

from typing import NoReturn

from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import check, fail, report, report_any, warn
from sage200_doctor.engine.results import Substitute
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
    stand_in,
)

__all__ = ["EDITION_OF_SEGMENT", "SETUP", "explain_http_failure"]


def explain_http_failure(run: Diagnosis, answer: Answer, what: str, *, check: str) -> NoReturn:
    """The meaning of a failed data call (rules/answers.py); for a 404, the other edition's path
    is probed first, since a site answering there says which edition it is."""
    hint = _other_edition_hint(run, check) if answer.status == 404 else None
    report(judge_data_answer(answer, what, check=check, not_found_hint=hint))


def _other_edition_hint(run: Diagnosis, check: str) -> str | None:
    base = run.api_base_url.strip()
    for segment, other in OTHER_SEGMENT.items():
        if segment in base:
            other_base = base.replace(segment, other)
            probe = run.session.request(
                "GET", endpoint(other_base, "sites"), headers=run.api_headers(with_company=False)
            )
            if probe.status is None or probe.status == 404:
                return None
            edition = EDITION_OF_SEGMENT[other]
            if check == "sites.list" and probe.ok and isinstance(probe.json, list) and probe.json:
                _carry_on_at(run, other_base, probe, edition)
            return other_edition_hint(other, probe.status)
    return None


def _carry_on_at(run: Diagnosis, other_base: str, probe: Answer, edition: str) -> None:
    """The other edition's path listed the sites: the run carries on there."""
    run.api_base_override = other_base
    run.sites = [entry for entry in probe.json if isinstance(entry, dict)]
    run.seen_bodies.append(("sites", probe.url, probe.json))
    run.substitute(
        Substitute(
            replaced=f"the {_edition_of(run.settings.api_base_url)} path",
            by=f"the {edition} path ({other_base})",
            proof=f"GET sites there answered HTTP {probe.status} with {len(run.sites)} entries",
            set_by="sites.list",
        )
    )


def _edition_of(base: str) -> str:
    return next((e for seg, e in EDITION_OF_SEGMENT.items() if seg in base), "configured")


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
        _carry_on_with_a_listed_pair(run, pairs, site, company)
        report(judgement)
    match = find_pair(pairs, site, company)
    assert match is not None
    run.site_id, run.company_id = match.site, match.company
    return f"X-Site and X-Company name {match.names}."


def _carry_on_with_a_listed_pair(
    run: Diagnosis, pairs: list[Pair], site: str, company: str
) -> None:
    """The configured pair is not listed: carry on with a listed pair of the configured site
    (or the only pair there is), which GET sites itself proved the user can see."""
    pair = stand_in(pairs, site)
    if pair is None:
        return
    run.site_id, run.company_id = pair.site, pair.company
    run.substitute(
        Substitute(
            replaced=f"X-Site {site} / X-Company {company}",
            by=f"X-Site {pair.site} / X-Company {pair.company} ({pair.names})",
            proof="GET sites lists that pair for this user",
            set_by="sites.selection",
        )
    )
