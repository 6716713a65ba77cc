"""sites.*: does GET sites list the user's sites, and is the configured X-Site/X-Company among them?"""

from __future__ import annotations

from typing import Any

from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import check, fail, warn
from sage200_doctor.http.sage import endpoint, likely_meaning, status_phrase
from sage200_doctor.http.session import Answer

SETUP = ("faq.setup.configure", "faq.setup.contact")
EDITION_SEGMENTS = {"/uk/sage200/": "/uk/sage200extra/", "/uk/sage200extra/": "/uk/sage200/"}
EDITION_OF_SEGMENT = {"/uk/sage200/": "standard", "/uk/sage200extra/": "professional"}


def explain_http_failure(run: Diagnosis, answer: Answer, what: str) -> None:
    """The meaning of a failed data call, by status: shared by sites and customers checks."""
    said = status_phrase(answer)
    if answer.problem is not None:
        fail(f"{what} got no answer: {answer.problem.sentence}", guidance=("guide.network",))
    if answer.status == 401:
        fail(
            f"{what} was denied ({said}).",
            detail="The token was not accepted for this request: it expired, or X-Site / "
            "X-Company are missing, invalid or not accessible to the signed-in user.",
            guidance=("faq.errors.401", "faq.postman.site-company"),
        )
    if answer.status == 403:
        fail(
            f"{what} was forbidden ({said}).",
            detail="The signed-in user's role lacks the module behind this endpoint "
            "(customers need Sales Ledger).",
            guidance=("faq.errors.403",),
        )
    if answer.status == 404:
        _explain_not_found(run, answer, what)
    if answer.status == 429:
        fail(
            f"{what} stayed rate-limited after waiting as asked ({said}).",
            detail="Try again later; the gateway limits how many calls a subscription may make.",
            guidance=("faq.postman.subscription-key",),
        )
    if answer.status is not None and answer.status >= 500:
        fail(
            f"{what} failed on the server side ({said}).",
            detail=likely_meaning(answer),
            guidance=SETUP,
        )
    fail(
        f"{what} answered unexpectedly ({said}).",
        detail=likely_meaning(answer),
        guidance=("faq.errors.404",),
    )


def _explain_not_found(run: Diagnosis, answer: Answer, what: str) -> None:
    base = run.settings.api_base_url.strip()
    hint = "Compare the URL with the API reference; the endpoint may not exist in this version."
    for segment, other in EDITION_SEGMENTS.items():
        if segment in base:
            probe = run.session.request(
                "GET",
                endpoint(base.replace(segment, other), "sites"),
                headers=run.api_headers(with_company=False),
            )
            if probe.status is not None and probe.status != 404:
                edition = EDITION_OF_SEGMENT[other]
                hint = (
                    f"The {edition} path {other} answers (HTTP {probe.status}): this looks like a "
                    f"{edition} site. Set SAGE200_EDITION={edition} and remove SAGE200_API_BASE_URL "
                    "or point it at that path."
                )
            break
    fail(
        f"{what} was not found ({status_phrase(answer)}).",
        detail=hint,
        guidance=("faq.errors.404",),
    )


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
        explain_http_failure(run, answer, "GET sites")
    body = answer.json
    if not isinstance(body, list):
        fail(
            f"GET sites answered HTTP {answer.status} with {answer.describe_body()}, not a list.",
            detail=likely_meaning(answer),
            guidance=("faq.errors.404",),
        )
    run.seen_bodies.append(("sites", answer.url, body))
    if not body:
        fail(
            "GET sites answered an empty list: no site is available to this user through the API.",
            detail="On Standard, the user is not enabled for API access on any site. On Professional, "
            "the API was never set up or the Native API tunnel was lost (reinstall it).",
        )
    entries = [entry for entry in body if isinstance(entry, dict)]
    run.sites = entries
    run.facts["sites and companies"] = len(entries)
    names = sorted({str(entry.get("site_name", "?")) for entry in entries})
    return f"{len(entries)} company entr{'y' if len(entries) == 1 else 'ies'} on {len(names)} site(s): {', '.join(names)}."


def _pairs(sites: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (
            str(s.get("site_id", "")),
            str(s.get("company_id", "")),
            f"{s.get('site_name', '?')} / {s.get('company_name', '?')}",
        )
        for s in sites
    ]


def _listing(pairs: list[tuple[str, str, str]]) -> str:
    return "\n".join(
        f"X-Site {site}  X-Company {company}  ({names})" for site, company, names in pairs
    )


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
    pairs = _pairs(run.sites)
    site = (run.settings.site_id or "").strip().lower()
    company = (run.settings.company_id or "").strip()
    if site and company:
        return _confirm_configured(run, pairs, site, company)
    candidates = [p for p in pairs if not site or p[0].lower() == site]
    if len(candidates) == 1:
        run.site_id, run.company_id = candidates[0][0], candidates[0][1]
        warn(
            f"No X-Site/X-Company pair is configured; using the only one visible: {candidates[0][2]}.",
            detail=f"Pin it: SAGE200_SITE_ID={run.site_id} and SAGE200_COMPANY_ID={run.company_id}.",
        )
    fail(
        "SAGE200_SITE_ID and SAGE200_COMPANY_ID are not both set and several companies are visible.",
        detail="Choose one of:\n" + _listing(candidates or pairs),
    )


def _confirm_configured(
    run: Diagnosis, pairs: list[tuple[str, str, str]], site: str, company: str
) -> str:
    on_site = [p for p in pairs if p[0].lower() == site]
    if not on_site:
        fail(
            f"X-Site {site} is not one of the sites this user can see.",
            detail="The sites list has:\n" + _listing(pairs),
        )
    match = [p for p in on_site if p[1] == company]
    if not match:
        fail(
            f"X-Company {company} is not a company of site {on_site[0][2].split(' / ')[0]}.",
            detail="That site's companies are:\n" + _listing(on_site),
        )
    run.site_id, run.company_id = match[0][0], match[0][1]
    return f"X-Site and X-Company name {match[0][2]}."
