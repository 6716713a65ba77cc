"""The identity face's metadata endpoints: discovery, JWKS and logout (Auth0 look-alike)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from .tokens import public_jwk
from .wire import emulator_state


async def openid_configuration(request: Request) -> Response:
    state = emulator_state(request)
    config = state.config
    issuer = state.issuer(request)
    auth_methods = list(config.client_auth_methods) + (["none"] if config.public_client else [])
    return JSONResponse(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}authorize",
            "token_endpoint": f"{issuer}oauth/token",
            "jwks_uri": f"{issuer}.well-known/jwks.json",
            "end_session_endpoint": f"{issuer}v2/logout",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "grant_types_supported": list(config.allowed_grant_types),
            "token_endpoint_auth_methods_supported": auth_methods,
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["aud", "email", "exp", "iat", "iss", "name", "sub"],
        }
    )


async def jwks(request: Request) -> Response:
    return JSONResponse({"keys": [public_jwk()]})


async def logout(request: Request) -> Response:
    """Auth0's /v2/logout: back to returnTo when it is a loopback URL, else a plain page."""
    return_to = request.query_params.get("returnTo")
    if return_to and urlsplit(return_to).hostname in ("127.0.0.1", "localhost"):
        return RedirectResponse(return_to, status_code=302)
    return PlainTextResponse("You have been signed out.")
