"""config.*: is there enough configuration to run, and is every value well-formed?"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from sage200_doctor.config.settings import ConfigProblem, Secret
from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import check, fail, warn
from sage200_doctor.rules.sites import GUID

TYPOGRAPHIC_QUOTES = "“”‘’„«»"
EDITION_PATHS = {"standard": "/uk/sage200/", "professional": "/uk/sage200extra/"}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
PLACEHOLDER = re.compile(r"^(?:bearer\s+)?example(?:[-_]|\d*$)|-not-real$", re.IGNORECASE)
NIL_GUID = "00000000-0000-0000-0000-000000000000"
EXAMPLE_VALUE = (
    "still the made-up example from config.example.env; put your own value here (or remove the "
    "line)"
)
# The header value is linted (and tried against the server) by header.authorization, where
# the user sees the server's own answer to it; linting it here would hide that evidence.
LINTED_ELSEWHERE = frozenset({"SAGE200_AUTHORIZATION"})


@check(
    "config.complete",
    order=10,
    title="Configuration is complete",
    verifies="enough settings are present to run (a token source; client id where refresh is needed)",
    guidance=("guide.config",),
)
def check_configuration_is_complete(run: Diagnosis) -> str:
    settings = run.settings
    if settings.refresh_token and not settings.client_id:
        fail(
            "A refresh token is configured but SAGE200_CLIENT_ID is not, so it cannot be used.",
            detail="The refresh grant needs the client id the token was issued to.",
        )
    if settings.refresh_token:
        return "A refresh token and client id are configured: the run mints a fresh access token."
    if settings.access_token or settings.authorization:
        return "An access token is configured (no refresh token: it is used as it is)."
    fail(
        "No way to get an access token: none of SAGE200_REFRESH_TOKEN, SAGE200_ACCESS_TOKEN "
        "or SAGE200_AUTHORIZATION is set.",
        detail="Sign in once with `sage200-doctor login` to get a refresh token, or paste an "
        "access token into SAGE200_ACCESS_TOKEN.",
    )


@check(
    "config.values",
    order=20,
    title="Configuration values are well-formed",
    verifies="no typographic quotes, stray whitespace or line breaks, no `Bearer` pasted into a "
    "token field, a base URL that matches the edition, a GUID site id, an integer company id",
    depends=("config.complete",),
    guidance=("guide.config",),
)
def check_values_are_well_formed(run: Diagnosis) -> str:
    errors = [_named(p) for p in run.problems if p.severity == "error"]
    warnings = [_named(p) for p in run.problems if p.severity == "warning"]
    for key, value in run.settings.raw.items():
        if key not in LINTED_ELSEWHERE:
            errors.extend((key, f"{key}: {issue}") for issue in lint_value(key, value))
    errors.extend(_keyed(_url_problems(run)) + _keyed(_identifier_problems(run)))
    examples = placeholder_keys(run.settings.raw)
    errors.extend((key, f"{key}: {EXAMPLE_VALUE}") for key in examples)
    detail = "\n".join(line for _, line in errors + warnings)
    if errors:
        fail(_error_summary(errors, examples), detail=detail)
    if warnings:
        warn(f"{len(warnings)} configuration note(s): {_keys(warnings)}.", detail=detail)
    return f"{len(run.settings.raw)} setting(s) checked; all well-formed."


Named = tuple[str, str]
"""(the key a problem is about, its line for the details)."""


def _named(problem: ConfigProblem) -> Named:
    return problem.key, _line(problem)


def _keyed(lines: list[str]) -> list[Named]:
    return [(line.partition(":")[0], line) for line in lines]


def _keys(problems: list[Named]) -> str:
    return ", ".join(dict.fromkeys(key for key, _ in problems))


def _error_summary(errors: list[Named], examples: list[str]) -> str:
    """Names the keys (never a value): the -q line and the CI log say what to fix."""
    if examples and len(examples) == len(errors):
        holds = (
            "still holds its example value"
            if len(examples) == 1
            else ("still hold their example values")
        )
        return f"{', '.join(examples)} {holds} from config.example.env: replace with your own."
    return f"{len(errors)} configuration value(s) are malformed: {_keys(errors)}."


def placeholder_keys(raw: Mapping[str, str | Secret]) -> list[str]:
    """The keys whose value is one of config.example.env's made-up examples.

    Every example there starts with `example` (`example-client-id-0000`, `EXAMPLE1`) or ends
    with `-not-real`, and the example X-Site is the all-zero GUID, which no site has."""
    found = []
    for key, value in raw.items():
        text = (value.reveal() if isinstance(value, Secret) else value).strip()
        if PLACEHOLDER.search(text) or text == NIL_GUID:
            found.append(key)
    return found


def lint_value(key: str, value: str | Secret) -> list[str]:
    """What is wrong with one value as typed. Never echoes a secret value."""
    text = value.reveal() if isinstance(value, Secret) else value
    issues: list[str] = []
    if any(mark in text for mark in TYPOGRAPHIC_QUOTES):
        issues.append(
            "contains typographic quotes (“ ” ‘ ’), usually from a word processor or chat"
        )
    if "\n" in text or "\r" in text:
        issues.append("contains a line break")
    if text != text.strip():
        issues.append("has leading or trailing whitespace")
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
        issues.append("is wrapped in quotes that became part of the value")
    if key in ("SAGE200_ACCESS_TOKEN", "SAGE200_REFRESH_TOKEN") and stripped.lower().startswith(
        "bearer"
    ):
        issues.append(
            "starts with 'Bearer': put only the token here, the scheme is added when sending"
        )
    return issues


def _line(problem: ConfigProblem) -> str:
    """`KEY: what is wrong. What to do.` (the suggestion is a sentence of its own); a message
    that starts with its key is not prefixed with it again."""
    text = problem.message
    if not text.startswith(problem.key):
        text = f"{problem.key}: {text}"
    return f"{text}. {problem.suggestion}" if problem.suggestion else text


def _url_problems(run: Diagnosis) -> list[str]:
    settings = run.settings
    problems: list[str] = []
    for key, url in (
        ("SAGE200_API_BASE_URL", settings.api_base_url),
        ("SAGE200_TOKEN_URL", settings.token_url),
        ("SAGE200_AUTH_URL", settings.auth_url),
    ):
        try:
            parts = urlsplit(url.strip())
        except ValueError:
            continue  # unparsable (an unclosed IPv6 bracket): reported when the settings loaded
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(f"{key}: {url!r} is not an http(s) URL")
        elif parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            problems.append(f"{key}: plain http would send tokens unencrypted; use https")
    expected = EDITION_PATHS.get((settings.edition or "").strip().lower())
    other = [path for path in EDITION_PATHS.values() if path != expected]
    if expected and other and other[0] in settings.api_base_url:
        problems.append(
            f"SAGE200_API_BASE_URL: the path {other[0]} belongs to the other edition than "
            f"SAGE200_EDITION={settings.edition} (expected {expected})"
        )
    return problems


def _identifier_problems(run: Diagnosis) -> list[str]:
    settings = run.settings
    problems: list[str] = []
    if settings.site_id and not GUID.match(settings.site_id.strip()):
        problems.append("SAGE200_SITE_ID: not a GUID; copy site_id from GET sites")
    if settings.company_id and not settings.company_id.strip().isdigit():
        problems.append("SAGE200_COMPANY_ID: not a whole number; copy company_id from GET sites")
    reference = settings.customer_reference
    if reference and len(reference.strip()) > 8:
        problems.append(
            "SAGE200_CUSTOMER_REFERENCE: longer than the 8 characters a reference can have"
        )
    return problems
