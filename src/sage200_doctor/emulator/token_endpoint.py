"""POST /oauth/token: the authorization_code and refresh_token grants (RFC 6749, Auth0 flavour).

Status codes follow Auth0 where it differs from the RFC: invalid_grant and unauthorized_client
answer 403, invalid_client 401, malformed requests 400. With rotation on, each refresh revokes
the presented token and issues a new one; with reuse detection too, presenting a token that was
already rotated away revokes its whole family (Auth0's automatic reuse detection), and the answer
is the same invalid_grant as for any other unusable token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .clock import service_now
from .config import EmulatorConfig
from .state import EmulatorState, RefreshGrant
from .tokens import mint_access_token, mint_id_token
from .wire import FormError, emulator_state, read_fields

SUPPORTED_GRANTS = ("authorization_code", "refresh_token")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


@dataclass
class OAuthError(Exception):
    error: str
    description: str
    status: int
    basic_attempted: bool = False

    def response(self) -> Response:
        headers = dict(_NO_STORE)
        if self.status == 401 and self.basic_attempted:
            headers["WWW-Authenticate"] = 'Basic realm="emulator"'
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, status_code=self.status, headers=headers)


def _invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description, 400)


def _invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description, 403)


async def token(request: Request) -> Response:
    state = emulator_state(request)
    try:
        fields = await read_fields(request, allow_json=True)
        body = _grant(request, state, fields)
    except FormError as exc:
        return _invalid_request(str(exc)).response()
    except OAuthError as exc:
        return exc.response()
    return JSONResponse(body, headers=_NO_STORE)


def _grant(request: Request, state: EmulatorState, fields: dict[str, str]) -> dict[str, object]:
    grant_type = _required(fields, "grant_type")
    if grant_type not in SUPPORTED_GRANTS:
        raise OAuthError("unsupported_grant_type", f"Unsupported grant type: {grant_type}", 400)
    client_id = _authenticate_client(request.headers.get("authorization"), fields, state.config)
    if grant_type not in state.config.allowed_grant_types:
        raise OAuthError(
            "unauthorized_client", f"Grant type '{grant_type}' not allowed for the client.", 403
        )
    if grant_type == "authorization_code":
        return _authorization_code(request, state, fields, client_id)
    return _refresh(request, state, fields, client_id)


def _required(fields: dict[str, str], name: str) -> str:
    value = fields.get(name)
    if not value:
        raise _invalid_request(f"Missing required parameter: {name}")
    return value


def _authenticate_client(header: str | None, fields: dict[str, str], config: EmulatorConfig) -> str:
    """The authenticated client id; every failure is invalid_client (401)."""
    basic = _parse_basic(header)
    client_id, secret = fields.get("client_id", ""), fields.get("client_secret")
    method = "none" if secret is None else "client_secret_post"
    if basic is not None:
        if secret is not None:
            raise _invalid_request("Use only one client authentication method.")
        if client_id not in ("", basic[0]):
            raise _invalid_request("client_id in the body differs from the Basic credentials.")
        method, (client_id, secret) = "client_secret_basic", basic
    _check_client(config, method, client_id, secret, basic_attempted=basic is not None)
    return client_id


def _check_client(
    config: EmulatorConfig,
    method: str,
    client_id: str,
    secret: str | None,
    *,
    basic_attempted: bool,
) -> None:
    def fail(description: str) -> OAuthError:
        return OAuthError("invalid_client", description, 401, basic_attempted)

    if not hmac.compare_digest(client_id.encode(), config.client_id.encode()):
        raise fail("Unknown client.")
    if method == "none":
        if config.public_client:
            return
        raise fail("Client authentication is required for this client.")
    if method not in config.client_auth_methods:
        raise fail(f"The client authentication method '{method}' is not allowed for this client.")
    assert config.client_secret is not None  # resolve_secrets filled it
    if secret is None or not hmac.compare_digest(secret.encode(), config.client_secret.encode()):
        raise fail("Client authentication failed: the client secret is wrong.")


def _parse_basic(header: str | None) -> tuple[str, str] | None:
    if header is None or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "Malformed Basic credentials.", 401, True) from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise OAuthError("invalid_client", "Malformed Basic credentials.", 401, True)
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    return unquote_plus(client_id), unquote_plus(secret)


def _authorization_code(
    request: Request, state: EmulatorState, fields: dict[str, str], client_id: str
) -> dict[str, object]:
    code = state.codes.get(_required(fields, "code"))
    redirect_uri = _required(fields, "redirect_uri")
    if code is None or code.client_id != client_id:
        raise _invalid_grant("Invalid authorization code")
    if code.used or time.time() >= code.expires_at:
        code.used = True
        raise _invalid_grant("Invalid authorization code")
    code.used = True  # single use, whether or not the rest of the exchange succeeds
    if redirect_uri != code.redirect_uri:
        raise _invalid_grant("redirect_uri does not match the one used at /authorize.")
    if code.code_challenge is not None:
        _verify_pkce(fields.get("code_verifier"), code.code_challenge)
    grant = RefreshGrant(client_id, code.scope, code.audience, consented_at=time.time())
    offline = "offline_access" in code.scope
    refresh = state.issue_refresh_token(grant) if offline else None
    return _token_response(request, state, grant, refresh, code.nonce)


def _verify_pkce(verifier: str | None, challenge: str) -> None:
    if verifier is None:
        raise _invalid_request("Missing required parameter: code_verifier")
    if not _VERIFIER.fullmatch(verifier):
        raise _invalid_request("code_verifier must be 43 to 128 unreserved characters.")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    if not hmac.compare_digest(expected, challenge):
        raise _invalid_grant("Failed to verify code verifier")


def _refresh(
    request: Request, state: EmulatorState, fields: dict[str, str], client_id: str
) -> dict[str, object]:
    presented = _required(fields, "refresh_token")
    _detect_reuse(state, presented, client_id)
    grant = state.refresh_grant(presented, client_id)
    if grant is None:
        raise _invalid_grant("Unknown or invalid refresh token.")
    scope = _narrowed_scope(fields.get("scope"), grant.scope)
    issued = RefreshGrant(client_id, scope, grant.audience, grant.consented_at, family=grant.family)
    new_refresh = None
    if state.config.rotate_refresh_tokens:
        grant.revoked = grant.rotated = True
        new_refresh = state.issue_refresh_token(issued)
    return _token_response(request, state, issued, new_refresh, None)


def _detect_reuse(state: EmulatorState, presented: str, client_id: str) -> None:
    """A rotated-away token presented again: someone holds a copy, so nobody's copy is trusted."""
    config = state.config
    if not (config.rotate_refresh_tokens and config.refresh_token_reuse_detection):
        return
    known = state.refresh_grants.get(presented)
    if known is not None and known.rotated and known.client_id == client_id:
        state.revoke_family(known.family)
        raise _invalid_grant("Unknown or invalid refresh token.")


def _narrowed_scope(requested: str | None, granted: tuple[str, ...]) -> tuple[str, ...]:
    if not requested:
        return granted
    wanted = tuple(requested.split())
    if not set(wanted) <= set(granted):
        raise OAuthError("invalid_scope", "The scope exceeds what was originally granted.", 400)
    return wanted


def _token_response(
    request: Request,
    state: EmulatorState,
    grant: RefreshGrant,
    refresh_token: str | None,
    nonce: str | None,
) -> dict[str, object]:
    config, issuer = state.config, state.issuer(request)
    body: dict[str, object] = {
        "access_token": mint_access_token(
            issuer=issuer,
            audience=config.audience_to_issue,
            client_id=grant.client_id,
            scope=grant.scope,
            lifetime_s=config.access_token_lifetime_s,
            issued_at=service_now(config),
        ),
        "token_type": "Bearer",
        "expires_in": config.access_token_lifetime_s,
        "scope": " ".join(grant.scope),
    }
    if "openid" in grant.scope:
        body["id_token"] = _id_token(issuer, config, grant.client_id, nonce)
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    return body


def _id_token(issuer: str, config: EmulatorConfig, client_id: str, nonce: str | None) -> str:
    return mint_id_token(
        issuer=issuer,
        client_id=client_id,
        email=config.username,
        nonce=nonce,
        lifetime_s=config.access_token_lifetime_s,
    )
