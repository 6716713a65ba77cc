"""`--run`: what the answer to one of the collection's GET requests means, by the same rules a live
run and the triage of a capture use (`rules/`): the gateway's verdict on the subscription key,
the Authorization header's shape, a refused query, then what the data call's status means.

Which live check a request's answer is filed under follows what it asked for: GET sites under
`sites.list`, customers under `customers.list`, any other resource under `api.resources`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from sage200_doctor.http.answer import Answer
from sage200_doctor.http.sage import status_phrase
from sage200_doctor.rules import Judgement
from sage200_doctor.rules.answers import judge_data_answer, judge_gateway_key
from sage200_doctor.rules.authorization import judge_sent_header
from sage200_doctor.rules.query import judge_query_refused
from sage200_doctor.rules.sites import judge_selection, judge_sites_body, pairs_of

from .model import ResolvedRequest
from .sage import resource_of

CHECK_OF_RESOURCE: Final = {"sites": "sites.list", "customers": "customers.list"}
OTHER_RESOURCES: Final = "api.resources"


def check_of(request: ResolvedRequest) -> str:
    """The live check whose question this request's answer answers."""
    return CHECK_OF_RESOURCE.get(resource_of(request.url), OTHER_RESOURCES)


def judge_answer(
    request: ResolvedRequest, answer: Answer, sent: Mapping[str, str]
) -> list[Judgement]:
    """Everything the answer says is wrong ([] when it is a good answer). `sent`: the headers
    that went out."""
    authorization = header_value(sent, "Authorization")
    header = judge_sent_header(authorization, answer) if authorization is not None else None
    if answer.ok:
        return [j for j in (header, _judge_body(request, answer)) if j is not None]
    key = judge_gateway_key(
        answer, key_sent=bool(header_value(sent, "ocp-apim-subscription-key")), live=False
    )
    pairs = [(pair.key, pair.value) for pair in request.query]
    refused = judge_query_refused(answer.status, status_phrase(answer), pairs)
    for judgement in (key, header if header and header.outcome == "failed" else None, refused):
        if judgement is not None:
            return [judgement]
    what = f"GET {resource_of(request.url) or 'the request'}"
    data = judge_data_answer(answer, what, check=check_of(request))
    return [data] if header is None else [header, data]


def judge_sites_selection(sites_bodies: list[Any], site: str, company: str) -> Judgement | None:
    """Whether the X-Site / X-Company a request sent is a pair some GET sites answer listed."""
    pairs = [pair for body in sites_bodies for pair in pairs_of(body)]
    return judge_selection(pairs, site, company) if pairs else None


def _judge_body(request: ResolvedRequest, answer: Answer) -> Judgement | None:
    """GET sites must answer a list with at least one site (as the live sites.list requires)."""
    if not urlsplit(request.url).path.rstrip("/").endswith("/sites"):
        return None
    return judge_sites_body(answer)


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """The last header of that name (case-insensitive), or None."""
    wanted = name.lower()
    found = [value for key, value in headers.items() if key.lower() == wanted]
    return found[-1] if found else None
