"""GET /authorize and the consent decision (authorization code flow, optional PKCE S256).

OAuth rule kept here: an unknown client or an unregistered redirect_uri gets an error page and
never a redirect, so the emulator cannot be used as an open redirector. Other problems are
reported to the client by redirecting with `error=...`.
"""

from __future__ import annotations

import hmac
import secrets
import time
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .config import EmulatorConfig
from .pages import consent_page, error_page
from .state import AuthorizationCode, EmulatorState, PendingAuthorization
from .wire import FormError, emulator_state, read_fields

_SUPPORTED_SCOPES = ("openid", "profile", "email", "offline_access")
_PENDING_LIFETIME_S = 600


class _Redirect(Exception):
    """An /authorize error reported to the client through its redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


async def authorize(request: Request) -> Response:
    state = emulator_state(request)
    params = request.query_params
    client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
    if problem := _unsafe_to_redirect(state.config, client_id, redirect_uri):
        return error_page("Invalid authorization request", problem)
    try:
        pending = _pending(state.config, params)
    except _Redirect as exc:
        return _redirect(
            redirect_uri, error=exc.error, description=exc.description, state=params.get("state")
        )
    transaction = secrets.token_urlsafe(24)
    state.pending[transaction] = pending
    return consent_page(
        transaction=transaction,
        client_id=client_id,
        scope=pending.scope,
        audience=pending.audience,
    )


async def decide(request: Request) -> Response:
    """The consent form's POST: Deny, or Allow with the seeded user's credentials."""
    state = emulator_state(request)
    try:
        form = await read_fields(request)
    except FormError as exc:
        return error_page("Invalid sign-in request", str(exc))
    transaction = form.get("transaction", "")
    pending = state.pending.get(transaction)
    if pending is None or time.time() >= pending.expires_at:
        return error_page("Sign-in expired", "This sign-in request has expired or is not valid.")
    allow = form.get("decision") == "allow"
    if allow and not _credentials_match(state.config, form):
        return consent_page(
            transaction=transaction,
            client_id=pending.client_id,
            scope=pending.scope,
            audience=pending.audience,
            message="Wrong email or password.",
        )
    del state.pending[transaction]
    if not allow:
        denied = "The user did not authorize the request."
        return _redirect(
            pending.redirect_uri, error="access_denied", description=denied, state=pending.state
        )
    return _redirect(pending.redirect_uri, code=_issue_code(state, pending), state=pending.state)


def _unsafe_to_redirect(config: EmulatorConfig, client_id: str, redirect_uri: str) -> str | None:
    if client_id != config.client_id:
        return f"Unknown client: '{client_id}'."
    if redirect_uri not in config.redirect_uris:
        return (
            f"Callback URL mismatch. '{redirect_uri}' is not in the list of allowed "
            "callback URLs for this application."
        )
    return None


def _pending(config: EmulatorConfig, params: QueryParams) -> PendingAuthorization:
    if params.get("response_type") != "code":
        raise _Redirect("unsupported_response_type", "Only response_type=code is supported.")
    audience, scope = params.get("audience"), params.get("scope")
    if not audience or not scope:
        raise _Redirect("invalid_request", "Parameters 'audience' and 'scope' are required.")
    if audience not in (config.audience, config.audience_to_issue):
        raise _Redirect("access_denied", f"Service not found: {audience}")
    challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
    if (challenge or method) and (method != "S256" or not challenge):
        raise _Redirect("invalid_request", "PKCE needs code_challenge with method S256.")
    return PendingAuthorization(
        client_id=config.client_id,
        redirect_uri=params["redirect_uri"],
        scope=tuple(item for item in scope.split() if item in _SUPPORTED_SCOPES),
        audience=audience,
        state=params.get("state"),
        code_challenge=challenge,
        nonce=params.get("nonce"),
        expires_at=time.time() + _PENDING_LIFETIME_S,
    )


def _credentials_match(config: EmulatorConfig, form: dict[str, str]) -> bool:
    username_ok = form.get("username", "").strip().lower() == config.username.lower()
    password_ok = hmac.compare_digest(form.get("password", "").encode(), config.password.encode())
    return username_ok and password_ok


def _issue_code(state: EmulatorState, pending: PendingAuthorization) -> str:
    code = secrets.token_urlsafe(32)
    state.codes[code] = AuthorizationCode(
        client_id=pending.client_id,
        redirect_uri=pending.redirect_uri,
        scope=pending.scope,
        audience=pending.audience,
        code_challenge=pending.code_challenge,
        nonce=pending.nonce,
        expires_at=time.time() + state.config.authorization_code_lifetime_s,
    )
    return code


def _redirect(
    redirect_uri: str,
    *,
    state: str | None,
    code: str | None = None,
    error: str | None = None,
    description: str | None = None,
) -> Response:
    """302 to the registered redirect URI, keeping any query it already has."""
    values = {"code": code, "error": error, "error_description": description, "state": state}
    extra = urlencode({key: value for key, value in values.items() if value is not None})
    parts = urlsplit(redirect_uri)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return RedirectResponse(urlunsplit(parts._replace(query=query)), status_code=302)
