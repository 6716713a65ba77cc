"""Every SAGE200_* key in one table: one row per key, and the parsers the rows name.

A row says the key's name, the `Settings` field it fills, whether it is a secret, its default,
how its text becomes a value, and one line of documentation. The key lists, the secret list,
unknown-key detection, the public summary, masking and the consistency tests against
config.example.env and docs/configuration.md all derive from this table. A new key is one row
(plus a typed field on `Settings` and its docs).

A parser never raises: it returns the value to use and, for text it cannot use, records a
`ConfigProblem` (and returns the safe default meanwhile), so every problem is reported at once.
"""

from __future__ import annotations

import difflib
import math
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal
from urllib.parse import urlsplit

PREFIX: Final = "SAGE200_"
Severity = Literal["error", "warning"]

EDITION_BASE_URLS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "standard": "https://api.columbus.sage.com/uk/sage200/accounts/v1/",
        "professional": "https://api.columbus.sage.com/uk/sage200extra/accounts/v1/",
    }
)
CLIENT_AUTH_METHODS: Final = ("basic", "body")
DEFAULT_TIMEOUT_S: Final = 20.0
MAX_TIMEOUT_S: Final = 600.0
DEFAULT_CONCURRENCY: Final = 32  # requests in flight at once; 1 sends them one at a time
MAX_CONCURRENCY: Final = 32
DEFAULT_REFRESH_TOKEN_MAX_DAYS: Final = 90  # the longest lifetime Sage ID credentials allow
DEFAULT_EXPIRY_WARNING_DAYS: Final = 14
MAX_PATH_CHARS: Final = 1024


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the configuration. Never carries a secret value."""

    key: str
    message: str
    severity: Severity
    suggestion: str | None = None


class Parsing:
    """What a parser is told: the row, and where to report a problem."""

    def __init__(self, key: Key, problems: list[ConfigProblem]) -> None:
        self.key = key
        self.problems = problems

    def error(self, message: str, suggestion: str | None = None) -> Any:
        """Report `message` about this key and return the row's default to use meanwhile."""
        self.problems.append(ConfigProblem(self.key.name, message, "error", suggestion))
        return self.key.parse(self.key.default, self) if self.key.default is not None else None


Parser = Callable[[str, Parsing], Any]


def text(value: str, _: Parsing) -> str:
    """Kept exactly as typed: config.values points at stray spaces and quotes itself."""
    return value


def secret(value: str, _: Parsing) -> Any:
    from sage200_doctor.config.secret import Secret

    return Secret(value)


def edition(value: str, parsing: Parsing) -> str:
    canonical = value.strip().lower()
    if canonical in EDITION_BASE_URLS:
        return canonical
    close = difflib.get_close_matches(canonical, list(EDITION_BASE_URLS), n=1)
    parsing.problems.append(
        ConfigProblem(
            parsing.key.name,
            f"{parsing.key.name} must be standard or professional; the standard API base URL is"
            " used until it is fixed",
            "error",
            f"Did you mean {close[0]}?" if close else "Use standard or professional.",
        )
    )
    return value  # kept as given, so the finding can show what was typed


def client_auth(value: str, parsing: Parsing) -> str:
    canonical = value.strip().lower()
    if canonical in CLIENT_AUTH_METHODS:
        return canonical
    return parsing.error(  # type: ignore[no-any-return] # the default is text
        f"{parsing.key.name} must be basic (HTTP Basic header) or body (form fields); basic is"
        " used until it is fixed",
        "Use basic, or body if your client sends client_id and secret as fields.",
    )


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def url(value: str, parsing: Parsing) -> str:
    """Kept as typed (config.values lints scheme and edition); one that no HTTP client could
    send (a bad port, control characters, an unclosed IPv6 bracket) is an error here."""
    problem = url_problem(value.strip())
    if problem is not None:
        parsing.problems.append(
            ConfigProblem(
                parsing.key.name,
                f"{parsing.key.name} is not a usable URL: {problem}",
                "error",
                "Write it as https://host/path, on one line, without spaces.",
            )
        )
    return value


def url_problem(value: str) -> str | None:
    """Why no HTTP client could send to `value`, or None. Never quotes the value (it may hold
    user:password)."""
    if _CONTROL.search(value):
        return "it contains a control character (a tab, line break or NUL)"
    if " " in value:
        return "it contains a space"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        return f"it cannot be parsed ({_url_reason(error)})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "it does not start with http:// or https:// and a host name"
    return None


def _url_reason(error: ValueError) -> str:
    message = str(error).lower()
    if "port" in message:
        return "the port is not a number from 0 to 65535"
    if "ipv6" in message or "bracket" in message:
        return "an IPv6 address is not closed with ]"
    return "malformed"


def timeout(value: str, parsing: Parsing) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if math.isfinite(seconds) and 0 < seconds <= MAX_TIMEOUT_S:
        return seconds
    return parsing.error(  # type: ignore[no-any-return] # the default is a float
        f"{parsing.key.name} must be a number of seconds above 0 and at most {MAX_TIMEOUT_S:g};"
        f" the default of {DEFAULT_TIMEOUT_S:g} is used until it is fixed",
        f"For example {parsing.key.name}=30",
    )


def concurrency(value: str, parsing: Parsing) -> int:
    stripped = value.strip()
    if re.fullmatch(r"[0-9]{1,2}", stripped) and 1 <= int(stripped) <= MAX_CONCURRENCY:
        return int(stripped)
    return parsing.error(  # type: ignore[no-any-return] # the default is an int
        f"{parsing.key.name} must be a whole number from 1 (one request at a time) to"
        f" {MAX_CONCURRENCY}; the default of {DEFAULT_CONCURRENCY} is used until it is fixed",
        f"For example {parsing.key.name}=1 for a gateway that limits bursts",
    )


def ca_bundle(value: str, parsing: Parsing) -> str | None:
    """The bundle path when it is a readable PEM file; else None, so no client ever loads it
    (TLS is still verified against the default roots meanwhile)."""
    problem = _ca_problem(value)
    if problem is None:
        return value
    hint = " (~ is not expanded here)" if value.startswith("~") else ""
    shown = f" {value!r}" if len(value) <= 200 and value.isprintable() else ""
    parsing.problems.append(
        ConfigProblem(
            parsing.key.name,
            f"{parsing.key.name}{shown} {problem}{hint}; relative paths are taken from the"
            " directory sage200-doctor runs in",
            "error",
            "Point it at the PEM file of your organisation's root CA (docs/network.md).",
        )
    )
    return None


def _ca_problem(value: str) -> str | None:
    if len(value) > MAX_PATH_CHARS or "\x00" in value:
        return "is not a usable file path (too long, or it holds a NUL byte)"
    path = Path(value)
    try:
        if not path.exists():
            return "names a file that does not exist"
        if not path.is_file():
            return "names something that is not a file"
        ssl.create_default_context().load_verify_locations(cafile=str(path))
    except ssl.SSLError:
        return "names a file that holds no PEM certificate"
    except (OSError, ValueError):
        return "names a file that cannot be read"
    return None


def moment(value: str, parsing: Parsing) -> datetime | None:
    """An ISO date or date-time; a date means its midnight, and no zone means UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return parsing.error(  # type: ignore[no-any-return] # no default: None
            f"{parsing.key.name} must be an ISO 8601 date or date-time (when you signed in); the"
            " refresh token's age is unknown until it is fixed",
            f"For example {parsing.key.name}=2026-11-23T09:30:00Z",
        )
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def day(value: str, parsing: Parsing) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return parsing.error(  # type: ignore[no-any-return] # no default: None
            f"{parsing.key.name} must be an ISO 8601 date (YYYY-MM-DD); the client secret's"
            " expiry is unknown until it is fixed",
            f"For example {parsing.key.name}=2027-01-31",
        )


def days(minimum: int) -> Parser:
    def parse(value: str, parsing: Parsing) -> int:
        stripped = value.strip()
        if re.fullmatch(r"[0-9]{1,4}", stripped) and minimum <= int(stripped) <= 3650:
            return int(stripped)
        default = parsing.key.default
        return parsing.error(  # type: ignore[no-any-return] # the default is an int
            f"{parsing.key.name} must be a whole number of days between {minimum} and 3650;"
            f" the default of {default} is used until it is fixed",
            f"For example {parsing.key.name}={default}",
        )

    return parse


_RESOURCE_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")


def resources(value: str, parsing: Parsing) -> tuple[str, ...]:
    """Comma-separated collection names, as in the URL after the base (`sop_orders`).

    Case and surrounding slashes are forgiven (routing ignores them). A name that cannot be one
    is an error and dropped; a well-formed name Sage's reference lacks is a warning and kept, so
    the check still asks the server (the reference may be older than the site)."""
    from sage200_doctor import catalogue

    names: list[str] = []
    for item in value.split(","):
        name = item.strip().strip("/").lower()
        if not name or name in names:
            continue
        if not _RESOURCE_NAME.fullmatch(name):
            parsing.problems.append(
                ConfigProblem(
                    parsing.key.name,
                    f"{parsing.key.name} names {item.strip()!r}, which is not a resource name"
                    " (letters, digits and _, as in the URL after the base, without ids or query"
                    " options); it is left out",
                    "error",
                    f"For example {parsing.key.name}=sop_orders,products,nominal_codes",
                )
            )
            continue
        names.append(name)
        if catalogue.find(name) is None:
            close = catalogue.did_you_mean(name)
            parsing.problems.append(
                ConfigProblem(
                    parsing.key.name,
                    f"{parsing.key.name} names {name}, which is not a GET collection in Sage's"
                    " published API reference; api.resources asks the server for it anyway",
                    "warning",
                    f"Did you mean {close}?" if close else None,
                )
            )
    return tuple(names)


@dataclass(frozen=True)
class Key:
    """One row of the table."""

    name: str
    field: str
    doc: str
    parse: Parser = text
    default: str | None = None
    secret: bool = False


KEYS: Final[tuple[Key, ...]] = (
    Key("SAGE200_EDITION", "edition", "standard or professional", edition),
    Key("SAGE200_API_BASE_URL", "api_base_url", "API base URL (default from the edition)", url),
    Key("SAGE200_AUTH_URL", "auth_url", "Sage ID authorize URL", url, "https://id.sage.com/authorize"),
    Key("SAGE200_TOKEN_URL", "token_url", "Sage ID token URL", url, "https://id.sage.com/oauth/token"),
    Key("SAGE200_AUDIENCE", "audience", "audience asked for at sign-in", default="s200ukipd/sage200"),
    Key("SAGE200_CLIENT_ID", "client_id", "OAuth client id"),
    Key("SAGE200_CLIENT_SECRET", "client_secret", "OAuth client secret", secret, secret=True),
    Key("SAGE200_CLIENT_AUTH", "client_auth", "basic or body client authentication", client_auth, "basic"),
    Key("SAGE200_REDIRECT_URI", "redirect_uri", "the registered callback URL (login)"),
    Key("SAGE200_SCOPE", "scope", "requested scope", default="openid profile email offline_access"),
    Key("SAGE200_ACCESS_TOKEN", "access_token", "an access token, bare", secret, secret=True),
    Key("SAGE200_AUTHORIZATION", "authorization", "the Authorization header as your app sends it", secret, secret=True),
    Key("SAGE200_REFRESH_TOKEN", "refresh_token", "a refresh token", secret, secret=True),
    Key("SAGE200_SUBSCRIPTION_KEY", "subscription_key", "developer subscription key", secret, secret=True),
    Key("SAGE200_SITE_ID", "site_id", "X-Site value (site_id from GET sites)"),
    Key("SAGE200_COMPANY_ID", "company_id", "X-Company value (company_id from GET sites)"),
    Key("SAGE200_CUSTOMER_REFERENCE", "customer_reference", "a customer reference that exists"),
    Key("SAGE200_TIMEOUT_S", "timeout_s", "per-request time limit in seconds", timeout, "20"),
    Key("SAGE200_CONCURRENCY", "concurrency", "GETs in flight at once, 1 to 32", concurrency, "32"),
    Key("SAGE200_CA_BUNDLE", "ca_bundle", "extra trusted CA file (PEM)", ca_bundle),
    Key("SAGE200_REFRESH_TOKEN_ISSUED_AT", "refresh_token_issued_at", "when you signed in", moment),
    Key("SAGE200_REFRESH_TOKEN_MAX_DAYS", "refresh_token_max_days", "refresh token lifetime in days", days(1), "90"),
    Key("SAGE200_CLIENT_SECRET_EXPIRES", "client_secret_expires", "when the client secret expires", day),
    Key("SAGE200_EXPIRY_WARNING_DAYS", "expiry_warning_days", "how far ahead token.expiry warns", days(0), "14"),
    Key("SAGE200_RESOURCES", "resources", "GET collections the integration reads", resources, ""),
)  # fmt: skip

BY_NAME: Final[Mapping[str, Key]] = MappingProxyType({key.name: key for key in KEYS})
KNOWN_KEYS: Final[tuple[str, ...]] = tuple(key.name for key in KEYS)
SECRET_KEYS: Final[frozenset[str]] = frozenset(key.name for key in KEYS if key.secret)
SECRET_FIELDS: Final[tuple[str, ...]] = tuple(key.field for key in KEYS if key.secret)


def did_you_mean(name: str) -> str | None:
    """The known key a mistyped `name` most likely means, or None when nothing is close."""
    candidate = name.upper()
    if candidate in KNOWN_KEYS:
        return candidate
    if PREFIX + candidate in KNOWN_KEYS:
        return PREFIX + candidate
    if candidate.startswith(PREFIX):
        # Compare what follows the prefix: every key shares it, which would make all look close.
        suffixes = [known.removeprefix(PREFIX) for known in KNOWN_KEYS]
        close = difflib.get_close_matches(candidate.removeprefix(PREFIX), suffixes, n=1)
        return PREFIX + close[0] if close else None
    close = difflib.get_close_matches(candidate, KNOWN_KEYS, n=1, cutoff=0.85)
    return close[0] if close else None
