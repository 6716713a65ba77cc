"""The one place secrets are masked before anything reaches a report, a log or a terminal.

Masking works three ways, because a secret can leak in forms a key-name rule never sees:
by header or field name, by the known secret values (configured ones and tokens learned during
the run), and by the encodings of those values that HTTP traffic and reports carry (base64 of
`client_id:secret` in a Basic header, URL-encoded form fields, JSON-escaped and HTML-escaped
strings). Text is also decoded before it is searched (percent-encoding in any case and twice
over, HTML character references, JSON escapes; base64 and hex runs, decoded whole), so an echo
in an encoding nobody listed is still found; `redact_forms` holds those decoders. On top of that,
shapes that are credentials whatever their value (a JWT, the token after `Bearer `, a
`client_secret=` query parameter, the user info of a URL) are masked even when nobody
registered them. It fails closed: if masking itself breaks, the payload is dropped rather than
shown.

Values learned from the network (tokens a server hands out) are registered with `learn`, which
refuses anything that cannot be a credential: a server must never be able to choose text that
the redactor then removes from the tool's own output. Text is redacted before it is cut
(`excerpt`), and rendered markup is swept only where it holds data (`markup`).
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
from urllib.parse import quote, quote_plus, unquote, urlsplit

from sage200_doctor.redact_forms import (
    ESCAPE_MARKS,
    decoded,
    decodings,
    markup_data,
    run_pattern,
    unescape,
)

MASK = "[redacted]"
DROPPED = "[dropped: could not be redacted safely]"
MIN_SECRET_LENGTH = 6
MEMO_MAX_CHARS = 256
"""Masked short strings are remembered (field names, codes, names repeat in every record)."""
MEMO_MAX_ENTRIES = 50_000
"""Shorter values would mask innocent text everywhere; real keys and tokens are far longer."""

LEARNED_MIN_LENGTH = 16
LEARNED_MAX_LENGTH = 16_384
NEVER_IN_TOKENS = frozenset("<>\"'`&\\")
"""Characters no OAuth token or key carries (RFC 6750 b64token, Auth0 and APIM formats), and
that are significant in HTML, XML or JSON: a value holding one is not learned as a secret."""
MARKUP_SIGNIFICANT = NEVER_IN_TOKENS
"""A known value containing one of these (or whitespace) never drives the sweep of rendered
markup: masking it could remove the tool's own quotes and brackets."""

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
_SHAPES: tuple[tuple[re.Pattern[str], _Replacement, tuple[str, ...]], ...] = (
    # (pattern, replacement, and what the lower-cased text must contain for it to match: a
    # cheap test that spares most texts the scan)
    # name=value in a query string or a form body, raw or URL-encoded into another URL.
    (
        re.compile(
            rf"(?i){_PAIR_START}(?P<head>(?P<name>{_QUERY_NAMES})(?:=|%3D))"
            rf"(?P<value>(?:(?!%26)[^&\s\"'#<>])+)(?P<tail>)"
        ),
        _by_name,
        ("=", "%3d"),
    ),
    # "name": "value" in JSON text that could not be parsed (cut short, or inside a log line).
    # (Authorization values are left to the scheme rule below, which keeps "Bearer" visible.)
    (
        re.compile(
            rf'(?i)(?P<head>"(?P<name>{_QUERY_NAMES})"\s*:\s*")'
            rf'(?P<value>(?:[^"\\]|\\.)*)(?P<tail>")'
        ),
        _by_name,
        ('"',),
    ),
    # The credential after an auth scheme, wherever it appears in prose or a log line.
    (
        re.compile(r"(?i)\b((?:bearer|basic)[\s:=]*)(?!_)([A-Za-z0-9\-_.~+/]{16,}=*)"),
        rf"\g<1>{MASK}",
        ("bearer", "basic"),
    ),
    # The user info of a URL (`http://user:password@proxy`), whoever configured it: all of it,
    # since a user name can itself be a token (`https://TOKEN@host`). Also percent-encoded.
    (re.compile(r"://[^\s/?#@\"'<>\[\]]+@"), f"://{MASK}@", ("://",)),
    (
        re.compile(r"(?i)(%3A%2F%2F)(?:(?!%2F|%3F|%23|%40)[^\s/?#@&\"'<>\[\]])+%40"),
        rf"\g<1>{MASK}%40",
        ("%3a%2f%2f",),
    ),
    # A JWT (header.payload.signature, base64url): always a credential.
    (
        re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"),
        "[redacted:jwt]",
        ("eyj",),
    ),
)


_SHAPE_GUARDS = tuple(
    re.compile("|".join(re.escape(need) for need in needs), re.IGNORECASE)
    for _, _, needs in _SHAPES
)


def _shaped(text: str) -> str:
    """`text` with every credential shape masked."""
    for (shape, replacement, _), guard in zip(_SHAPES, _SHAPE_GUARDS, strict=True):
        if guard.search(text):
            text = shape.sub(replacement, text)
    return text


def _encodings(value: str) -> set[str]:
    """The forms a value takes on the wire and in reports."""
    raw = value.encode()
    standard = base64.b64encode(raw).decode()
    urlsafe = base64.urlsafe_b64encode(raw).decode()
    forms = {
        value,
        value.replace(" ", "+"),  # what form-decoding leaves of quote_plus with %xx decoded
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


def could_be_credential(value: str) -> bool:
    """Whether a value learned from the network may be a token, and so be learned as a secret.

    The rule: 16 to 16,384 characters of printable ASCII, no whitespace, none of
    `< > " ' ` & \\`, and at least three quarters letters or digits. Real tokens and keys pass
    (a JWT, Auth0's opaque refresh tokens, base64 with `+/=`, hex keys); `"s2d-lead">`, a word,
    a sentence or a run of punctuation do not. `=` and `/` stay allowed (base64 padding and
    alphabet): masking them cannot close a quoted value or open a tag.
    """
    if not LEARNED_MIN_LENGTH <= len(value) <= LEARNED_MAX_LENGTH:
        return False
    if not (value.isascii() and value.isprintable()) or any(c.isspace() for c in value):
        return False
    if any(c in NEVER_IN_TOKENS for c in value):
        return False
    return 4 * sum(c.isalnum() for c in value) >= 3 * len(value)


def _markup_inert(form: str) -> bool:
    return not any(c in MARKUP_SIGNIFICANT or c.isspace() for c in form)


_MASKED = re.compile(r"\[(?:redacted|dropped)[^\]]*\]")

_Span = tuple[int, int, str]


def cut(redacted: str, limit: int, *, suffix: str = "…") -> str:
    """Already redacted text cut to about `limit` characters, never inside a mask (a mask that
    straddles the cut is kept whole). Text that was not redacted yet goes to
    `Redactor.excerpt`: cut first, a secret would no longer be recognised."""
    if len(redacted) <= limit:
        return redacted
    end = limit
    for mask in _MASKED.finditer(redacted, max(0, limit - 64), limit + 64):
        if mask.start() < limit < mask.end():
            end = mask.end()
    return redacted[:end] + suffix


def _replace_spans(text: str, spans: list[_Span]) -> str:
    """`text` with each (start, end, label) span masked; overlapping spans are masked as one."""
    pieces: list[str] = []
    position = 0
    for start, end, label in sorted(spans):
        if start >= position:
            pieces += [text[position:start], f"[redacted:{label}]"]
        position = max(position, end)  # a span inside or across the last one extends it
    pieces.append(text[position:])
    return "".join(pieces)


class Redactor:
    """Masks known secrets in text, headers and JSON-like data."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._compiled_for: int = -1
        self._pattern: re.Pattern[str] | None = None
        self._inert_pattern: re.Pattern[str] | None = None
        self._runs: re.Pattern[str] | None = None
        self._shortest = 0
        """The shortest value registered: encoded runs shorter than its encoding are skipped."""
        self._memo: dict[str, str] = {}
        """Short texts already masked; forgotten whenever a secret is added."""
        self._runs_seen: dict[str, str | None] = {}
        """Encoded runs already decoded, and the label of the secret each holds (or None)."""
        self.learned: list[str] = []
        """Labels of the values learned from the network (`learn`) and registered."""
        self.refused: list[str] = []
        """Labels of values learned from the network that could not be credentials."""

    def add(self, label: str, value: object) -> None:
        """Register a configured secret (a str or a `Secret`); its encodings are masked too."""
        text = _reveal(value)
        if not isinstance(text, str):
            return
        candidates = {text, text.strip(), text.strip().strip("\"'“”‘’")}
        # A value pasted with its scheme ("Bearer eyJ…") is also masked without it.
        candidates |= {_SCHEME.sub("", c).strip() for c in list(candidates)}
        self._register(label, candidates)

    def learn(self, label: str, value: object) -> bool:
        """Register a value learned from the network (a token a server handed out), if it could
        be a credential (`could_be_credential`); False, and nothing registered, if not.

        A server chooses these values: one that is not a credential would let it choose text
        to be removed from everything the run writes, the tool's own words and markup too."""
        text = _reveal(value)
        if not isinstance(text, str) or not could_be_credential(text.strip()):
            self.refused.append(label)
            return False
        self.learned.append(label)
        self._register(label, {text.strip()})
        return True

    def add_basic_credentials(self, client_id: str, secret: object) -> None:
        """The Basic header carries base64(`id:secret`): mask that exact encoding too."""
        text = _reveal(secret)
        if isinstance(text, str) and text:
            # RFC 6749 §2.3.1 form-encodes both parts before joining; clients do either.
            pairs = {f"{client_id}:{text}", f"{quote_plus(client_id)}:{quote_plus(text)}"}
            self._register("client_credentials", pairs)

    def _register(self, label: str, candidates: Iterable[str]) -> None:
        for candidate in candidates:
            if len(candidate) >= MIN_SECRET_LENGTH:
                for form in _encodings(candidate):
                    self._values[form] = label
                shortest = len(candidate.encode())
                self._shortest = min(self._shortest or shortest, shortest)
        self._memo.clear()
        self._runs_seen.clear()

    @property
    def secret_count(self) -> int:
        """How many masked forms are known (for tests and the bundle's fingerprint)."""
        return len(self._values)

    def text(self, value: str) -> str:
        short = len(value) <= MEMO_MAX_CHARS
        if short and value in self._memo:
            return self._memo[value]
        masked = _shaped(self._mask_values(value, inert_only=False))
        if short and len(self._memo) < MEMO_MAX_ENTRIES:
            self._memo[value] = masked
        return masked

    def excerpt(self, value: str, limit: int, *, suffix: str = "…") -> str:
        """At most about `limit` characters of `value`, redacted before it is cut (a secret cut
        first would no longer be recognised, and its first part would show). A mask that
        straddles the cut is kept whole, never cut inside."""
        return cut(self.safe_text(value), limit, suffix=suffix)

    def markup(self, value: str) -> str:
        """Rendered HTML or XML (a written report), masked without changing its markup.

        Only data is searched (text, attribute values, comments: `redact_forms.markup_data`),
        and only for forms of secrets without markup-significant characters, so a mask can
        never open, close or rewrite an element, whatever values were registered."""
        checked = self.safe_text(value)
        if checked in (value, DROPPED):
            return checked  # usually nothing left: everything was redacted before rendering
        pieces: list[str] = []
        position = 0
        for start, end in markup_data(value):
            pieces.append(value[position:start])
            pieces.append(_shaped(self._mask_values(value[start:end], inert_only=True)))
            position = end
        pieces.append(value[position:])
        return "".join(pieces)

    def safe_markup(self, value: str) -> str:
        """`markup`, failing closed."""
        try:
            return self.markup(value)
        except Exception:
            return DROPPED

    def _mask_values(self, value: str, *, inert_only: bool) -> str:
        """Known values masked: as written, once decoded, and inside encoded runs (a run is
        masked whole; a value found by decoding escapes is masked exactly where it stands)."""
        self._compile()
        if self._pattern is None:
            return value
        pattern = self._inert_pattern if inert_only else self._pattern
        spans = self._runs_holding_secrets(value, lambda start, end: (start, end))
        if pattern is not None:
            spans += [(*m.span(), self._label_of(m.group())) for m in pattern.finditer(value)]
        if ESCAPE_MARKS.search(value) and self._escaped_secret(value, pattern):
            for layer in unescape(value):
                if pattern is not None:
                    spans += [
                        (*layer.origin(*match.span()), self._label_of(match.group()))
                        for match in pattern.finditer(layer.text)
                    ]
                spans += self._runs_holding_secrets(layer.text, layer.origin)
        return _replace_spans(value, spans) if spans else value

    def _escaped_secret(self, value: str, pattern: re.Pattern[str] | None) -> bool:
        """Whether decoding escapes in `value` reveals a secret or a run that holds one (the
        cheap test, without the map back: most escaped texts hold none)."""
        for layer in decoded(value):
            if pattern is not None and pattern.search(layer):
                return True
            if any(self._run_label(run.group()) for run in self._run_matches(layer)):
                return True
        return False

    def _runs_holding_secrets(
        self, value: str, origin: Callable[[int, int], tuple[int, int]]
    ) -> list[_Span]:
        spans: list[_Span] = []
        for run in self._run_matches(value):
            label = self._run_label(run.group())
            if label is not None:
                spans.append((*origin(*run.span()), label))
        return spans

    def _run_label(self, run: str) -> str | None:
        """`_hidden_in`, remembered: the same runs (URL paths, ids) come back in every record."""
        if run not in self._runs_seen:
            if len(self._runs_seen) >= MEMO_MAX_ENTRIES:
                self._runs_seen.clear()
            self._runs_seen[run] = self._hidden_in(run, depth=1)
        return self._runs_seen[run]

    def _run_matches(self, value: str) -> Iterable[re.Match[str]]:
        return self._runs.finditer(value) if self._runs is not None else ()

    def _hidden_in(self, run: str, *, depth: int) -> str | None:
        """The label of a secret the encoded `run` holds anywhere in its decoded text."""
        for plain in decodings(run, self._shortest):
            label = self._found_in(plain, depth=depth)
            if label is not None:
                return label
        return None

    def _found_in(self, value: str, *, depth: int) -> str | None:
        assert self._pattern is not None  # only called once something is registered
        found = self._pattern.search(value)
        if found is None:
            for layer in decoded(value):
                found = self._pattern.search(layer)
                if found is not None:
                    break
        if found is not None:
            return self._label_of(found.group())
        if depth > 0:
            for run in self._run_matches(value):
                label = self._hidden_in(run.group(), depth=depth - 1)
                if label is not None:
                    return label
        return None

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
        return f"[redacted:{self._label_of(match.group(0))}]"

    def _label_of(self, form: str) -> str:
        return self._values.get(form, "secret")

    def _compile(self) -> None:
        if self._compiled_for == len(self._values) or not self._values:
            return
        # Longest first, so an encoding is masked whole rather than around a shorter match.
        ordered = sorted(self._values, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(value) for value in ordered))
        inert = [value for value in ordered if _markup_inert(value)]
        self._inert_pattern = (
            re.compile("|".join(re.escape(value) for value in inert)) if inert else None
        )
        self._runs = run_pattern(self._shortest)
        self._compiled_for = len(self._values)


def _harmless(key: str, item: Any) -> bool:
    """`code` is also the name of error codes; those stay visible. Nothing else is exempt."""
    if _normal(key) != "code":
        return False
    return isinstance(item, int) or (isinstance(item, str) and bool(_ERROR_CODE.fullmatch(item)))


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


def url_password(url: str) -> str | None:
    """The password in a URL's user info (`http://user:password@host`), or None."""
    candidate = url.strip()
    if "@" not in candidate:
        return None
    netloc = urlsplit(candidate if "://" in candidate else f"http://{candidate}").netloc
    userinfo, at, _ = netloc.rpartition("@")
    password = userinfo.partition(":")[2]
    return password if at and password else None


def add_url_credentials(
    redactor: Redactor, values: Iterable[object], *, environ: Mapping[str, str]
) -> None:
    """Register the password of every URL among `values` (configured settings) and in the
    proxy variables of `environ` (`HTTPS_PROXY`, `http_proxy`, `ALL_PROXY`, …), as written and
    percent-decoded. URL user info is masked by shape anyway; this also catches the password
    wherever it turns up without its URL (an error message, a Basic header)."""
    proxies = [
        value
        for name, value in environ.items()
        if name.lower().endswith("_proxy") and name.lower() != "no_proxy"
    ]
    for label, urls in (("url_password", values), ("proxy_password", proxies)):
        for url in urls:
            text = _reveal(url)
            password = url_password(text) if isinstance(text, str) else None
            if password:
                redactor.add(label, password)
                redactor.add(label, unquote(password))


def _control_escapes(keep: str) -> dict[int, str]:
    codes = [*range(0x20), 0x7F, *range(0x80, 0xA0)]
    table = {code: f"\\x{code:02x}" for code in codes if chr(code) not in keep}
    table.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})
    for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C):
        table[code] = f"\\u{code:04x}"  # bidi controls reorder what the reader sees
    table[0x2028], table[0x2029] = "\\u2028", "\\u2029"  # line breaks to some terminals
    for kept in keep:
        table.pop(ord(kept), None)
    return table


_ONE_LINE = _control_escapes("")
_MULTI_LINE = _control_escapes("\n\t")


def neutralise_controls(text: str, *, multiline: bool = False) -> str:
    """`text` with every control character a server could use to rewrite a terminal shown as
    a visible escape instead (`\\x1b`, `\\x07`, `\\r`, `\\u202e`): C0 and C1 controls, DEL,
    bidi overrides and Unicode line separators. `multiline` keeps newlines and tabs (a block
    of details); otherwise they are shown as `\\n` and `\\t`, so no line can be forged."""
    return text.translate(_MULTI_LINE if multiline else _ONE_LINE)
