"""The one place secrets are masked before anything reaches a report, a log or a terminal.

Masking works three ways, because a secret can leak in forms a key-name rule never sees:
by header or field name, by the known secret values (configured ones and tokens learned during
the run), and by the encodings of those values that HTTP traffic and reports carry (base64 of
`client_id:secret` in a Basic header, URL-encoded form fields, JSON-escaped and HTML-escaped
strings). On top of that, shapes that are credentials whatever their value (a JWT, the token
after `Bearer `, a `client_secret=` query parameter) are masked even when nobody registered them.
It fails closed: if masking itself breaks, the payload is dropped rather than shown.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "[redacted]"
DROPPED = "[dropped: could not be redacted safely]"
MIN_SECRET_LENGTH = 6
MEMO_MAX_CHARS = 256
"""Masked short strings are remembered (field names, codes, names repeat in every record)."""
MEMO_MAX_ENTRIES = 50_000
"""Shorter values would mask innocent text everywhere; real keys and tokens are far longer."""

QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "urllib3")
"""Loggers that write full URLs and headers at INFO/DEBUG; kept at WARNING for the whole run."""


@functools.lru_cache(maxsize=4096)  # the same few field and header names, thousands of times
def _normal(name: str) -> str:
    """`access_token`, `accessToken` and `Access-Token` are one name; `subscription key`
    (a label with a space, as in capability facts) is prose, not a field name."""
    return re.sub(r"[-_]", "", name.strip().lower())


SECRET_HEADERS = frozenset(
    _normal(name)
    for name in (
        "authorization",
        "proxy-authorization",
        "ocp-apim-subscription-key",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
    )
)
SECRET_FIELDS = frozenset(
    _normal(name)
    for name in (
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "client_assertion",
        "password",
        "passwd",
        "code",
        "code_verifier",
        "subscription_key",
        "ocp-apim-subscription-key",
        "authorization",
        "api_key",
        "cookie",
        "set-cookie",
        "private_key",
        "secret",
        "token",
    )
)
_SECRET_SUFFIXES = ("token", "secret", "password", "apikey", "subscriptionkey", "privatekey")
"""`x-csrf-token`, `my_client_secret`: a name ending like this holds a credential."""

_AUTH_HEADERS = frozenset({"authorization", "proxyauthorization"})
_SCHEME = re.compile(r"^\s*(?:bearer|basic)", re.IGNORECASE)
_CREDENTIAL_RUN = re.compile(r"[A-Za-z0-9\-_.~+/=]{16,}")
"""A run this long in an Authorization value is a credential nobody told us about."""
_ERROR_CODE = re.compile(r"[a-z][a-z_.\-]{0,39}|\d{1,6}")
"""`"code": "invalid_grant"` in an error body is a diagnosis, not an authorization code."""

_QUERY_NAMES = (
    r"access_token|refresh_token|id_token|client_secret|client_assertion|code_verifier|code"
    r"|subscription[-_]key|ocp-apim-subscription-key|api[-_]?key|password|token"
)

_PAIR_START = r"(?:(?<![A-Za-z0-9])|(?<=%3F)|(?<=%26))"
"""Start of a pair: not inside a longer name (`SAGE200_CLIENT_SECRET=` still counts), or
after an encoded `?` / `&` when a whole query string was URL-encoded into another URL."""


def _by_name(match: re.Match[str]) -> str:
    """Mask the value of a `name=value` or `"name": "value"` pair, unless already masked or
    an error code (`code=invalid_grant` is a diagnosis, not an authorization code)."""
    name, value, tail = match.group("name"), match.group("value"), match.group("tail") or ""
    if value.startswith("[redacted") or (name.lower() == "code" and _ERROR_CODE.fullmatch(value)):
        return match.group(0)
    return f"{match.group('head')}{MASK}{tail}"


_Replacement = str | Callable[[re.Match[str]], str]
_SHAPES: tuple[tuple[re.Pattern[str], _Replacement], ...] = (
    # name=value in a query string or a form body, raw or URL-encoded into another URL.
    (
        re.compile(
            rf"(?i){_PAIR_START}(?P<head>(?P<name>{_QUERY_NAMES})(?:=|%3D))"
            rf"(?P<value>(?:(?!%26)[^&\s\"'#<>])+)(?P<tail>)"
        ),
        _by_name,
    ),
    # "name": "value" in JSON text that could not be parsed (cut short, or inside a log line).
    # (Authorization values are left to the scheme rule below, which keeps "Bearer" visible.)
    (
        re.compile(
            rf'(?i)(?P<head>"(?P<name>{_QUERY_NAMES})"\s*:\s*")'
            rf'(?P<value>(?:[^"\\]|\\.)*)(?P<tail>")'
        ),
        _by_name,
    ),
    # The credential after an auth scheme, wherever it appears in prose or a log line.
    (
        re.compile(r"(?i)\b((?:bearer|basic)[\s:=]*)(?!_)([A-Za-z0-9\-_.~+/]{16,}=*)"),
        rf"\g<1>{MASK}",
    ),
    # A JWT (header.payload.signature, base64url): always a credential.
    (
        re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"),
        "[redacted:jwt]",
    ),
)


def _encodings(value: str) -> set[str]:
    """The forms a value takes on the wire and in reports."""
    raw = value.encode()
    standard = base64.b64encode(raw).decode()
    urlsafe = base64.urlsafe_b64encode(raw).decode()
    forms = {
        value,
        quote(value),
        quote(value, safe=""),
        quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        html.escape(value),
        html.escape(value, quote=False),
        standard,
        standard.rstrip("="),
        urlsafe,
        urlsafe.rstrip("="),
    }
    # The escaped forms of the encodings, too: a base64 value inside a JSON or HTML report.
    forms |= {html.escape(form) for form in list(forms)}
    forms |= {json.dumps(form)[1:-1] for form in list(forms)}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def _reveal(value: object) -> object:
    reveal = getattr(value, "reveal", None)
    return reveal() if callable(reveal) else value


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a header, field or parameter of this name holds a credential."""
    normal = _normal(name)
    return normal in SECRET_FIELDS or normal in SECRET_HEADERS or normal.endswith(_SECRET_SUFFIXES)


class Redactor:
    """Masks known secrets in text, headers and JSON-like data."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        self._memo: dict[str, str] = {}
        """Short texts already masked; forgotten whenever a secret is added."""

    def add(self, label: str, value: object) -> None:
        """Register a secret (a str or a `Secret`); its encodings are masked too."""
        text = _reveal(value)
        if not isinstance(text, str):
            return
        candidates = {text, text.strip(), text.strip().strip("\"'“”‘’")}
        # A value pasted with its scheme ("Bearer eyJ…") is also masked without it.
        candidates |= {_SCHEME.sub("", c).strip() for c in list(candidates)}
        for candidate in candidates:
            if len(candidate) >= MIN_SECRET_LENGTH:
                for form in _encodings(candidate):
                    self._values[form] = label
        self._pattern = None
        self._memo.clear()

    def add_basic_credentials(self, client_id: str, secret: object) -> None:
        """The Basic header carries base64(`id:secret`): mask that exact encoding too."""
        text = _reveal(secret)
        if isinstance(text, str) and text:
            # RFC 6749 §2.3.1 form-encodes both parts before joining; clients do either.
            pairs = {f"{client_id}:{text}", f"{quote_plus(client_id)}:{quote_plus(text)}"}
            for pair in pairs:
                for form in _encodings(pair):
                    self._values[form] = "client_credentials"
            self._pattern = None
            self._memo.clear()

    @property
    def secret_count(self) -> int:
        """How many masked forms are known (for tests and the bundle's fingerprint)."""
        return len(self._values)

    def text(self, value: str) -> str:
        short = len(value) <= MEMO_MAX_CHARS
        if short and value in self._memo:
            return self._memo[value]
        masked = value
        pattern = self._compiled()
        if pattern is not None:
            masked = pattern.sub(self._label, masked)
        for shape, replacement in _SHAPES:
            masked = shape.sub(replacement, masked)
        if short and len(self._memo) < MEMO_MAX_ENTRIES:
            self._memo[value] = masked
        return masked

    def headers(self, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
        items = headers.items() if isinstance(headers, Mapping) else headers
        masked: dict[str, str] = {}
        for name, value in items:
            try:
                masked[str(name)] = self._header_value(str(name), str(value))
            except Exception:
                masked[str(name)] = DROPPED
        return masked

    def data(self, value: Any) -> Any:
        """JSON-like data: secret fields masked by name, every string masked by value."""
        if isinstance(value, Mapping):
            return {
                self.safe_text(str(key)): self._field(str(key), item) for key, item in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self.data(item) for item in value]
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, bytes):
            return self.safe_text(value.decode("utf-8", "replace"))
        return self.safe_text(value if isinstance(value, str) else str(value))

    def safe_text(self, value: str) -> str:
        """`text`, failing closed."""
        try:
            return self.text(value)
        except Exception:
            return DROPPED

    def safe_data(self, value: Any) -> Any:
        """`data`, failing closed: the whole payload is dropped if any part of it breaks."""
        try:
            return self.data(value)
        except Exception:
            return DROPPED

    def _field(self, key: str, item: Any) -> Any:
        if _normal(key) in _AUTH_HEADERS and isinstance(item, str):
            return self._header_value(key, item)  # keeps the scheme and spacing visible
        if is_secret_name(key) and not _harmless(key, item):
            return MASK
        return self.data(item)

    def _header_value(self, name: str, value: str) -> str:
        lowered = _normal(name)
        if lowered in _AUTH_HEADERS:
            # Keep the scheme, spacing and quotes visible: "Bearer<token>" versus
            # "Bearer <token>" is exactly what a user needs to see, the token itself never.
            scheme = _SCHEME.match(value)
            head, rest = (value[: scheme.end()], value[scheme.end() :]) if scheme else ("", value)
            return self.text(head + _CREDENTIAL_RUN.sub(MASK, rest))
        if is_secret_name(name):
            return MASK
        return self.text(value)

    def _label(self, match: re.Match[str]) -> str:
        return f"[redacted:{self._values.get(match.group(0), 'secret')}]"

    def _compiled(self) -> re.Pattern[str] | None:
        if self._pattern is None and self._values:
            # Longest first, so an encoding is masked whole rather than around a shorter match.
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(value) for value in ordered))
        return self._pattern


def _harmless(key: str, item: Any) -> bool:
    """`code` is also the name of error codes; those stay visible. Nothing else is exempt."""
    if _normal(key) != "code":
        return False
    return isinstance(item, int) or (isinstance(item, str) and bool(_ERROR_CODE.fullmatch(item)))


_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""C0/C1 controls (ESC, BEL, CR…) and bidi overrides: a server's text must never steer a terminal."""


def neutralise_controls(text: str) -> str:
    """`text` with control characters shown as visible escapes (\\x1b), line breaks and tabs kept."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks a record's message (and drops it if masking fails)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return False
        record.msg = self.redactor.safe_text(message)
        record.args = None
        return True


def quiet_http_loggers() -> None:
    """httpx logs every request's full URL at INFO: keep it (and its helpers) at WARNING."""
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
