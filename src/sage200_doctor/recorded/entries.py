"""One HAR entry (a JSON object) to a `RecordedExchange`, tolerant of how each tool writes it.

What differs between exporters, and how it is handled here:
- header names: Chrome writes HTTP/2 names lower-case with `:authority`-style pseudo-headers,
  Firefox and proxies keep the case they saw: names are lower-cased, pseudo-headers kept apart;
- query values: Chrome's `queryString` keeps them percent-encoded, Firefox decodes them and
  Insomnia keeps its parameters out of the URL: the URL's own query wins, decoded here;
- form bodies: Chrome and Firefox write `text` and `params`, Insomnia `params` with empty
  `text`: fields come from an urlencoded `text`, else from `params`;
- failures: Chrome and Firefox write status 0 (Chrome with `_error`), others omit `response`.
An entry that cannot be read raises `BrokenEntry` with a reason; the reader counts and skips it.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from .model import NO_RESPONSE, Header, Pair, RecordedExchange, RecordedRequest, RecordedResponse

_FORM = "application/x-www-form-urlencoded"
_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)


class BrokenEntry(ValueError):
    """An entry too broken to use; the message is the reason, for people (no values in it)."""


def read_entry(raw: object, index: int, *, max_body_chars: int) -> RecordedExchange:
    entry = _mapping(raw, "the entry is not a JSON object")
    request = read_request(entry.get("request"), max_body_chars=max_body_chars)
    response = read_response(entry.get("response"), max_body_chars=max_body_chars)
    return RecordedExchange(
        index=index,
        request=request,
        response=response,
        started=_started(entry.get("startedDateTime")),
        elapsed_ms=_number(entry.get("time")),
        error=_error(entry),
        page_ref=_text(entry.get("pageref")),
        comment=_text(entry.get("comment")),
    )


def read_request(raw: object, *, max_body_chars: int) -> RecordedRequest:
    request = _mapping(raw, "request is missing or not an object")
    pseudo, headers = _headers(request.get("headers"), "request.headers")
    url = _url(request.get("url"), dict(pseudo), headers)
    method = _text(request.get("method")) or dict(pseudo).get(":method")
    if not method:
        raise BrokenEntry("request.method is missing")
    post = request.get("postData")
    post = post if isinstance(post, Mapping) else {}
    body, truncated = _bounded(_text(post.get("text")), max_body_chars)
    mime = _text(post.get("mimeType"))
    return RecordedRequest(
        method=method.upper(),
        url=url,
        http_version=_text(request.get("httpVersion")) or "",
        headers=headers,
        pseudo_headers=pseudo,
        query=_query(url, request.get("queryString")),
        body=body,
        body_mime_type=mime,
        body_truncated=truncated,
        form=_form(body, mime, post.get("params")),
    )


def read_response(raw: object, *, max_body_chars: int) -> RecordedResponse:
    if raw is None:
        return NO_RESPONSE
    response = _mapping(raw, "response is not an object")
    _, headers = _headers(response.get("headers"), "response.headers")
    content = response.get("content")
    content = content if isinstance(content, Mapping) else {}
    mime = _text(content.get("mimeType"))
    body, truncated = _bounded(_content_text(content, mime), max_body_chars)
    return RecordedResponse(
        status=_status(response.get("status")),
        status_text=_text(response.get("statusText")) or "",
        http_version=_text(response.get("httpVersion")) or "",
        headers=headers,
        body=body,
        body_truncated=truncated,
        body_size=_size(content.get("size")),
        mime_type=mime,
        redirect_url=_text(response.get("redirectURL")) or None,
    )


def _mapping(raw: object, problem: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise BrokenEntry(problem)
    return raw


def _text(raw: object) -> str | None:
    """A string field; numbers are accepted as their text (some tools write them so)."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int | Decimal | float) and not isinstance(raw, bool):
        return str(raw)
    return None


def _headers(raw: object, where: str) -> tuple[tuple[Header, ...], tuple[Header, ...]]:
    """(pseudo-headers, ordinary headers); `:authority` also becomes `host` if there is none."""
    if raw is None:
        return (), ()
    if not isinstance(raw, list):
        raise BrokenEntry(f"{where} is not a list")
    pseudo: list[Header] = []
    plain: list[Header] = []
    for item in raw:
        name, value = _pair(item, where)
        (pseudo if name.startswith(":") else plain).append((name.lower(), value))
    authority = dict(pseudo).get(":authority")
    if authority and not any(name == "host" for name, _ in plain):
        plain.insert(0, ("host", authority))
    return tuple(pseudo), tuple(plain)


def _pair(item: object, where: str) -> Pair:
    if not isinstance(item, Mapping):
        raise BrokenEntry(f"{where} holds an item that is not a name/value object")
    name = _text(item.get("name"))
    value = item.get("value")
    text = "" if value is None else _text(value)
    if not name or text is None:
        raise BrokenEntry(f"{where} holds an item without a usable name and value")
    return name, text


def _url(raw: object, pseudo: Mapping[str, str], headers: tuple[Header, ...]) -> str:
    """The absolute URL: as recorded, with scheme, host or path filled in from pseudo-headers."""
    url = _text(raw) or ""
    parts = urlsplit(url)
    if parts.scheme and parts.netloc:
        return url.split("#", 1)[0]
    host = pseudo.get(":authority") or next((v for k, v in headers if k == "host"), "")
    if not host:
        raise BrokenEntry("request.url is missing or relative, and no host was recorded")
    scheme = pseudo.get(":scheme") or parts.scheme or "https"  # Sage's hosts are https-only
    path = url if url.startswith("/") else pseudo.get(":path", "/")
    rebuilt = urlsplit(path)
    return urlunsplit((scheme, host, rebuilt.path or "/", rebuilt.query, ""))


def _query(url: str, recorded: object) -> tuple[Pair, ...]:
    raw_query = urlsplit(url).query
    if raw_query:
        return tuple(parse_qsl(raw_query, keep_blank_values=True, errors="replace"))
    if not isinstance(recorded, list):
        return ()
    return tuple(_pair(item, "request.queryString") for item in recorded)


def _form(body: str | None, mime: str | None, params: object) -> tuple[Pair, ...]:
    if body and (mime or "").lower().startswith(_FORM):
        return tuple(parse_qsl(body, keep_blank_values=True, errors="replace"))
    if not isinstance(params, list):
        return ()
    return tuple(_param(item) for item in params)


def _param(item: object) -> Pair:
    """A `postData.params` item; file parts have a `fileName` and no value."""
    if not isinstance(item, Mapping) or _text(item.get("name")) is None:
        raise BrokenEntry("request.postData.params holds an item without a name")
    return str(_text(item.get("name"))), _text(item.get("value")) or ""


def _content_text(content: Mapping[str, Any], mime: str | None) -> str | None:
    text = _text(content.get("text"))
    if text is None or str(content.get("encoding", "")).lower() != "base64":
        return text
    try:
        raw = base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError):
        raise BrokenEntry("response.content.text says base64 but is not") from None
    return raw.decode(_charset(mime), errors="replace")


def _charset(mime: str | None) -> str:
    match = _CHARSET.search(mime or "")
    name = match.group(1) if match else "utf-8"
    try:
        "".encode(name)
    except LookupError:
        return "utf-8"
    return name


def _bounded(text: str | None, limit: int) -> tuple[str | None, bool]:
    if text is None or len(text) <= limit:
        return text, False
    return text[:limit], True


def _status(raw: object) -> int | None:
    if raw is None:
        return None
    text = _text(raw)
    try:
        status = int(text or "")
    except ValueError:
        raise BrokenEntry("response.status is not a number") from None
    return status if status > 0 else None


def _size(raw: object) -> int | None:
    size = _number(raw)
    return int(size) if size is not None and size >= 0 else None


def _number(raw: object) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
        return None
    return float(raw)


def _started(raw: object) -> datetime | None:
    """`startedDateTime` in any ISO 8601 form the tools write (`Z`, offsets, 0 to 7 decimals)."""
    text = _text(raw)
    if not text:
        return None
    try:
        started = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return started if started.tzinfo else started.replace(tzinfo=UTC)


def _error(entry: Mapping[str, Any]) -> str | None:
    response = entry.get("response")
    for holder in (response if isinstance(response, Mapping) else {}, entry):
        error = _text(holder.get("_error"))
        if error:
            return error
    return None
