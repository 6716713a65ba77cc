"""GET sites and the X-Site / X-Company pair: is the pair one the user can see?

The sites list answers one entry per company (`site_id`, `site_name`, `company_id`,
`company_name`); a request's X-Site / X-Company must name one of them (FAQ: get them from
GET sites). Used by the live checks and by the triage of captures that hold a GET sites answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sage200_doctor.http.answer import Answer
from sage200_doctor.http.sage import likely_meaning
from sage200_doctor.rules import Judgement

SITE_COMPANY = ("faq.postman.site-company",)
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
"""The shape of a site_id (X-Site): a GUID, as GET sites lists it."""
SETUP = ("faq.setup.configure", "faq.setup.contact")


@dataclass(frozen=True)
class Pair:
    """One company of one site, as GET sites lists it."""

    site: str
    company: str
    names: str
    """`site name / company name`, for people."""


def pairs_of(sites: list[dict[str, Any]]) -> list[Pair]:
    return [
        Pair(
            str(s.get("site_id", "")),
            str(s.get("company_id", "")),
            f"{s.get('site_name', '?')} / {s.get('company_name', '?')}",
        )
        for s in sites
        if isinstance(s, dict)
    ]


def listing(pairs: list[Pair]) -> str:
    return "\n".join(f"X-Site {p.site}  X-Company {p.company}  ({p.names})" for p in pairs)


def find_pair(pairs: list[Pair], site: str, company: str) -> Pair | None:
    """The listed pair (site ids compare case-insensitively, as .NET parses GUIDs)."""
    site = site.strip().lower()
    return next((p for p in pairs if p.site.lower() == site and p.company == company.strip()), None)


def judge_selection(pairs: list[Pair], site: str, company: str) -> Judgement | None:
    """Why the pair is not usable, or None when GET sites lists it."""
    site = site.strip().lower()
    company = company.strip()
    if find_pair(pairs, site, company) is not None:
        return None
    on_site = [p for p in pairs if p.site.lower() == site]
    if not on_site:
        return Judgement(
            "sites.selection",
            "failed",
            f"X-Site {site} is not one of the sites this user can see.",
            "The sites list has:\n" + listing(pairs),
            SITE_COMPANY,
        )
    return Judgement(
        "sites.selection",
        "failed",
        f"X-Company {company} is not a company of site {on_site[0].names.split(' / ')[0]}.",
        "That site's companies are:\n" + listing(on_site),
        SITE_COMPANY,
    )


def stand_in(pairs: list[Pair], site: str) -> Pair | None:
    """A listed pair to carry on with when the configured one is not listed: the first company
    of the configured site, else the only pair there is. None when the list leaves it open
    (the site is not listed and several pairs are): then nothing is guessed."""
    on_site = [p for p in pairs if p.site.lower() == site.strip().lower()]
    if on_site:
        return on_site[0]
    return pairs[0] if len(pairs) == 1 else None


# --- GET sites and the edition path -------------------------------------------------------------

EDITION_OF_SEGMENT = {"/uk/sage200/": "standard", "/uk/sage200extra/": "professional"}
"""The edition each API path segment serves."""
OTHER_SEGMENT = {"/uk/sage200/": "/uk/sage200extra/", "/uk/sage200extra/": "/uk/sage200/"}


def judge_sites_body(answer: Answer) -> Judgement | None:
    """A 2xx answer to GET sites that lists no site, or is not a list at all."""
    body = answer.json
    if not isinstance(body, list):
        return Judgement(
            "sites.list",
            "failed",
            f"GET sites answered HTTP {answer.status} with {answer.describe_body()}, not a list.",
            likely_meaning(answer),
            ("faq.errors.404",),
        )
    if not body:
        return Judgement(
            "sites.list",
            "failed",
            "GET sites answered an empty list: no site is available to this user through the API.",
            "On Standard, the user is not enabled for API access on any site. On Professional, "
            "the API was never set up or the Native API tunnel was lost (reinstall it).",
            SETUP,
        )
    return None


def other_edition_hint(other_segment: str, status: int, *, fix: str | None = None) -> str:
    """What a site answering on the other edition's path (`other_segment`, with a status other
    than 404) means, for the detail of a 404. `fix`: how to point the client at that path
    (default: sage200-doctor's own settings)."""
    edition = EDITION_OF_SEGMENT[other_segment]
    fix = fix or (
        f"Set SAGE200_EDITION={edition} and remove SAGE200_API_BASE_URL or point it at that path."
    )
    return (
        f"The {edition} path {other_segment} answers (HTTP {status}): this looks like a "
        f"{edition} site. {fix}"
    )
