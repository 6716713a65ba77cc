"""Credentials recognised by their shape, whatever their value, and the rule for values that
a server hands out (which are learned as secrets only if they could be credentials).

Shapes: `name=value` pairs and `"name": "value"` members with a credential's name, the token
after `Bearer `/`Basic `, a JWT, and the user info of a URL. Each shape has a cheap guard (text
it cannot match without), which spares most texts the scan.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

MASK = "[redacted]"

LEARNED_MIN_LENGTH = 16
LEARNED_MAX_LENGTH = 16_384
NEVER_IN_TOKENS = frozenset("<>\"'`&\\")
"""Characters no OAuth token or key carries (RFC 6750 b64token, Auth0 and APIM formats), and
that are significant in HTML, XML or JSON: a value holding one is not learned as a secret."""

ERROR_CODE = re.compile(r"[a-z][a-z_.\-]{0,39}|\d{1,6}")
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
    if value.startswith("[redacted") or (name.lower() == "code" and ERROR_CODE.fullmatch(value)):
        return match.group(0)
    return f"{match.group('head')}{MASK}{tail}"


_WORDS = re.compile(r"[a-z\-_.]+")
"""Lower-case words joined by `-`, `_` or `.`: prose such as `bearer-no-space.json` or
`basic-auth-rejected`, not a credential (a token or key of 16+ characters has digits or capitals;
one that has neither is still masked by value once learned)."""


def _after_scheme(match: re.Match[str]) -> str:
    """Mask the credential after `Bearer`/`Basic`, unless it reads as words."""
    if _WORDS.fullmatch(match.group(2)):
        return match.group(0)
    return f"{match.group(1)}{MASK}"


_Replacement = str | Callable[[re.Match[str]], str]
_SHAPES: tuple[tuple[re.Pattern[str], _Replacement, tuple[str, ...]], ...] = (
    # (pattern, replacement, guard: text one of which it cannot match without, any case)
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
        _after_scheme,
        ("bearer", "basic"),
    ),
    # The user info of a URL (`http://user:password@proxy`), whoever configured it: all of it,
    # since a user name can itself be a token (`https://TOKEN@host`). Also percent-encoded.
    # (A password already masked by value is part of the user info too.)
    (re.compile(r"://(?:[^\s/?#@\"'<>\[\]]|\[redacted[^\]]*\])+@"), f"://{MASK}@", ("://",)),
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


_ANY_GUARD = re.compile(
    "|".join(re.escape(need) for _, _, needs in _SHAPES for need in needs), re.IGNORECASE
)


def shaped(text: str) -> str:
    """`text` with every credential shape masked."""
    if not _ANY_GUARD.search(text):
        return text  # most texts: a name, a number, a sentence without `=` or quotes
    for (shape, replacement, _), guard in zip(_SHAPES, _SHAPE_GUARDS, strict=True):
        if guard.search(text):
            text = shape.sub(replacement, text)
    return text


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


def url_password(url: str) -> str | None:
    """The password in a URL's user info (`http://user:password@host`), or None."""
    candidate = url.strip()
    if "@" not in candidate:
        return None
    netloc = urlsplit(candidate if "://" in candidate else f"http://{candidate}").netloc
    userinfo, at, _ = netloc.rpartition("@")
    password = userinfo.partition(":")[2]
    return password if at and password else None
