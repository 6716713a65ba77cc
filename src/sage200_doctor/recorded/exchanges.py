"""A recorded exchange as the rules see it: an `Answer`, and where in the API its request went.

The rules judge `Answer`s (status, headers, body, or the network problem that stopped one), so a
capture's exchanges become Answers here. What the tools record instead of an answer (Chrome's
`_error`, `net::ERR_NAME_NOT_RESOLVED`) becomes the `NetworkProblem` a live run would have met.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sage200_doctor import catalogue
from sage200_doctor.http.answer import Answer
from sage200_doctor.http.network import NetworkProblem, host_of
from sage200_doctor.redact import Redactor
from sage200_doctor.rules.sites import EDITION_OF_SEGMENT

from .model import RecordedExchange

_API_ROOT = re.compile(r"/accounts/v\d+/", re.IGNORECASE)
_BROWSER_ERRORS = (
    ("NAME_NOT_RESOLVED", "dns", "The host name {host} could not be resolved (DNS)"),
    ("CONNECTION_REFUSED", "refused", "{host} refused the connection"),
    ("TIMED_OUT", "connect-timeout", "Connecting to {host} timed out"),
    ("CERT", "tls-untrusted", "{host}'s certificate was not trusted"),
    ("SSL", "tls-untrusted", "The TLS connection to {host} failed"),
    ("PROXY", "proxy", "The proxy refused or failed the connection to {host}"),
    ("TUNNEL", "proxy", "The proxy refused or failed the connection to {host}"),
    ("BLOCKED", "blocked", "The browser blocked the request to {host} (an extension or policy)"),
    ("INTERNET_DISCONNECTED", "offline", "The machine was offline"),
)


@dataclass(frozen=True)
class ApiPath:
    """Where an API request went: the edition path, the base, the collection and the rest."""

    base: str
    """`scheme://host/…/accounts/v1/`, or the whole path when it has no `/accounts/vN/`."""
    edition_segment: str | None
    """`/uk/sage200/` or `/uk/sage200extra/` when the path holds one."""
    resource: str | None
    """The collection (`customers`), lower-cased; None for the API root itself."""
    rest: str = ""
    """What follows the collection (`27825` in `customers/27825`)."""

    @property
    def edition(self) -> str | None:
        return EDITION_OF_SEGMENT.get(self.edition_segment or "")

    @property
    def published(self) -> bool:
        """The path is under an API's root (`…/accounts/vN/`); API Management answers any
        other path itself."""
        return _API_ROOT.search(self.base) is not None

    @property
    def company_scoped(self) -> bool:
        """Everything but GET sites needs X-Site and X-Company."""
        return self.resource is not None and self.resource != "sites"

    @property
    def module(self) -> str | None:
        """The module's title from Sage's reference (`Sales Ledger`), None when not catalogued."""
        known = catalogue.module_of_path(f"{_API_PREFIX}{self.resource or ''}")
        return catalogue.module(known.module).title if known else None

    def label(self, query: str = "") -> str:
        """`GET customers/27825?$top=1`, for sentences."""
        path = "/".join(part for part in (self.resource or "", self.rest) if part) or "/"
        return f"{path}?{query}" if query else path


_API_PREFIX = "/accounts/v1/"


def api_path(url: str) -> ApiPath:
    parts = urlsplit(url)
    path = parts.path or "/"
    origin = f"{parts.scheme}://{parts.netloc}"
    segment = next((s for s in EDITION_OF_SEGMENT if s in path.lower()), None)
    root = _API_ROOT.search(path)
    if root is None:
        return ApiPath(origin + path, segment, None)
    after = path[root.end() :].strip("/")
    resource, _, rest = after.partition("/")
    return ApiPath(origin + path[: root.end()], segment, resource.lower() or None, rest)


def answer_of(exchange: RecordedExchange, redactor: Redactor | None = None) -> Answer:
    """The `Answer` a live run would have had for this exchange."""
    response = exchange.response
    return Answer(
        url=exchange.request.url,
        status=response.status,
        headers=dict(response.headers),
        text=response.body or "",
        truncated=response.body_truncated,
        elapsed_ms=exchange.elapsed_ms or 0.0,
        problem=None if exchange.answered else problem_of(exchange),
        redactor=redactor,
    )


def problem_of(exchange: RecordedExchange) -> NetworkProblem:
    """Why the capture holds no answer, as a network problem for people."""
    host = host_of(exchange.request.url)
    error = (exchange.error or "").strip()
    if not error:
        return NetworkProblem(
            "no-response",
            f"The capture holds no answer from {host} for this request (the tool recorded "
            "none: it was aborted, blocked, or still waiting when the capture was saved).",
        )
    for marker, kind, sentence in _BROWSER_ERRORS:
        if marker in error.upper():
            return NetworkProblem(kind, f"{sentence.format(host=host)} ({error[:80]}).")
    return NetworkProblem("other", f"{host} gave no answer in the capture ({error[:80]}).")
