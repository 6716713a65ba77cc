"""What the lint examined: for each check it files findings under, whether the collection gave it
something to judge. Where nothing was found, such a check has passed (with the sentence here);
where the collection says nothing about it (no `$filter` anywhere, no OAuth 2.0 settings), it
is skipped, so a report never claims a pass for something nobody looked at.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from urllib.parse import unquote

from sage200_doctor.engine.results import Outcome

from .lint import WRITES_CHECK
from .model import ResolvedRequest
from .sage import company_scoped, is_sage_api

Fine = dict[str, tuple[Outcome, str]]

NO_API: Final = "No request goes to the Sage 200 API, so there was nothing to judge."
LINT_CHECKS: Final = (
    "config.complete",
    "config.values",
    "gateway.subscription_key",
    "token.claims",
    "token.scope",
    "header.authorization",
    "sites.selection",
    "customers.filter",
    "customers.query_conformance",
    WRITES_CHECK,
)


def lint_coverage(requests: Sequence[ResolvedRequest], *, api_base_url: str | None) -> Fine:
    """Passed or skipped, and why, for every check the lint files findings under (the findings
    themselves override these)."""
    sage = [request for request in requests if is_sage_api(request.url, api_base_url)]
    if not sage:
        return {check: (Outcome.SKIPPED, NO_API) for check in LINT_CHECKS}
    oauth = any(request.auth is not None and request.auth.type == "oauth2" for request in sage)
    options = {_option(pair.key) for request in sage for pair in request.query}
    return {
        "config.complete": _if(oauth, "The OAuth 2.0 settings name a Client ID.", _NO_OAUTH),
        "config.values": _passed(
            f"The {len(sage)} Sage 200 API request(s) have well-formed URLs, edition paths, "
            "X-Site / X-Company values and OAuth 2.0 settings, with every variable defined."
        ),
        "gateway.subscription_key": _passed(
            "Every request sends the ocp-apim-subscription-key header."
        ),
        "token.claims": _if(
            oauth, "The sign-in asks for the audience s200ukipd/sage200.", _NO_OAUTH
        ),
        "token.scope": _if(oauth, "The scope includes offline_access.", _NO_OAUTH),
        "header.authorization": _passed(
            "Every request sends its token as 'Bearer' + one space + the token."
        ),
        "sites.selection": _if(
            any(company_scoped(request.url) for request in sage),
            "Every company-scoped request sends X-Site and X-Company.",
            "No request needs X-Site / X-Company (only GET sites is called).",
        ),
        "customers.filter": _if(
            "$filter" in options,
            "Every $filter is well-formed (straight single quotes, apostrophes doubled).",
            "No request uses $filter.",
        ),
        "customers.query_conformance": _if(
            any(option.startswith("$") for option in options),
            "The query options are used as Sage's query guide documents them.",
            "No request uses OData query options.",
        ),
        WRITES_CHECK: _passed(
            f"All {len(sage)} Sage 200 API request(s) are GETs: nothing writes to the accounts."
        ),
    }


_NO_OAUTH: Final = (
    "The collection has no OAuth 2.0 settings to examine (its token is typed or set elsewhere)."
)


def _option(name: str) -> str:
    return unquote(name).strip().lower()


def _passed(summary: str) -> tuple[Outcome, str]:
    return Outcome.PASSED, summary


def _if(examined: bool, passed: str, skipped: str) -> tuple[Outcome, str]:
    return (Outcome.PASSED, passed) if examined else (Outcome.SKIPPED, skipped)
