"""Loading and validating the SAGE200_* settings (CONTRACT.md §2).

Values come from an env file (read with python-dotenv), then the real environment, then command
line flags, each layer overriding the one before. Loading never raises for a bad value: every
problem is collected in one pass so the user fixes them all at once, and the `config.*` checks turn
them into findings. Values are kept exactly as given (apart from python-dotenv's own unquoting) so
that `config.values` can point at a stray space or a typographic quote instead of us hiding it.
"""

from __future__ import annotations

import codecs
import difflib
import hmac
import io
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from sage200_doctor import catalogue

PREFIX: Final = "SAGE200_"

# The one list of known keys: (name, is it a secret). Adding a key is one line here (plus a field
# on Settings if the code needs it typed); unknown-key detection and masking follow from it.
_KEY_TABLE: Final[tuple[tuple[str, bool], ...]] = (
    ("SAGE200_EDITION", False),
    ("SAGE200_API_BASE_URL", False),
    ("SAGE200_AUTH_URL", False),
    ("SAGE200_TOKEN_URL", False),
    ("SAGE200_AUDIENCE", False),
    ("SAGE200_CLIENT_ID", False),
    ("SAGE200_CLIENT_SECRET", True),
    ("SAGE200_CLIENT_AUTH", False),
    ("SAGE200_REDIRECT_URI", False),
    ("SAGE200_SCOPE", False),
    ("SAGE200_ACCESS_TOKEN", True),
    ("SAGE200_AUTHORIZATION", True),
    ("SAGE200_REFRESH_TOKEN", True),
    ("SAGE200_SUBSCRIPTION_KEY", True),
    ("SAGE200_SITE_ID", False),
    ("SAGE200_COMPANY_ID", False),
    ("SAGE200_CUSTOMER_REFERENCE", False),
    ("SAGE200_TIMEOUT_S", False),
    ("SAGE200_CONCURRENCY", False),
    ("SAGE200_CA_BUNDLE", False),
    ("SAGE200_REFRESH_TOKEN_ISSUED_AT", False),
    ("SAGE200_REFRESH_TOKEN_MAX_DAYS", False),
    ("SAGE200_CLIENT_SECRET_EXPIRES", False),
    ("SAGE200_EXPIRY_WARNING_DAYS", False),
    ("SAGE200_RESOURCES", False),
)
KNOWN_KEYS: Final[tuple[str, ...]] = tuple(name for name, _ in _KEY_TABLE)
SECRET_KEYS: Final[frozenset[str]] = frozenset(name for name, secret in _KEY_TABLE if secret)

EDITION_BASE_URLS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "standard": "https://api.columbus.sage.com/uk/sage200/accounts/v1/",
        "professional": "https://api.columbus.sage.com/uk/sage200extra/accounts/v1/",
    }
)
CLIENT_AUTH_METHODS: Final = ("basic", "body")
DEFAULT_TIMEOUT_S: Final = 20.0
DEFAULT_CONCURRENCY: Final = 16  # requests in flight at once; 1 sends them one at a time
MAX_CONCURRENCY: Final = 32
DEFAULT_REFRESH_TOKEN_MAX_DAYS: Final = 90  # the longest lifetime Sage ID credentials allow
DEFAULT_EXPIRY_WARNING_DAYS: Final = 14
DEFAULTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "SAGE200_API_BASE_URL": EDITION_BASE_URLS["standard"],
        "SAGE200_AUTH_URL": "https://id.sage.com/authorize",
        "SAGE200_TOKEN_URL": "https://id.sage.com/oauth/token",
        "SAGE200_AUDIENCE": "s200ukipd/sage200",
        "SAGE200_CLIENT_AUTH": "basic",
        "SAGE200_SCOPE": "openid profile email offline_access",
        "SAGE200_TIMEOUT_S": "20",
    }
)
# Proxy variables only work from the real environment; in the env file they are silently useless.
_PROXY_KEYS: Final = frozenset({"HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"})
_MASK: Final = "**********"
_SECRET_FIELDS: Final = (
    "client_secret",
    "access_token",
    "authorization",
    "refresh_token",
    "subscription_key",
)


class _DropUnparsedLineWarnings(logging.Filter):
    """dotenv logs each unreadable line; we report them ourselves with the file name and a fix,
    so its bare log line would only be noise on the terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("python-dotenv could not parse statement")


logging.getLogger("dotenv.main").addFilter(_DropUnparsedLineWarnings())

Source = Literal["file", "environment", "flag", "default"]
Severity = Literal["error", "warning"]


class Secret:
    """A secret string that hides itself: only `reveal()` gives the value back."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return _MASK

    def __repr__(self) -> str:
        return _MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        # Constant time, so a comparison never becomes a timing oracle for the value.
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the configuration. Never carries a secret value."""

    key: str
    message: str
    severity: Severity
    suggestion: str | None = None


class UsageError(Exception):
    """The env file named on the command line cannot be read (the CLI exits with 4)."""


@dataclass(frozen=True)
class Settings:
    """The effective configuration after all layers were applied."""

    edition: str | None
    api_base_url: str
    auth_url: str
    token_url: str
    audience: str
    scope: str
    client_id: str | None
    client_secret: Secret | None
    client_auth: str
    redirect_uri: str | None
    access_token: Secret | None
    authorization: Secret | None
    refresh_token: Secret | None
    subscription_key: Secret | None
    site_id: str | None
    company_id: str | None
    customer_reference: str | None
    timeout_s: float
    ca_bundle: str | None
    env_file: Path | None
    concurrency: int = DEFAULT_CONCURRENCY
    refresh_token_issued_at: datetime | None = None
    """When the user signed in (consented); the refresh token's lifetime runs from then."""
    refresh_token_max_days: int = DEFAULT_REFRESH_TOKEN_MAX_DAYS
    client_secret_expires: date | None = None
    expiry_warning_days: int = DEFAULT_EXPIRY_WARNING_DAYS
    resources: tuple[str, ...] = ()
    """GET collections the integration reads (`sop_orders`, ...), for api.resources; () = none
    listed. Names Sage's published reference does not have are kept (and warned about)."""
    sources: Mapping[str, Source] = field(default_factory=dict, hash=False)
    raw: Mapping[str, str | Secret] = field(default_factory=dict, hash=False)

    def explicitly_set(self, key: str) -> bool:
        """True when the user gave `key` a value (file, environment or flag), not a default."""
        return key in self.raw

    def public_summary(self) -> dict[str, str]:
        """What may be shown anywhere: plain settings, and only "set"/"not set" for secrets."""
        plain = (
            "edition",
            "api_base_url",
            "auth_url",
            "token_url",
            "audience",
            "client_id",
            "client_auth",
            "scope",
            "redirect_uri",
            "site_id",
            "company_id",
            "customer_reference",
            "ca_bundle",
        )
        summary = {name: _or_not_set(getattr(self, name)) for name in plain}
        summary["timeout_s"] = f"{self.timeout_s:g}"
        summary["concurrency"] = str(self.concurrency)
        summary["resources"] = ", ".join(self.resources) or "not set"
        for name in _SECRET_FIELDS:
            summary[name] = "set" if getattr(self, name) else "not set"
        return summary


@dataclass(frozen=True)
class LoadedSettings:
    settings: Settings
    problems: tuple[ConfigProblem, ...]


def load_settings(
    env_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    default_env_file: Path = Path(".env"),
) -> LoadedSettings:
    """Read the env file, the environment and the flags, in that order of precedence.

    Raises `UsageError` only when an env file exists or was named but cannot be read; every
    problem with the values themselves comes back in `problems`.
    """
    if env_file is None and default_env_file.is_file():
        env_file = default_env_file
    problems: list[ConfigProblem] = []
    file_values: dict[str, str] = {}
    if env_file is not None:
        file_values = _read_env_file(env_file, problems)
    layers: tuple[tuple[Source, Mapping[str, str]], ...] = (
        ("file", file_values),
        ("environment", _prefixed(os.environ if environ is None else environ)),
        ("flag", dict(overrides or {})),
    )
    for source, values in layers[1:]:
        problems.extend(_unknown_keys(values, source))
    merged, sources = _merge(layers, problems)
    settings = _build(merged, sources, env_file, problems)
    return LoadedSettings(settings=settings, problems=tuple(problems))


# --- reading the env file -----------------------------------------------------------------


def _read_env_file(path: Path, problems: list[ConfigProblem]) -> dict[str, str]:
    text = _decode(_read_bytes(path), path, problems)
    _scan_bindings(text, path, problems)
    # Interpolation off: a `$` inside a secret is part of the secret, not a variable.
    parsed = dotenv_values(stream=io.StringIO(text), interpolate=False)
    return {key: value for key, value in parsed.items() if value is not None}


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        reason = "it does not exist"
    except IsADirectoryError:
        reason = "it is a directory, not a file"
    except PermissionError:  # Windows reports a directory this way too
        reason = "it is a directory, not a file" if path.is_dir() else "permission denied"
    except OSError as error:
        reason = error.strerror or type(error).__name__
    raise UsageError(f"cannot read the env file {path}: {reason}")


def _decode(data: bytes, path: Path, problems: list[ConfigProblem]) -> str:
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(_not_utf8(path, number, _key_of(line.decode("utf-8", "replace"))))
    # Keep going with the readable lines so every other problem is still reported.
    return data.decode("utf-8", errors="replace")


def _not_utf8(path: Path, number: int, key: str | None) -> ConfigProblem:
    return ConfigProblem(
        key=key or str(path),
        message=(
            f"line {number} of {path} is not UTF-8 text; an editor probably saved it in another"
            " encoding (Windows-1252 turns typographic quotes and £ into such bytes)"
        ),
        severity="error",
        suggestion="Save the file as UTF-8 and retype any quotes on that line as plain ' or \".",
    )


_KEY_AT_START: Final = re.compile(r"\s*(?:export\s+)?'?([A-Za-z_][A-Za-z0-9_.\-]*)")


def _key_of(line: str) -> str | None:
    match = _KEY_AT_START.match(line)
    return match.group(1) if match else None


def _scan_bindings(text: str, path: Path, problems: list[ConfigProblem]) -> None:
    """Line-level findings dotenv_values does not report: unreadable lines, text without `=`,
    keys set twice, and unknown keys, each with its line number."""
    lines: dict[str, list[int]] = {}
    for binding in parse_stream(io.StringIO(text)):
        line = _first_line(binding.original.string, binding.original.line)
        if binding.error:
            problems.append(_unparsable(path, line, _key_of(binding.original.string)))
        elif binding.key is not None and binding.value is None:
            problems.append(_no_equals(path, line, binding.key))
        elif binding.key is not None:
            lines.setdefault(binding.key, []).append(line)
    for key, numbers in lines.items():
        if len(numbers) > 1 and key in KNOWN_KEYS:
            problems.append(_duplicate(path, key, numbers))
        problems.extend(_unknown_file_key(key, f"line {numbers[-1]} of {path}"))


def _first_line(original: str, line: int) -> int:
    """dotenv counts from where a binding's leading blank lines start; we want the key's line."""
    leading = original[: len(original) - len(original.lstrip())]
    return line + len(re.findall(r"\r\n|\n|\r", leading))


def _unparsable(path: Path, line: int, key: str | None) -> ConfigProblem:
    names = f" (it seems to set {key})" if key else ""
    return ConfigProblem(
        key=key or str(path),
        message=f"line {line} of {path} could not be read as KEY=value and was ignored{names}",
        severity="error" if key and key.upper().startswith(PREFIX) else "warning",
        suggestion=(
            "Write it as KEY=value. A quoted value needs its closing quote, and only a"
            " # comment may follow it."
        ),
    )


def _no_equals(path: Path, line: int, key: str) -> ConfigProblem:
    if key.upper().startswith(PREFIX):
        message = f"{key} on line {line} of {path} has no '=', so it sets nothing"
        return ConfigProblem(key, message, "warning", f"Write {key}=value, or delete the line.")
    # Not a name we know: it may be the tail of a long value wrapped onto its own line, so the
    # text itself is never repeated here.
    message = f"line {line} of {path} is neither a comment nor KEY=value, so it is ignored"
    suggestion = "If a long value was wrapped onto this line, join it back onto one line."
    return ConfigProblem(str(path), message, "warning", suggestion)


def _duplicate(path: Path, key: str, numbers: list[int]) -> ConfigProblem:
    listed = ", ".join(str(number) for number in numbers)
    return ConfigProblem(
        key=key,
        message=f"{key} is set more than once in {path} (lines {listed}); line {numbers[-1]} wins",
        severity="warning",
        suggestion="Keep one line per key so it is clear which value is used.",
    )


# --- unknown keys -----------------------------------------------------------------------------


def _prefixed(environ: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in environ.items() if key.upper().startswith(PREFIX)}


def _unknown_keys(values: Mapping[str, str], source: Source) -> list[ConfigProblem]:
    where = {"environment": "in the environment", "flag": "given as a flag"}.get(source, source)
    problems: list[ConfigProblem] = []
    for key in values:
        if key not in KNOWN_KEYS:
            problems.append(_unknown(key, where, did_you_mean(key)))
    return problems


def _unknown_file_key(key: str, where: str) -> list[ConfigProblem]:
    if key.upper() in _PROXY_KEYS:
        return [_proxy_in_file(key, where)]
    if key in KNOWN_KEYS:
        return []
    suggestion = did_you_mean(key)
    # Other keys in a shared .env (DATABASE_URL, ...) are not ours; only flag near misses.
    if key.upper().startswith(PREFIX) or suggestion is not None:
        return [_unknown(key, where, suggestion)]
    return []


def _unknown(key: str, where: str, suggestion: str | None) -> ConfigProblem:
    return ConfigProblem(
        key=key,
        message=f"{key} ({where}) is not a setting sage200-doctor knows, so it is ignored",
        severity="warning",
        suggestion=suggestion,
    )


def _proxy_in_file(key: str, where: str) -> ConfigProblem:
    return ConfigProblem(
        key=key,
        message=f"{key} ({where}) has no effect: proxies are read from the real environment only",
        severity="warning",
        suggestion=f"Set {key.upper()} in the environment instead (see docs/network.md).",
    )


def did_you_mean(key: str) -> str | None:
    """A "did you mean SAGE200_X?" hint for a mistyped key, or None when nothing is close."""
    candidate = key.upper()
    if candidate in KNOWN_KEYS:
        return f"did you mean {candidate}? (keys are case-sensitive)"
    if PREFIX + candidate in KNOWN_KEYS:
        return f"did you mean {PREFIX + candidate}?"
    if candidate.startswith(PREFIX):
        # Compare what follows the prefix: every key shares it, which would make all look close.
        suffixes = [known.removeprefix(PREFIX) for known in KNOWN_KEYS]
        close = difflib.get_close_matches(candidate.removeprefix(PREFIX), suffixes, n=1)
        return f"did you mean {PREFIX + close[0]}?" if close else None
    close = difflib.get_close_matches(candidate, KNOWN_KEYS, n=1, cutoff=0.85)
    return f"did you mean {close[0]}?" if close else None


# --- merging the layers -----------------------------------------------------------------------


def _merge(
    layers: Iterable[tuple[Source, Mapping[str, str]]], problems: list[ConfigProblem]
) -> tuple[dict[str, str], dict[str, Source]]:
    """The top-most layer that names a key wins, even with an empty value (which means unset)."""
    merged: dict[str, str] = {}
    sources: dict[str, Source] = {}
    for source, values in layers:
        for key, value in values.items():
            if key not in KNOWN_KEYS:
                continue
            if value == "" and merged.get(key):
                problems.append(_hidden_by_empty(key, source, sources[key]))
            merged[key] = value
            sources[key] = source
    empty = [key for key, value in merged.items() if value == ""]
    for key in empty:
        del merged[key], sources[key]
    return merged, sources


def _hidden_by_empty(key: str, source: Source, hidden: Source) -> ConfigProblem:
    where = {"environment": "in the environment", "flag": "as a flag"}.get(source, source)
    return ConfigProblem(
        key=key,
        message=f"{key} is set but empty {where}, which hides the value from the {hidden}",
        severity="warning",
        suggestion=f"Unset {key} {where}, or give it the value you mean.",
    )


# --- building typed settings ------------------------------------------------------------------


def _build(
    merged: Mapping[str, str],
    sources: dict[str, Source],
    env_file: Path | None,
    problems: list[ConfigProblem],
) -> Settings:
    edition = _edition(merged.get("SAGE200_EDITION"), problems)
    defaults = dict(DEFAULTS)
    if edition is not None and edition in EDITION_BASE_URLS:
        defaults["SAGE200_API_BASE_URL"] = EDITION_BASE_URLS[edition]
    for key in defaults:
        sources.setdefault(key, "default")
    values = {**defaults, **merged}

    def secret(key: str) -> Secret | None:
        return Secret(values[key]) if key in values else None

    return Settings(
        edition=edition,
        api_base_url=values["SAGE200_API_BASE_URL"],
        auth_url=values["SAGE200_AUTH_URL"],
        token_url=values["SAGE200_TOKEN_URL"],
        audience=values["SAGE200_AUDIENCE"],
        scope=values["SAGE200_SCOPE"],
        client_id=values.get("SAGE200_CLIENT_ID"),
        client_secret=secret("SAGE200_CLIENT_SECRET"),
        client_auth=_client_auth(merged.get("SAGE200_CLIENT_AUTH"), problems),
        redirect_uri=values.get("SAGE200_REDIRECT_URI"),
        access_token=secret("SAGE200_ACCESS_TOKEN"),
        authorization=secret("SAGE200_AUTHORIZATION"),
        refresh_token=secret("SAGE200_REFRESH_TOKEN"),
        subscription_key=secret("SAGE200_SUBSCRIPTION_KEY"),
        site_id=values.get("SAGE200_SITE_ID"),
        company_id=values.get("SAGE200_COMPANY_ID"),
        customer_reference=values.get("SAGE200_CUSTOMER_REFERENCE"),
        timeout_s=_timeout(merged.get("SAGE200_TIMEOUT_S"), problems),
        ca_bundle=_ca_bundle(merged.get("SAGE200_CA_BUNDLE"), problems),
        env_file=env_file,
        concurrency=_concurrency(merged.get("SAGE200_CONCURRENCY"), problems),
        refresh_token_issued_at=_moment(merged.get("SAGE200_REFRESH_TOKEN_ISSUED_AT"), problems),
        refresh_token_max_days=_days(
            "SAGE200_REFRESH_TOKEN_MAX_DAYS", DEFAULT_REFRESH_TOKEN_MAX_DAYS, merged, problems
        ),
        client_secret_expires=_day(merged.get("SAGE200_CLIENT_SECRET_EXPIRES"), problems),
        expiry_warning_days=_days(
            "SAGE200_EXPIRY_WARNING_DAYS", DEFAULT_EXPIRY_WARNING_DAYS, merged, problems, minimum=0
        ),
        resources=_resources(merged.get("SAGE200_RESOURCES"), problems),
        sources=MappingProxyType(sources),
        raw=MappingProxyType(_raw(merged)),
    )


def _raw(merged: Mapping[str, str]) -> dict[str, str | Secret]:
    return {key: Secret(value) if key in SECRET_KEYS else value for key, value in merged.items()}


def _edition(value: str | None, problems: list[ConfigProblem]) -> str | None:
    """Canonical edition name; an unknown one is kept as given (and reported)."""
    if value is None:
        return None
    canonical = value.strip().lower()
    if canonical in EDITION_BASE_URLS:
        return canonical
    close = difflib.get_close_matches(canonical, list(EDITION_BASE_URLS), n=1)
    problems.append(
        ConfigProblem(
            key="SAGE200_EDITION",
            message="SAGE200_EDITION must be standard or professional; the standard API base"
            " URL is used until it is fixed",
            severity="error",
            suggestion=f"did you mean {close[0]}?" if close else "Use standard or professional.",
        )
    )
    return value


def _client_auth(value: str | None, problems: list[ConfigProblem]) -> str:
    if value is None:
        return DEFAULTS["SAGE200_CLIENT_AUTH"]
    canonical = value.strip().lower()
    if canonical in CLIENT_AUTH_METHODS:
        return canonical
    problems.append(
        ConfigProblem(
            key="SAGE200_CLIENT_AUTH",
            message="SAGE200_CLIENT_AUTH must be basic (HTTP Basic header) or body (form"
            " fields); basic is used until it is fixed",
            severity="error",
            suggestion="Use basic, or body if your client sends client_id and secret as fields.",
        )
    )
    return DEFAULTS["SAGE200_CLIENT_AUTH"]


def _timeout(value: str | None, problems: list[ConfigProblem]) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if math.isfinite(seconds) and seconds > 0:
        return seconds
    problems.append(
        ConfigProblem(
            key="SAGE200_TIMEOUT_S",
            message="SAGE200_TIMEOUT_S must be a positive number of seconds; the default of"
            f" {DEFAULT_TIMEOUT_S:g} is used until it is fixed",
            severity="error",
            suggestion="For example SAGE200_TIMEOUT_S=30",
        )
    )
    return DEFAULT_TIMEOUT_S


def _ca_bundle(value: str | None, problems: list[ConfigProblem]) -> str | None:
    """The bundle path as given; None when it names no file, so no client ever tries to load it."""
    if value is None or Path(value).is_file():
        return value
    reason = "is not a file" if Path(value).exists() else "does not exist"
    hint = " (~ is not expanded here)" if value.startswith("~") else ""
    problems.append(
        ConfigProblem(
            key="SAGE200_CA_BUNDLE",
            message=f"SAGE200_CA_BUNDLE names {value!r}, which {reason}{hint}; relative paths"
            f" are taken from the directory sage200-doctor runs in ({Path.cwd()})",
            severity="error",
            suggestion="Point it at the PEM file of your organisation's root CA (docs/network.md).",
        )
    )
    return None


def _moment(value: str | None, problems: list[ConfigProblem]) -> datetime | None:
    """An ISO date or date-time; a date means its midnight, and no zone means UTC."""
    if value is None:
        return None
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        problems.append(
            ConfigProblem(
                key="SAGE200_REFRESH_TOKEN_ISSUED_AT",
                message="SAGE200_REFRESH_TOKEN_ISSUED_AT must be an ISO 8601 date or date-time"
                " (when you signed in); the refresh token's age is unknown until it is fixed",
                severity="error",
                suggestion="For example SAGE200_REFRESH_TOKEN_ISSUED_AT=2026-11-23T09:30:00Z",
            )
        )
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _day(value: str | None, problems: list[ConfigProblem]) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        problems.append(
            ConfigProblem(
                key="SAGE200_CLIENT_SECRET_EXPIRES",
                message="SAGE200_CLIENT_SECRET_EXPIRES must be an ISO 8601 date (YYYY-MM-DD); the"
                " client secret's expiry is unknown until it is fixed",
                severity="error",
                suggestion="For example SAGE200_CLIENT_SECRET_EXPIRES=2027-01-31",
            )
        )
        return None


def _days(
    key: str,
    default: int,
    merged: Mapping[str, str],
    problems: list[ConfigProblem],
    *,
    minimum: int = 1,
) -> int:
    value = merged.get(key)
    if value is None:
        return default
    text = value.strip()
    if re.fullmatch(r"[0-9]{1,4}", text) and minimum <= int(text) <= 3650:
        return int(text)
    problems.append(
        ConfigProblem(
            key=key,
            message=f"{key} must be a whole number of days between {minimum} and 3650; the"
            f" default of {default} is used until it is fixed",
            severity="error",
            suggestion=f"For example {key}={default}",
        )
    )
    return default


def _concurrency(value: str | None, problems: list[ConfigProblem]) -> int:
    if value is None:
        return DEFAULT_CONCURRENCY
    text = value.strip()
    if re.fullmatch(r"[0-9]{1,2}", text) and 1 <= int(text) <= MAX_CONCURRENCY:
        return int(text)
    problems.append(
        ConfigProblem(
            key="SAGE200_CONCURRENCY",
            message=f"SAGE200_CONCURRENCY must be a whole number from 1 (one request at a time)"
            f" to {MAX_CONCURRENCY}; the default of {DEFAULT_CONCURRENCY} is used until it is fixed",
            severity="error",
            suggestion="For example SAGE200_CONCURRENCY=1 for a gateway that limits bursts",
        )
    )
    return DEFAULT_CONCURRENCY


_RESOURCE_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")


def _resources(value: str | None, problems: list[ConfigProblem]) -> tuple[str, ...]:
    """Comma-separated collection names, as in the URL after the base (`sop_orders`).

    Case and surrounding slashes are forgiven (routing ignores them). A name that cannot be one
    is an error and dropped; a well-formed name Sage's reference lacks is a warning and kept, so
    the check still asks the server (the reference may be older than the site)."""
    names: list[str] = []
    for item in (value or "").split(","):
        name = item.strip().strip("/").lower()
        if not name or name in names:
            continue
        if not _RESOURCE_NAME.fullmatch(name):
            problems.append(_not_a_resource_name(item.strip()))
            continue
        names.append(name)
        if catalogue.find(name) is None:
            problems.append(_unknown_resource(name))
    return tuple(names)


def _not_a_resource_name(item: str) -> ConfigProblem:
    return ConfigProblem(
        key="SAGE200_RESOURCES",
        message=f"SAGE200_RESOURCES names {item!r}, which is not a resource name (letters,"
        " digits and _, as in the URL after the base, without ids or query options); it is"
        " left out",
        severity="error",
        suggestion="For example SAGE200_RESOURCES=sop_orders,products,nominal_codes",
    )


def _unknown_resource(name: str) -> ConfigProblem:
    hint = catalogue.did_you_mean(name)
    return ConfigProblem(
        key="SAGE200_RESOURCES",
        message=f"SAGE200_RESOURCES names {name}, which is not a GET collection in Sage's"
        " published API reference; api.resources asks the server for it anyway",
        severity="warning",
        suggestion=hint.removeprefix("did you mean ").removesuffix("?") if hint else None,
    )


def _or_not_set(value: object) -> str:
    return "not set" if value is None else str(value)
