"""network.*: can the identity server and the API gateway be reached over trusted TLS?"""

from __future__ import annotations

from urllib.parse import urlsplit

from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import check, fail
from sage200_doctor.http.session import Answer


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
    return _reachable(answer, f"The API gateway {urlsplit(url).netloc}")
