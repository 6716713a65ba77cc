"""What one recorded exchange holds, whichever tool wrote the capture.

Plain frozen data: the HAR reader builds it, triage judges it. Header names are lower-cased
(HTTP/2 sends them so, and a rule should not care how a tool spelled them); values, order and
repeats are kept as recorded. HTTP/2 pseudo-headers (`:authority`, `:path`, ...) are kept
apart from ordinary headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

Header = tuple[str, str]
"""(lower-cased name, value), as recorded."""
Pair = tuple[str, str]
"""(name, value) of a query or form parameter, percent-decoded."""


def _first(headers: tuple[Header, ...], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers if key == wanted), None)


def _all(headers: tuple[Header, ...], name: str) -> list[str]:
    wanted = name.lower()
    return [value for key, value in headers if key == wanted]


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the capture recorded it."""

    method: str
    url: str
    """Absolute; rebuilt from the HTTP/2 pseudo-headers when the capture's `url` lacked parts."""
    http_version: str
    headers: tuple[Header, ...]
    """Ordinary headers, in order, repeats kept; `host` comes from `:authority` on HTTP/2."""
    pseudo_headers: tuple[Header, ...] = ()
    query: tuple[Pair, ...] = ()
    """From the URL's query string (the bytes that went out); from `queryString` when the URL
    has none (Insomnia keeps its parameters apart from the URL)."""
    body: str | None = None
    """`postData.text`; None when the capture has no body."""
    body_mime_type: str | None = None
    body_truncated: bool = False
    form: tuple[Pair, ...] = ()
    """Form fields: parsed from an urlencoded `postData.text`, else `postData.params`."""

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        return _first(self.headers, name)

    def header_values(self, name: str) -> list[str]:
        """Every value of header `name` (any case), in recorded order."""
        return _all(self.headers, name)

    def query_value(self, name: str) -> str | None:
        """The first value of query parameter `name` (exact case: `$filter`), or None."""
        return next((value for key, value in self.query if key == name), None)

    def form_value(self, name: str) -> str | None:
        """The first value of form field `name`, or None."""
        return next((value for key, value in self.form if key == name), None)


@dataclass(frozen=True)
class RecordedResponse:
    """The answer as the capture recorded it; `status` None means there was none."""

    status: int | None
    """None when the entry has no response, or the tool wrote status 0 (Chrome and Firefox do
    for failed, blocked or aborted requests; the exchange's `error` may say why)."""
    status_text: str = ""
    http_version: str = ""
    headers: tuple[Header, ...] = ()
    body: str | None = None
    """`content.text`, base64-decoded when `content.encoding` says so; None when absent (a
    sanitized or body-less export, or a body the tool did not keep)."""
    body_truncated: bool = False
    """True when the body was longer than the reader keeps (`max_body_chars`)."""
    body_size: int | None = None
    """`content.size` as recorded (bytes before truncation); None when unknown."""
    mime_type: str | None = None
    redirect_url: str | None = None

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        return _first(self.headers, name)

    def header_values(self, name: str) -> list[str]:
        """Every value of header `name` (any case), in recorded order."""
        return _all(self.headers, name)


NO_RESPONSE = RecordedResponse(status=None)


@dataclass(frozen=True)
class RecordedExchange:
    """One HAR entry: a request, what came back, when and how long it took."""

    index: int
    """Position in the file's `entries`, from 0 (skipped entries keep their numbers)."""
    request: RecordedRequest
    response: RecordedResponse
    started: datetime | None = None
    """`startedDateTime`, always timezone-aware (UTC assumed when the tool wrote no offset);
    None when missing or unreadable."""
    elapsed_ms: float | None = None
    error: str | None = None
    """Why there was no answer, as the tool put it (Chrome's `_error`, e.g. `net::ERR_FAILED`)."""
    page_ref: str | None = None
    comment: str | None = None
    """The entry's `comment` (Insomnia writes the request's name there)."""

    @property
    def answered(self) -> bool:
        """Whether a response with a real status was recorded."""
        return self.response.status is not None


@dataclass(frozen=True)
class Creator:
    """`log.creator`: the tool that wrote the capture."""

    name: str
    version: str = ""


@dataclass(frozen=True)
class Skipped:
    """Entries the reader could not use, grouped by reason."""

    reason: str
    count: int
    first_index: int
