"""`--run`: one request of the collection as it goes out, with a fresh token in place of the one
the export holds, and the reasons a request is not sent at all.

The Authorization header is built the way postman-runtime builds it (`lib/authorizer/`): OAuth
2.0 joins the Header Prefix (default `Bearer`, trimmed, one space added when not empty) and the
token; Bearer Token sends `Bearer ` + the token; either replaces a typed Authorization header. A
typed header with no auth keeps its shape exactly as typed (`Bearer{{token}}` stays without its
space: that is what is being diagnosed) and only the token in it is replaced.
"""

from __future__ import annotations

from typing import Final

from sage200_doctor.rules.authorization import QUOTES

from .model import ResolvedRequest
from .sage import is_sage_api

AUTHORIZATION: Final = "authorization"
SIGNING_AUTH: Final = ("oauth2", "bearer")


def authorization_for(request: ResolvedRequest, token: str) -> str | None:
    """The Authorization value Postman would send with `token` as its token (None: none)."""
    auth = request.auth
    if auth is not None and auth.type == "oauth2":
        if (auth.get("addTokenTo") or "header") != "header":
            return None  # in the query string: the API never sees it (the lint says so)
        prefix = auth.get("headerPrefix")
        prefix = "Bearer" if prefix is None else prefix.strip()
        return f"{prefix} {token}" if prefix else token
    if auth is not None and auth.type == "bearer":
        return f"Bearer {token}"
    typed = _typed_authorization(request)
    return None if typed is None else with_token(typed, token)


def with_token(typed: str, token: str) -> str:
    """`typed` with its token replaced by `token`, everything around it kept: the scheme as
    written, the spacing after it (or none), quotes, surrounding whitespace."""
    body = typed.lstrip()
    head = typed[: len(typed) - len(body)]
    while body[:6].lower() == "bearer":  # `Bearer Bearer …` keeps both
        after = body[6:]
        rest = after.lstrip()
        head += body[:6] + after[: len(after) - len(rest)]
        body = rest
    core = body.rstrip()
    tail = body[len(core) :]
    opening = core[:1] if core[:1] in QUOTES else ""
    closing = core[-1:] if len(core) > 1 and core[-1:] in QUOTES else ""
    return head + opening + token + closing + tail


def headers_for(request: ResolvedRequest, token: str) -> dict[str, str]:
    """The headers to send: the typed ones (an Authorization one only where no auth replaces
    it), an API key auth's header, and the Authorization Postman would add."""
    signs = request.auth is not None and request.auth.type in SIGNING_AUTH
    headers: dict[str, str] = {}
    for pair in request.headers:
        key = pair.key.strip()
        if not key or (
            key.lower() == AUTHORIZATION and (signs or _is_apikey_authorization(request))
        ):
            continue
        headers[key] = pair.value
    headers.update(_apikey_header(request))
    authorization = authorization_for(request, token)
    if authorization is not None:
        headers = {k: v for k, v in headers.items() if k.lower() != AUTHORIZATION}
        headers["Authorization"] = authorization
    return headers


def why_not_sent(
    request: ResolvedRequest, *, api_base_url: str | None, have_token: bool
) -> str | None:
    """Why this request is not sent (a short phrase), or None when it is sent."""
    if not is_sage_api(request.url, api_base_url):
        return "not a Sage 200 API request"
    if request.method != "GET":
        return f"{request.method} writes (postman.writes)"
    undefined = [
        entry.name
        for entry in request.unresolved
        if entry.where == "url" or entry.where.startswith("query") or _header_where(entry.where)
    ]
    if undefined:
        return f"{{{{{undefined[0]}}}}} is not defined"
    broken = [pair.key for pair in request.headers if "\n" in pair.value or "\r" in pair.value]
    if broken:
        return f"its {broken[0]} header has a line break, which HTTP cannot carry"
    if not have_token:
        return "no access token to send it with"
    return None


def _header_where(where: str) -> bool:
    """An unresolved variable in a header other than Authorization (whose token is replaced)."""
    return where.startswith("header") and where.lower() != "header authorization"


def _typed_authorization(request: ResolvedRequest) -> str | None:
    auth = request.auth
    if auth is not None and _is_apikey_authorization(request):
        return auth.get("value") or ""
    return request.header("Authorization")


def _is_apikey_authorization(request: ResolvedRequest) -> bool:
    auth = request.auth
    return (
        auth is not None
        and auth.type == "apikey"
        and (auth.get("key") or "").strip().lower() == AUTHORIZATION
        and (auth.get("in") or "header") == "header"
    )


def _apikey_header(request: ResolvedRequest) -> dict[str, str]:
    auth = request.auth
    if auth is None or auth.type != "apikey" or (auth.get("in") or "header") != "header":
        return {}
    key = (auth.get("key") or "").strip()
    if not key or key.lower() == AUTHORIZATION:
        return {}
    return {key: auth.get("value") or ""}
