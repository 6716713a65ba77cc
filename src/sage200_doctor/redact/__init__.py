"""The one place secrets are masked before anything reaches a report, a log or a terminal.

Masking works three ways, because a secret can leak in forms a key-name rule never sees:
by header or field name, by the known secret values (configured ones and tokens learned during
the run), and by the encodings of those values that HTTP traffic and reports carry (base64 of
`client_id:secret` in a Basic header, URL-encoded form fields, JSON-escaped and HTML-escaped
strings). Text is also decoded before it is searched (percent-encoding in any case and twice
over, HTML character references, JSON escapes; base64 and hex runs, decoded whole), so an echo
in an encoding nobody listed is still found (`values`, with the decoders of
`forms`). On top of that, shapes that are credentials whatever their value (a JWT, the
token after `Bearer `, a `client_secret=` query parameter, the user info of a URL:
`shapes`) are masked even when nobody registered them. It fails closed: if masking
itself breaks, the payload is dropped rather than shown.

Values learned from the network (tokens a server hands out) are registered with `learn`, which
refuses anything that cannot be a credential: a server must never be able to choose text that
the redactor then removes from the tool's own output. Text is redacted before it is cut
(`excerpt`), rendered markup is swept only where it holds data (`markup`), and control
characters bound for a terminal are shown, never obeyed (`neutralise_controls`).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote_plus, unquote

from sage200_doctor.redact.forms import markup_data
from sage200_doctor.redact.shapes import ERROR_CODE, shaped
from sage200_doctor.redact.shapes import MASK as MASK
from sage200_doctor.redact.shapes import could_be_credential as could_be_credential
from sage200_doctor.redact.shapes import url_password as url_password
from sage200_doctor.redact.values import MIN_SECRET_LENGTH as MIN_SECRET_LENGTH
from sage200_doctor.redact.values import KnownValues, replace_spans

DROPPED = "[dropped: could not be redacted safely]"
MEMO_MAX_CHARS = 256
"""Masked short strings are remembered (field names, codes, names repeat in every record)."""
MEMO_MAX_ENTRIES = 50_000

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


def _reveal(value: object) -> object:
    reveal = getattr(value, "reveal", None)
    return reveal() if callable(reveal) else value


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a header, field or parameter of this name holds a credential."""
    normal = _normal(name)
    return normal in SECRET_FIELDS or normal in SECRET_HEADERS or normal.endswith(_SECRET_SUFFIXES)


_MASKED = re.compile(r"\[(?:redacted|dropped)[^\]]*\]")


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


class Redactor:
    """Masks known secrets in text, headers and JSON-like data."""

    def __init__(self) -> None:
        self._known = KnownValues()
        self._memo: dict[str, str] = {}
        """Short texts already masked; forgotten whenever a secret is added."""
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
        self._known.register(label, candidates)
        self._memo.clear()

    @property
    def secret_count(self) -> int:
        """How many masked forms are known (for tests and the bundle's fingerprint)."""
        return len(self._known)

    def text(self, value: str) -> str:
        short = len(value) <= MEMO_MAX_CHARS
        if short and value in self._memo:
            return self._memo[value]
        masked = shaped(self._masked(value, inert_only=False))
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

        Only data is searched (text, attribute values, comments: `forms.markup_data`),
        and only for forms of secrets without markup-significant characters, so a mask can
        never open, close or rewrite an element, whatever values were registered."""
        checked = self.safe_text(value)
        if checked in (value, DROPPED):
            return checked  # usually nothing left: everything was redacted before rendering
        pieces: list[str] = []
        position = 0
        for start, end in markup_data(value):
            pieces.append(value[position:start])
            pieces.append(shaped(self._masked(value[start:end], inert_only=True)))
            position = end
        pieces.append(value[position:])
        return "".join(pieces)

    def safe_markup(self, value: str) -> str:
        """`markup`, failing closed."""
        try:
            return self.markup(value)
        except Exception:
            return DROPPED

    def _masked(self, value: str, *, inert_only: bool) -> str:
        spans = self._known.spans(value, inert_only=inert_only)
        return replace_spans(value, spans) if spans else value

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


def _harmless(key: str, item: Any) -> bool:
    """`code` is also the name of error codes; those stay visible. Nothing else is exempt."""
    if _normal(key) != "code":
        return False
    return isinstance(item, int) or (isinstance(item, str) and bool(ERROR_CODE.fullmatch(item)))


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


_CONTROLS = (*range(0x20), 0x7F, *range(0x80, 0xA0))
"""C0 controls, DEL and C1 controls (ESC, BEL, CR, CSI, …): shown as `\\x1b`."""
_INVISIBLE_ORDER = (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)
"""Bidi overrides, embeddings, isolates and marks: they reorder what the reader sees."""
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _control_escapes(keep: str) -> dict[int, str]:
    table = {code: _NAMED.get(chr(code), f"\\x{code:02x}") for code in _CONTROLS}
    table |= {code: f"\\u{code:04x}" for code in (*_INVISIBLE_ORDER, 0x2028, 0x2029)}
    return {code: shown for code, shown in table.items() if chr(code) not in keep}


_ONE_LINE = _control_escapes("")
_MULTI_LINE = _control_escapes("\n\t")


def neutralise_controls(text: str, *, multiline: bool = False) -> str:
    """`text` with every control character a server could use to rewrite a terminal shown as
    a visible escape instead (`\\x1b`, `\\x07`, `\\r`, `\\u202e`): C0 and C1 controls, DEL,
    bidi overrides and Unicode line separators. `multiline` keeps newlines and tabs (a block
    of details); otherwise they are shown as `\\n` and `\\t`, so no line can be forged."""
    return text.translate(_MULTI_LINE if multiline else _ONE_LINE)
