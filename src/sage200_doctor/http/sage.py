"""Facts about Sage 200 answers that several checks need: who said no, and what they said.

The checks rely on documented behaviour only: HTTP status codes, the documented error strings
and body shapes (API Management answers `statusCode`/`message`; the Sage 200 Web API answers
`Message`), never on an emulator's incidental wording.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    return Denial("unknown", answer.text[:200])


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
    message = api_message(answer)
    if message:
        return f'HTTP {answer.status} with "{message}"'
    return f"HTTP {answer.status} with {answer.describe_body()}"
