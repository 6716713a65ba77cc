"""The Authorization tab of the article, judged: OAuth 2.0 with Sage ID, authorization code grant,
`offline_access`, the `Bearer` prefix, the `audience` parameter, a callback URL.

How Postman turns the OAuth 2.0 settings into a header (postman-runtime,
`lib/authorizer/oauth2.js`): the header prefix defaults to `Bearer`, is trimmed, and one space is
added when it is not empty, then the token follows. That trimming arrived in postman-runtime
7.26.5 (31 August 2020, GH-1086); from 7.26.0 (June 2020), which introduced the prefix field, to
7.26.4 the prefix was used exactly as typed, so `Bearer` without a space gave `Bearer<token>`:
the denial the article warns about. A prefix of `Bearer` is therefore a warning (older Postman
versions and other tools importing the collection still join it as typed); an empty or different
prefix is a failure on any version.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final
from urllib.parse import parse_qs, urlsplit

from sage200_doctor.rules import Judgement

from .model import Auth

SAGE_ID_HOST: Final = "id.sage.com"
AUDIENCE: Final = "s200ukipd/sage200"
CODE_GRANTS: Final = ("authorization_code", "authorization_code_with_pkce")
CREDENTIALS: Final = ("guide.auth.credentials",)
BEARER_SPACE: Final = ("faq.postman.bearer-space",)


def lint_auth(auth: Auth) -> list[Judgement]:
    """What is wrong with one auth definition, judged against the article."""
    if auth.type == "oauth2":
        return list(_oauth2(auth))
    if auth.type == "bearer":
        return list(_bearer(auth))
    return [
        Judgement(
            "header.authorization",
            "failed",
            f"The auth type is '{auth.type}'; the Sage 200 API takes an OAuth 2.0 bearer token.",
            "Choose OAuth 2.0 on the Authorization tab, as the article does.",
            BEARER_SPACE,
        )
    ]


def _oauth2(auth: Auth) -> Iterator[Judgement]:
    yield from _grant(auth)
    yield from _urls(auth)
    if not (auth.get("clientId") or "").strip():
        yield _failed(
            "config.complete",
            "No Client ID in the OAuth 2.0 settings.",
            "Use the Client ID Sage Developer Services issued for this application.",
            CREDENTIALS,
        )
    yield from _scope(auth)
    yield from _prefix(auth)
    if (auth.get("addTokenTo") or "header") != "header":
        yield _failed(
            "header.authorization",
            "The token is added to the query string, not the Authorization header.",
            "Set 'Add auth data to' to Request Headers: the API reads 'Bearer <token>' from the "
            "Authorization header.",
            BEARER_SPACE,
        )
    yield from _audience(auth)
    if not (auth.get("redirect_uri") or "").strip() and auth.get("useBrowser") != "true":
        yield _failed(
            "config.values",
            "No Callback URL in the OAuth 2.0 settings.",
            "Sage ID only returns to a callback URL registered for the client; enter that URL "
            "(or tick 'Authorize using browser').",
            CREDENTIALS,
        )


def _grant(auth: Auth) -> Iterator[Judgement]:
    grant = (auth.get("grant_type") or "authorization_code").strip()
    if grant not in CODE_GRANTS:
        yield _failed(
            "config.values",
            f"The grant type is '{grant}', not Authorization Code.",
            "Sage ID signs a Sage 200 user in with the authorization code grant; other grants "
            "give no user token or no refresh token.",
            CREDENTIALS,
        )


def _urls(auth: Auth) -> Iterator[Judgement]:
    authorize = (auth.get("authUrl") or "").strip()
    token = (auth.get("accessTokenUrl") or "").strip()
    if not authorize or not token:
        missing = " and ".join(
            name
            for name, value in (("Auth URL", authorize), ("Access Token URL", token))
            if not value
        )
        yield _failed(
            "config.values",
            f"No {missing} in the OAuth 2.0 settings.",
            "Sage ID's are https://id.sage.com/authorize and https://id.sage.com/oauth/token.",
            CREDENTIALS,
        )
        return
    auth_parts, token_parts = urlsplit(authorize), urlsplit(token)
    if auth_parts.path.rstrip("/").endswith("/oauth/token") or token_parts.path.rstrip(
        "/"
    ).endswith("/authorize"):
        yield _failed(
            "config.values",
            "The Auth URL and the Access Token URL are swapped.",
            "Auth URL: https://id.sage.com/authorize; Access Token URL: https://id.sage.com/oauth/token.",
            CREDENTIALS,
        )
    elif (auth_parts.hostname or "") != (token_parts.hostname or ""):
        yield _failed(
            "config.values",
            "The Auth URL and the Access Token URL are on different hosts.",
            f"Auth URL host: {auth_parts.hostname}; Access Token URL host: "
            f"{token_parts.hostname}. Both belong to Sage ID ({SAGE_ID_HOST}).",
            CREDENTIALS,
        )
    elif (auth_parts.hostname or "").lower() != SAGE_ID_HOST:
        yield Judgement(
            "config.values",
            "warning",
            f"The Auth and Access Token URLs are on {auth_parts.hostname}, not Sage ID.",
            f"Sage 200 signs in with Sage ID ({SAGE_ID_HOST}); another host is right "
            "only for a test server.",
            CREDENTIALS,
        )


def _scope(auth: Auth) -> Iterator[Judgement]:
    scopes = (auth.get("scope") or "").split()
    if "offline_access" not in scopes:
        yield _failed(
            "token.scope",
            "The scope does not include offline_access, so Sage ID issues no refresh token.",
            "The article's scope is 'openid profile email offline_access'."
            + ("" if scopes else " No scope is set at all."),
            ("faq.postman.offline-access",),
        )


def _prefix(auth: Auth) -> Iterator[Judgement]:
    prefix = auth.get("headerPrefix")
    if prefix is None or prefix == "Bearer ":
        return
    trimmed = prefix.strip()
    if trimmed == "Bearer":
        yield Judgement(
            "header.authorization",
            "warning",
            "The Header Prefix is not exactly 'Bearer ' (with one trailing space), as the article asks.",
            "Postman since mid-2020 (postman-runtime 7.26.5) trims the prefix and adds one "
            "space itself, so current versions send 'Bearer <token>'; versions 7.26.0 to 7.26.4, "
            "and tools that join the prefix as typed, send 'Bearer<token>', which the API denies.",
            BEARER_SPACE,
        )
    elif not trimmed:
        yield _failed(
            "header.authorization",
            "The Header Prefix is empty: the token is sent without 'Bearer'.",
            "Clear the field (Postman then uses 'Bearer') or type 'Bearer '.",
            BEARER_SPACE,
        )
    elif trimmed.lower() == "bearer":
        yield Judgement(
            "header.authorization",
            "warning",
            f"The Header Prefix is written '{trimmed}', not 'Bearer'.",
            "Whether the API accepts another spelling is not documented; use 'Bearer '.",
            BEARER_SPACE,
        )
    else:
        yield _failed(
            "header.authorization",
            "The Header Prefix is not 'Bearer'.",
            "The API expects 'Bearer', one space, then the token.",
            BEARER_SPACE,
        )


def _audience(auth: Auth) -> Iterator[Judgement]:
    sent = [param for param in auth.params if param.enabled and param.key.strip() == "audience"]
    at_authorize = [param.value.strip() for param in sent if param.stage == "auth"]
    at_authorize += parse_qs(urlsplit(auth.get("authUrl") or "").query).get("audience", [])
    if AUDIENCE in at_authorize:
        return
    if at_authorize:
        summary = "The audience authorization parameter is not s200ukipd/sage200."
    elif sent:
        summary = "The audience parameter is sent only with the token request, not the authorization request."
    else:
        summary = "No audience parameter (s200ukipd/sage200) in the OAuth 2.0 settings."
    yield _failed(
        "token.claims",
        summary,
        "In Advanced options add an Auth Request parameter audience = s200ukipd/sage200; "
        "without it Sage ID issues a token the Sage 200 API does not accept.",
        CREDENTIALS,
    )


def _bearer(auth: Auth) -> Iterator[Judgement]:
    token = (auth.get("token") or "").strip()
    if token[:6].lower() == "bearer":
        yield _failed(
            "header.authorization",
            "The Bearer Token field starts with 'Bearer': Postman adds 'Bearer ' itself.",
            "Paste the token alone; the header would otherwise read 'Bearer Bearer …'.",
            BEARER_SPACE,
        )


def _failed(check: str, summary: str, detail: str, guidance: tuple[str, ...]) -> Judgement:
    return Judgement(check, "failed", summary, detail, guidance)
