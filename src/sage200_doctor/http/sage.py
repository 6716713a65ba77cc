"""Facts about Sage 200 answers that several checks need: who said no, and what they said.

The checks rely on documented behaviour only: HTTP status codes, the documented error strings
and body shapes (API Management answers `statusCode`/`message`; the Sage 200 Web API answers
`Message`), never on an emulator's incidental wording.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urljoin

from sage200_doctor.http.session import Answer

DENIED = "Authorization has been denied for this request."
"""The Sage 200 Web API's documented answer to a malformed or unacceptable Authorization header."""


@dataclass(frozen=True)
class Denial:
    """Who refused a request: the gateway (API Management) or the Sage 200 API behind it."""

    layer: str  # "gateway" | "api" | "unknown"
    message: str

    @property
    def about_subscription_key(self) -> bool:
        return self.layer == "gateway" and "subscription key" in self.message.lower()

    @property
    def key_missing(self) -> bool:
        return self.about_subscription_key and "missing" in self.message.lower()

    @property
    def key_invalid(self) -> bool:
        return self.about_subscription_key and "invalid" in self.message.lower()


def denial(answer: Answer) -> Denial:
    body: Any = answer.json
    if isinstance(body, dict):
        if "statusCode" in body and isinstance(body.get("message"), str):
            return Denial("gateway", body["message"])
        if isinstance(body.get("Message"), str):
            return Denial("api", body["Message"])
    return Denial("unknown", answer.excerpt(200))


def endpoint(base_url: str, path: str) -> str:
    base = base_url if base_url.endswith("/") else base_url + "/"
    return urljoin(base, path)


def api_message(answer: Answer) -> str | None:
    body: Any = answer.json
    if isinstance(body, dict):
        for key in ("Message", "message", "error_description"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return None


def status_phrase(answer: Answer) -> str:
    """'HTTP 401 with "Authorization has been denied…"' or the network problem, for findings."""
    if answer.problem is not None:
        return answer.problem.sentence
    if answer.status is not None and 300 <= answer.status < 400:
        # Never followed: a redirect on an API call means a wrong URL or something in the way.
        target = answer.headers.get("location", "somewhere unnamed")
        return f"HTTP {answer.status}, a redirect to {target} (not followed)"
    status = _status_label(answer.status)
    message = api_message(answer)
    said = f'"{message}"' if message else answer.describe_body()
    return f"{status} with {said}{_waited(answer)}"


def _status_label(status: int | None) -> str:
    """'HTTP 503 Service Unavailable' for the statuses whose name says more than the number."""
    if status is not None and (status >= 500 or status == 429):
        with contextlib.suppress(ValueError):
            return f"HTTP {status} {HTTPStatus(status).phrase}"
    return f"HTTP {status}"


def _waited(answer: Answer) -> str:
    if answer.status != 429 or not answer.retries:
        return ""
    tries = "retry" if answer.retries == 1 else "retries"
    return f", still after {answer.retries} {tries} and {answer.waited_s:.0f} s of waiting as Retry-After asked"


_MEANINGS = {
    429: "A 429 means too many requests in a short time: the gateway limits how many calls a "
    "subscription may make. Wait a few minutes and try again; if it keeps happening, ask "
    "Developer Services about the subscription's limits.",
    500: "A 500 is an unhandled error inside the service that answered (the Sage 200 API or Sage "
    "ID), not a problem with the request's settings. If it persists, Sage support can trace it "
    "from the time of the request.",
    502: "A 502 means a gateway or proxy in the way got no usable answer from the service behind "
    "it (for API calls on Professional: the Native API tunnel or the Sage 200 server may be "
    "down); a proxy's own error page points at the proxy.",
    503: "A 503 means the service is unavailable or overloaded right now, usually briefly: try "
    "again in a few minutes; if it persists, check Sage's service status.",
    504: "A 504 means the gateway gave up waiting for the site behind it: on Professional the "
    "Native API tunnel is down or the Sage 200 server is off or too slow to answer.",
}
_REDIRECT_MEANING = (
    "sage200-doctor never follows redirects, so credentials are never sent on to another place. "
    "A redirect here usually means a wrong URL (http instead of https, an old or shortened path) "
    "or a proxy, captive portal or sign-in page intercepting the request."
)
_BODY_MEANING = (
    "The Sage 200 API and Sage ID answer JSON. An HTML page, a body that is not JSON, JSON cut "
    "short or an answer far too large means something else answered (a proxy, firewall or a "
    "wrong URL) or the answer broke on the way; try again, and check the URL and any proxy."
)


def status_meaning(status: int | None) -> str | None:
    """What a redirect, 429 or 5xx status usually means, in a sentence or two; else None."""
    if status is not None and 300 <= status < 400:
        return _REDIRECT_MEANING
    return _MEANINGS.get(status or 0)


def likely_meaning(answer: Answer) -> str:
    """What an unexpected answer most likely means, for a finding's details ('' when unknown)."""
    if answer.problem is not None:
        return ""
    meaning = status_meaning(answer.status)
    if meaning:
        return meaning
    odd_body = answer.truncated or (bool(answer.text.strip()) and not answer.is_json)
    return _BODY_MEANING if odd_body else ""
