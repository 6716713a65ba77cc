"""The article's lint: a collection built by following "Using Postman with the Sage 200 RESTful
API", judged setting by setting, without sending anything.

Each finding is a `Judgement` filed under the live check that verifies the same thing on a real
run (so `explain` and the reports treat both alike), plus where in the collection it was found.
Messages name settings, headers and variables, never their values.

| check | what the lint looks at |
|---|---|
| `config.values` | grant type, Auth/Access Token URLs, callback URL, edition path, X-Site/X-Company shape, unresolved variables |
| `config.complete` | a client id in the OAuth 2.0 settings |
| `token.scope` | `offline_access` in the scope |
| `token.claims` | the `audience` authorization parameter |
| `header.authorization` | header prefix, where the token goes, auth type, a typed Authorization header |
| `gateway.subscription_key` | the `ocp-apim-subscription-key` header |
| `sites.selection` | X-Site and X-Company on company-scoped calls |
| `customers.filter`, `customers.query_conformance` | the OData query options (`rules.query`) |
| `postman.writes` | requests other than GET: listed, never sent |
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from sage200_doctor.rules import Judgement
from sage200_doctor.rules.authorization import lint_authorization
from sage200_doctor.rules.query import judge_query

from .auth_lint import lint_auth
from .model import Collection, ResolvedRequest, VariableScope
from .resolve import resolve_requests
from .sage import company_scoped, edition_of, is_sage_api, path_of
from .variables import Scopes

WRITES_CHECK: Final = "postman.writes"
GUID: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
EDITION_VARIABLES: Final = ("edition", "sage200_edition")

Scope = Literal["collection", "folder", "request"]


@dataclass(frozen=True)
class Finding:
    """A `Judgement` and the part of the collection it is about."""

    judgement: Judgement
    scope: Scope
    path: tuple[str, ...] = ()
    requests: tuple[tuple[str, ...], ...] = ()
    """The item paths of the requests it concerns: the request itself, the requests that use
    the auth it is about, or the requests a collection-wide finding was drawn from."""

    @property
    def where(self) -> str:
        if self.scope == "collection":
            return "the collection"
        return f"{self.scope} '{'/'.join(self.path)}'"

    @property
    def check(self) -> str:
        return self.judgement.check

    @property
    def outcome(self) -> str:
        return self.judgement.outcome


def lint_collection(
    collection: Collection,
    *,
    environment: VariableScope | None = None,
    globals_: VariableScope | None = None,
    edition: str | None = None,
    api_base_url: str | None = None,
) -> list[Finding]:
    """Judge the collection against the article. `edition` (`standard`/`professional`) defaults
    to an `edition` variable of the environment; `api_base_url` names a further API host (a test
    server) whose requests count as Sage 200 API requests."""
    requests = resolve_requests(collection, environment=environment, globals_=globals_)
    sage = [request for request in requests if is_sage_api(request.url, api_base_url)]
    if not sage:
        return [_no_api_requests(requests)]
    scopes = Scopes.of(environment=environment, collection=collection.variables, globals_=globals_)
    edition = (edition or _edition_variable(scopes) or "").strip().lower() or None
    request_paths = {request.path for request in requests}
    findings = list(_auth_findings(sage, request_paths))
    findings.extend(_edition_mix(sage, edition))
    for request in sage:
        findings.extend(_at(request, _judge_request(request, edition)))
    return findings


# --- auth, judged once where it is defined ------------------------------------------------------


def _auth_findings(
    requests: Sequence[ResolvedRequest], request_paths: set[tuple[str, ...]]
) -> Iterator[Finding]:
    seen: set[tuple[str, ...]] = set()
    for request in requests:
        auth = request.auth
        if auth is None or auth.type == "noauth" or auth.defined_at in seen:
            continue
        seen.add(auth.defined_at)
        scope: Scope = (
            "collection"
            if not auth.defined_at
            else "request"
            if auth.defined_at in request_paths
            else "folder"
        )
        users = tuple(
            other.path
            for other in requests
            if other.auth is not None and other.auth.defined_at == auth.defined_at
        )
        for judgement in lint_auth(auth):
            yield Finding(judgement, scope, auth.defined_at, users)


# --- one request --------------------------------------------------------------------------------


def _judge_request(request: ResolvedRequest, edition: str | None) -> list[Judgement]:
    judgements = list(_authorization(request))
    judgements.extend(_subscription_key(request))
    judgements.extend(_site_and_company(request))
    judgements.extend(_edition_path(request, edition))
    judgements.extend(judge_query((pair.key, pair.value) for pair in request.query))
    judgements.extend(_unresolved(request))
    if request.method != "GET":
        judgements.append(
            Judgement(
                WRITES_CHECK,
                "warning",
                f"{request.method} request: it writes to the accounts and is never sent.",
                "sage200-doctor only reads (GET). This request is listed so that nothing is "
                "skipped silently; check it by hand against the API reference.",
            )
        )
    return judgements


def _authorization(request: ResolvedRequest) -> Iterator[Judgement]:
    typed = request.header("Authorization")
    signs = request.auth is not None and request.auth.type not in ("noauth", "apikey")
    if typed is not None:
        issues = lint_authorization(typed)
        if issues:
            also = " The auth settings would replace it once they hold a token." if signs else ""
            yield Judgement(
                "header.authorization",
                "failed",
                f"The Authorization header typed on this request is malformed: {'; '.join(issues)}.",
                "It must be 'Bearer', one space, then the token." + also,
                ("faq.postman.bearer-space",),
            )
    elif not signs:
        yield Judgement(
            "header.authorization",
            "failed",
            "This request sends no Authorization header: its auth is 'No Auth' or unset and "
            "none is typed.",
            "Set OAuth 2.0 on the collection (Authorization tab) and let requests inherit it.",
            ("faq.errors.401", "faq.postman.bearer-space"),
        )


def _subscription_key(request: ResolvedRequest) -> Iterator[Judgement]:
    if _sent_header(request, "ocp-apim-subscription-key") or any(
        pair.key.lower() == "subscription-key" and pair.value for pair in request.query
    ):
        return
    yield Judgement(
        "gateway.subscription_key",
        "warning",
        "No ocp-apim-subscription-key header (or it is empty).",
        "The article sends the developer subscription key on every request. Whether the gateway "
        "still requires it is what the live check gateway.subscription_key finds out.",
        ("faq.postman.subscription-key",),
    )


def _site_and_company(request: ResolvedRequest) -> Iterator[Judgement]:
    if not company_scoped(request.url):
        return
    missing = [name for name in ("X-Site", "X-Company") if not _sent_header(request, name)]
    if missing:
        yield Judgement(
            "sites.selection",
            "failed",
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing on a "
            "company-scoped call.",
            "Every call other than GET sites needs X-Site (site_id) and X-Company (company_id) "
            "from GET sites; without them the API answers 401.",
            ("faq.postman.site-company", "faq.errors.401"),
        )
        return
    yield from _site_company_shape(request)


def _site_company_shape(request: ResolvedRequest) -> Iterator[Judgement]:
    site = (request.header("X-Site") or "").strip()
    company = (request.header("X-Company") or "").strip()
    problems = []
    if "{{" not in site and not GUID.fullmatch(site):
        problems.append("X-Site is not a GUID (copy site_id from GET sites)")
    if "{{" not in company and not company.isdigit():
        problems.append("X-Company is not a whole number (copy company_id from GET sites)")
    if problems:
        yield Judgement(
            "config.values",
            "failed",
            f"{'; '.join(problems)}.",
            "The values come from GET sites: site_id for X-Site, company_id for X-Company.",
            ("faq.postman.site-company",),
        )


def _edition_path(request: ResolvedRequest, edition: str | None) -> Iterator[Judgement]:
    found = edition_of(request.url)
    if edition and found and found != edition:
        yield Judgement(
            "config.values",
            "failed",
            f"The path {path_of(request.url)} is the {found} edition's, but the edition is "
            f"{edition}.",
            "Standard uses /uk/sage200/, Professional /uk/sage200extra/; the other edition's "
            "path answers 404.",
            ("faq.errors.404", "guide.config"),
        )


def _unresolved(request: ResolvedRequest) -> Iterator[Judgement]:
    if request.unresolved:
        listing = ", ".join(
            f"{{{{{entry.name}}}}} in {entry.where}" for entry in request.unresolved
        )
        yield Judgement(
            "config.values",
            "warning",
            f"{len(request.unresolved)} variable(s) are not defined in the files given: {listing}.",
            "Pass the environment (and globals) the collection was used with, or define them.",
            ("guide.config",),
        )


def _sent_header(request: ResolvedRequest, name: str) -> bool:
    """Is a non-empty header of that name sent, typed or added by an API key auth?"""
    if (request.header(name) or "").strip():
        return True
    auth = request.auth
    return (
        auth is not None
        and auth.type == "apikey"
        and (auth.get("key") or "").lower() == name.lower()
        and (auth.get("in") or "header") == "header"
        and bool((auth.get("value") or "").strip())
    )


# --- the collection as a whole ------------------------------------------------------------------


def _edition_mix(requests: Sequence[ResolvedRequest], edition: str | None) -> Iterator[Finding]:
    editions = {found for request in requests if (found := edition_of(request.url))}
    if edition is None and len(editions) > 1:
        yield Finding(
            Judgement(
                "config.values",
                "warning",
                "The requests mix the Standard (/uk/sage200/) and Professional "
                "(/uk/sage200extra/) paths.",
                "One site is one edition; the other path answers 404. Set the edition to know "
                "which requests are wrong.",
                ("faq.errors.404", "guide.config"),
            ),
            "collection",
            requests=tuple(request.path for request in requests if edition_of(request.url)),
        )


def _edition_variable(scopes: Scopes) -> str | None:
    for layer in scopes.layers:
        for variable in reversed(layer.variables):
            if variable.enabled and variable.key.strip().lower() in EDITION_VARIABLES:
                return variable.value
    return None


def _no_api_requests(requests: Sequence[ResolvedRequest]) -> Finding:
    return Finding(
        Judgement(
            "config.values",
            "warning",
            f"None of the {len(requests)} request(s) goes to the Sage 200 API.",
            "Requests to api.columbus.sage.com under /uk/sage200/ or /uk/sage200extra/ are "
            "checked. If the URLs use variables, pass the environment that defines them.",
            ("guide.config",),
        ),
        "collection",
        requests=tuple(request.path for request in requests),
    )


def _at(request: ResolvedRequest, judgements: Sequence[Judgement]) -> list[Finding]:
    return [
        Finding(judgement, "request", request.path, (request.path,)) for judgement in judgements
    ]
