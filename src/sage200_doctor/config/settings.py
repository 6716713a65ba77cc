"""Loading and validating the SAGE200_* settings (CONTRACT.md §2).

Values come from an env file (read with python-dotenv), then the real environment, then command
line flags, each layer overriding the one before. Loading never raises for a bad value: every
problem is collected in one pass so the user fixes them all at once, and the `config.*` checks turn
them into findings. Values are kept exactly as given (apart from python-dotenv's own unquoting) so
that `config.values` can point at a stray space or a typographic quote instead of us hiding it.
Which keys exist, which are secret and how each is parsed is the table in `keys.py`.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from sage200_doctor.config.keys import (
    DEFAULT_CONCURRENCY,
    DEFAULT_EXPIRY_WARNING_DAYS,
    DEFAULT_REFRESH_TOKEN_MAX_DAYS,
    EDITION_BASE_URLS,
    KEYS,
    KNOWN_KEYS,
    PREFIX,
    SECRET_FIELDS,
    SECRET_KEYS,
    ConfigProblem,
    Parsing,
    did_you_mean,
    url_problem,
)
from sage200_doctor.config.secret import Secret
from sage200_doctor.errors import UsageError as _UsageError

if TYPE_CHECKING:
    from sage200_doctor.redact import Redactor

__all__ = [
    "KNOWN_KEYS",
    "SECRET_KEYS",
    "ConfigProblem",
    "LoadedSettings",
    "Secret",
    "Settings",
    "UsageError",
    "did_you_mean",
    "load_settings",
]

# Proxy variables only work from the real environment; in the env file they are silently useless.
PROXY_KEYS: Final = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


class _DropUnparsedLineWarnings(logging.Filter):
    """dotenv logs each unreadable line; we report them ourselves with the file name and a fix,
    so its bare log line would only be noise on the terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("python-dotenv could not parse statement")


logging.getLogger("dotenv.main").addFilter(_DropUnparsedLineWarnings())

Source = Literal["file", "environment", "flag", "default"]


class UsageError(_UsageError):
    """The env file named on the command line cannot be read (exit 4)."""


@dataclass(frozen=True)
class Settings:
    """The effective configuration after all layers were applied (fields: see keys.KEYS)."""

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

    @property
    def usable_ca_bundle(self) -> str | None:
        """The extra CA file, when it could be loaded (a bad one is a config finding; TLS is
        still verified with the default roots meanwhile)."""
        return self.ca_bundle

    def public_summary(self) -> dict[str, str]:
        """What may be shown anywhere: plain settings, and only "set"/"not set" for secrets."""
        summary: dict[str, str] = {}
        for key in KEYS:
            value = getattr(self, key.field)
            if key.secret:
                summary[key.field] = "set" if value else "not set"
            elif isinstance(value, tuple):
                summary[key.field] = ", ".join(value) or "not set"
            else:
                summary[key.field] = "not set" if value is None else _shown(value)
        return summary

    def environment_summary(self) -> dict[str, Any]:
        """Where a run points, for every report's environment section (no secret, no userinfo)."""
        return {
            "edition": self.edition,
            "api_base_url": without_userinfo(self.api_base_url),
            "token_url": without_userinfo(self.token_url),
            "site_id": self.site_id,
            "company_id": self.company_id,
        }

    def secrets(self) -> Iterable[tuple[str, Secret]]:
        """(label, value) of every configured secret."""
        for name in SECRET_FIELDS:
            value = getattr(self, name)
            if value:
                yield name, value

    def redactor(self) -> Redactor:
        """A redactor that knows every secret of these settings (see `redactor_for`)."""
        return redactor_for(self)


def redactor_for(*environments: Settings) -> Redactor:
    """A redactor that knows every configured secret of these environments, the Basic pair that
    encodes each client secret, and the passwords of the proxies in the environment."""
    from sage200_doctor.redact import Redactor, add_url_credentials

    redactor = Redactor()
    for settings in environments:
        # user:password@ in a configured URL or a proxy variable is a credential too.
        add_url_credentials(redactor, settings.raw.values(), environ=os.environ)
        for name, value in settings.secrets():
            redactor.add(name, value)
        if settings.client_id and settings.client_secret:
            redactor.add_basic_credentials(
                settings.client_id.strip(), settings.client_secret.reveal().strip()
            )
    return redactor


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def without_userinfo(url: str) -> str:
    """`url` without `user:password@` (userinfo is a credential wherever it appears)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


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
    environ = os.environ if environ is None else environ
    problems: list[ConfigProblem] = proxy_problems(environ)
    file_values: dict[str, str] = {}
    if env_file is not None:
        file_values = _read_env_file(env_file, problems)
    layers: tuple[tuple[Source, Mapping[str, str]], ...] = (
        ("file", file_values),
        ("environment", _prefixed(environ)),
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
        key=safe_key_label(key) if key else str(path),
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
    label = safe_key_label(key) if key else None
    names = f" (it seems to set {label})" if label else ""
    return ConfigProblem(
        key=label or str(path),
        message=f"line {line} of {path} could not be read as KEY=value and was ignored{names}",
        severity="error" if key and key.upper().startswith(PREFIX) else "warning",
        suggestion=(
            "Write it as KEY=value. A quoted value needs its closing quote, and only a"
            " # comment may follow it."
        ),
    )


def _no_equals(path: Path, line: int, key: str) -> ConfigProblem:
    if key.upper().startswith(PREFIX):
        label = safe_key_label(key)
        name = label.split(" ", 1)[0] if label.upper().startswith(PREFIX) else "KEY"
        message = f"{label} on line {line} of {path} has no '=', so it sets nothing"
        return ConfigProblem(name, message, "warning", f"Write {name}=value, or delete the line.")
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
    return [_unknown(key, where) for key in values if key not in KNOWN_KEYS]


def _unknown_file_key(key: str, where: str) -> list[ConfigProblem]:
    if key.upper() in PROXY_KEYS:
        return [_proxy_in_file(key, where)]
    if key in KNOWN_KEYS:
        return []
    # Other keys in a shared .env (DATABASE_URL, ...) are not ours; only flag near misses.
    if key.upper().startswith(PREFIX) or did_you_mean(key) is not None:
        return [_unknown(key, where)]
    return []


def _unknown(key: str, where: str) -> ConfigProblem:
    label = safe_key_label(key)
    close = did_you_mean(key)
    suggestion = None
    if close is not None:
        case = " (keys are case-sensitive)" if close == key.upper() else ""
        suggestion = f"Did you mean {close}?{case}"
    return ConfigProblem(
        key=label,
        message=f"{label} ({where}) is not a setting sage200-doctor knows, so it is ignored",
        severity="warning",
        suggestion=suggestion,
    )


_KEY_LIKE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,47}")


def safe_key_label(key: str) -> str:
    """How to name a key a line seems to set without echoing a value glued to it.

    `SAGE200_CLIENT_SECRETs3cr3t` or `SAGE200_CLIENT_SECRET-s3cr3t` (a missing `=`) would print
    the secret if quoted whole: a known key at its start is named alone, and anything that does
    not look like a key name is not shown at all."""
    for known in sorted(KNOWN_KEYS, key=len, reverse=True):
        if key.upper().startswith(known) and len(key) > len(known):
            return f"{known} (followed by other text instead of '=')"
    return key if _KEY_LIKE.fullmatch(key) else "a line's key (not shown: it may hold a value)"


def _proxy_in_file(key: str, where: str) -> ConfigProblem:
    return ConfigProblem(
        key=key,
        message=f"{key} ({where}) has no effect: proxies are read from the real environment only",
        severity="warning",
        suggestion=f"Set {key.upper()} in the environment instead (see docs/network.md).",
    )


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


# --- building typed settings -------------------------------------------------------------


def _build(
    merged: Mapping[str, str],
    sources: dict[str, Source],
    env_file: Path | None,
    problems: list[ConfigProblem],
) -> Settings:
    values: dict[str, Any] = {}
    for key in KEYS:
        text = merged.get(key.name, key.default)
        if key.name not in merged and key.default is not None:
            sources.setdefault(key.name, "default")
        values[key.field] = None if text is None else key.parse(text, Parsing(key, problems))
    if values["api_base_url"] is None:
        edition = values["edition"] if values["edition"] in EDITION_BASE_URLS else "standard"
        values["api_base_url"] = EDITION_BASE_URLS[edition]
        sources.setdefault("SAGE200_API_BASE_URL", "default")
    return Settings(
        **values,
        env_file=env_file,
        sources=MappingProxyType(sources),
        raw=MappingProxyType(_raw(merged)),
    )


def _raw(merged: Mapping[str, str]) -> dict[str, str | Secret]:
    return {key: Secret(value) if key in SECRET_KEYS else value for key, value in merged.items()}


def proxy_problems(environ: Mapping[str, str]) -> list[ConfigProblem]:
    """Proxy variables no HTTP client could use (malformed, or a SOCKS proxy)."""
    problems: list[ConfigProblem] = []
    for upper in PROXY_KEYS[:3]:
        # urllib (and so httpx) reads the lower-case variable when both are set.
        variable = next((name for name in (upper.lower(), upper) if environ.get(name)), None)
        if variable is None:
            continue
        value = environ[variable]
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme.startswith("socks"):
            reason = "is a SOCKS proxy; only http:// and https:// proxies are supported"
        else:
            problem = url_problem(value.strip())
            reason = f"is not a usable proxy URL: {problem}" if problem else ""
        if reason:
            problems.append(
                ConfigProblem(
                    variable,
                    f"{variable} (in the environment) {reason}",
                    "error",
                    "Write it as http://proxy.example:3128 (see docs/network.md).",
                )
            )
    return problems
