"""network.*: can the identity server and the API gateway be reached over trusted TLS?"""

from __future__ import annotations

from urllib.parse import urlsplit

from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import check, fail, report
from sage200_doctor.http.sage import denial, status_phrase
from sage200_doctor.http.session import Answer
from sage200_doctor.rules.answers import judge_answered_in_between, unsigned_failure

UNSERVED_PATH = "/uk/sage200-doctor-no-such-api/"
"""A path no API is published on: API Management answers it itself (its JSON 404 "Resource
not found"), whatever state the site behind it is in."""


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}"


def _reachable(answer: Answer, what: str) -> str:
    if answer.problem is not None:
        fail(
            f"{what} cannot be reached: {answer.problem.sentence}",
            detail=f"kind: {answer.problem.kind}",
        )
    note = ""
    if answer.status is not None and 300 <= answer.status < 400:
        note = f" It redirects to {answer.headers.get('location', '?')} (not followed)."
    return f"{what} answered (HTTP {answer.status}) over a trusted connection.{note}"


def _discovery_url(run: Diagnosis) -> str:
    return _origin(run.settings.token_url) + "/.well-known/openid-configuration"


def _ask_discovery_ahead(run: Diagnosis) -> bool:
    return run.session.send_ahead(_discovery_url(run))


def _ask_api_root_ahead(run: Diagnosis) -> bool:
    return run.session.send_ahead(run.settings.api_base_url.strip())


@check(
    "network.identity",
    order=30,
    title="Identity server is reachable",
    verifies="the identity host resolves, connects and presents a trusted certificate",
    depends=("config.values",),
    guidance=("guide.network",),
    ahead=_ask_discovery_ahead,
)
def check_identity_host_is_reachable(run: Diagnosis) -> str:
    url = _discovery_url(run)
    answer = run.session.request("GET", url)
    if answer.ok and isinstance(answer.json, dict):
        run.discovery = answer.json
    return _reachable(answer, f"The identity server {urlsplit(url).netloc}")


@check(
    "network.api",
    order=40,
    title="API gateway is reachable",
    verifies="the API gateway host resolves, connects and presents a trusted certificate",
    depends=("config.values",),
    guidance=("guide.network",),
    ahead=_ask_api_root_ahead,
)
def check_api_host_is_reachable(run: Diagnosis) -> str:
    url = run.settings.api_base_url.strip()
    answer = run.session.request("GET", url)
    host = urlsplit(url).netloc
    summary = _reachable(answer, f"The API gateway {host}")
    if not unsigned_failure(answer):
        return summary
    # A 5xx nobody signed: a proxy's page, or the gateway's own answer for a site it cannot
    # reach (the Native API tunnel down). Only the gateway answers a path no API serves as
    # API Management does; whatever answers that instead stands in front of the gateway.
    probe = run.session.request("GET", _origin(url) + UNSERVED_PATH)
    if probe.problem is not None or denial(probe).layer == "unknown":
        evidence = f"and {UNSERVED_PATH}, which API Management answers itself, got "
        report(
            judge_answered_in_between(host, status_phrase(answer), evidence + status_phrase(probe))
        )
    return (
        f"The API gateway {host} answered over a trusted connection; the API root's "
        f"{status_phrase(answer)} came from behind the gateway, which answers for itself "
        f"({status_phrase(probe)} for a path no API serves)."
    )
