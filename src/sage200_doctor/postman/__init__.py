"""Postman exports: read a collection (and its environment and globals), resolve every request as
Postman would send it, lint it against Sage's Postman article, and turn it into SAGE200_* settings.

    collection = load_collection(Path("Sage 200.postman_collection.json"))
    environment = load_environment(Path("Sage 200.postman_environment.json"))
    findings = lint_collection(collection, environment=environment)
    write_env_file(Path("site.env"), settings_from_export(collection, environment=environment),
                   sources=(collection.source, environment.source))

Nothing above sends a request. `sage200-doctor postman` (commands/postman.py) turns the lint
into a run's result (`results`, `coverage`) and, with `--run`, sends the collection's GET
requests through the doctor's own session (`send`, `outgoing`, `judge`). Every error is a
`PostmanError` (a `UsageError`, exit 4) whose message is safe to print.
"""

from __future__ import annotations

from .export import render_env, secrets_in_export, settings_from_export, write_env_file
from .lint import Finding, lint_collection
from .load import load_collection, load_environment, parse_collection, parse_environment
from .model import (
    Auth,
    AuthParam,
    Collection,
    Example,
    Pair,
    PostmanError,
    ResolvedRequest,
    Unresolved,
    Variable,
    VariableScope,
)
from .resolve import resolve_requests
from .sage import is_sage_api

__all__ = [
    "Auth",
    "AuthParam",
    "Collection",
    "Example",
    "Finding",
    "Pair",
    "PostmanError",
    "ResolvedRequest",
    "Unresolved",
    "Variable",
    "VariableScope",
    "is_sage_api",
    "lint_collection",
    "load_collection",
    "load_environment",
    "parse_collection",
    "parse_environment",
    "render_env",
    "resolve_requests",
    "secrets_in_export",
    "settings_from_export",
    "write_env_file",
]
