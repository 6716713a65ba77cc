"""api.resources: can this company's data be read in every module the integration uses?

Before go-live, the usual surprise is one module: a 403 because the API user's role lacks it, or
a 404 because the endpoint is Professional-only or newer than the customer's on-premise version.
One `GET {resource}?$top=1` per resource, all sent at once, judged by `rules.resources`; the
matrix is kept as facts. Resources listed in SAGE200_RESOURCES must be readable; without a list
one representative per module is read and reported (a warning at most).
"""

from __future__ import annotations

from collections import Counter

from sage200_doctor import catalogue
from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import check, fail, warn
from sage200_doctor.rules.resources import ResourceReading, read

from .sites import EDITION_OF_SEGMENT

TOP_ONE = {"$top": "1"}
NO_MODULE = "unknown"
"""The module key in the facts for a name Sage's reference does not have."""


def _wanted(run: Diagnosis) -> tuple[str, ...]:
    listed = run.settings.resources
    return listed or tuple(entry.name for entry in catalogue.representatives())


def _ask_ahead(run: Diagnosis) -> bool:
    names = _wanted(run)
    if not run.get_ahead(names[0], params=TOP_ONE):
        return False  # no token or company yet (all share the headers), or one at a time
    for name in names[1:]:
        run.get_ahead(name, params=TOP_ONE)
    return True


# Order 145: after the customers checks (120-140), so that when customers are forbidden the
# contract's customers.list stays the root cause, and before api.schema (150). It depends on
# sites.selection, not customers.list: a 403 on customers (Sales Ledger) must not hide SOP or
# stock, and a token plus a confirmed X-Site/X-Company are all these GETs need.
@check(
    "api.resources",
    order=145,
    title="The modules the integration uses are readable",
    verifies="one GET of each resource in SAGE200_RESOURCES (else of one representative per "
    "module) answers 200; a 403 names the module and the role setting, a 404 says whether the "
    "endpoint is Professional-only, newer than the site, or unknown",
    depends=("sites.selection",),
    guidance=("faq.errors.403", "faq.errors.404"),
    ahead=_ask_ahead,
)
def check_resources_are_readable(run: Diagnosis) -> str:
    names = _wanted(run)
    for name in names:  # one wave, also when nothing was sent ahead for this check yet
        if not run.was_sent_ahead(name, params=TOP_ONE):
            run.get_ahead(name, params=TOP_ONE)
    edition = _edition(run)
    readings = [read(name, run.get(name, params=TOP_ONE), edition=edition) for name in names]
    run.facts["resources"] = [reading.fact() for reading in readings]
    run.facts["modules"] = _per_module(readings)
    unreadable = [reading for reading in readings if not reading.readable]
    if run.settings.resources:
        return _judge_listed(readings, unreadable)
    return _report_representatives(readings, unreadable)


def _edition(run: Diagnosis) -> str | None:
    """The configured edition, else the one the base URL's path names (None: neither)."""
    if run.settings.edition in ("standard", "professional"):
        return run.settings.edition
    base = run.settings.api_base_url
    return next((ed for segment, ed in EDITION_OF_SEGMENT.items() if segment in base), None)


def _per_module(readings: list[ResourceReading]) -> dict[str, dict[str, int]]:
    """Module key → outcome → how many resources; the compact form of the matrix."""
    summary: dict[str, Counter[str]] = {}
    for reading in readings:
        summary.setdefault(reading.module or NO_MODULE, Counter())[reading.outcome] += 1
    return {module: dict(sorted(counts.items())) for module, counts in summary.items()}


def _judge_listed(readings: list[ResourceReading], unreadable: list[ResourceReading]) -> str:
    if unreadable:
        fail(
            f"{len(unreadable)} of {len(readings)} listed resource(s) cannot be read: "
            f"{_named(unreadable)}.",
            detail=_lines(unreadable),
            guidance=_guidance(unreadable),
        )
    return f"All {len(readings)} listed resource(s) are readable: {_modules_of(readings)}."


def _report_representatives(
    readings: list[ResourceReading], unreadable: list[ResourceReading]
) -> str:
    if unreadable:
        warn(
            f"{len(unreadable)} of {len(readings)} modules cannot be read: {_named(unreadable)} "
            "(a warning only: SAGE200_RESOURCES does not list what the integration reads).",
            detail=_lines(unreadable)
            + "\nList the resources your integration reads in SAGE200_RESOURCES to make this "
            "a go-live gate.",
            guidance=_guidance(unreadable),
        )
    return (
        f"One resource per module read (SAGE200_RESOURCES lists none): all {len(readings)} "
        "modules are readable."
    )


def _named(readings: list[ResourceReading]) -> str:
    return ", ".join(f"{r.label} {r.outcome.replace('-', ' ')}" for r in readings)


def _lines(readings: list[ResourceReading]) -> str:
    return "\n".join(f"{r.label}: {r.reason}" for r in readings)


def _modules_of(readings: list[ResourceReading]) -> str:
    titles = [catalogue.module(r.module).title if r.module else NO_MODULE for r in readings]
    return ", ".join(dict.fromkeys(titles))


def _guidance(readings: list[ResourceReading]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(g for reading in readings for g in reading.guidance))
