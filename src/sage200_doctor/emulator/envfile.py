"""The SAGE200_* settings (CONTRACT §2) that point a diagnostic run at a running emulator.

Tokens are minted by the emulator itself, so they work against it; the `env_*` settings of the
config decide which fault the settings carry.
"""

from __future__ import annotations

import re
import secrets
import time

from .clock import service_now
from .config import DEFAULT_SCOPE, EDITION_PATHS, EmulatorConfig
from .seed import DEFAULT_COMPANY_ID, UNLISTED_COMPANY_ID, UNLISTED_SITE_ID, default_site
from .state import EmulatorState, RefreshGrant
from .tokens import mint_access_token

_SAFE_VALUE = re.compile(r"[A-Za-z0-9_./:@%+,=~-]*")
_SCOPE_WITHOUT_OFFLINE = "openid profile email"


def build_env(state: EmulatorState, base_url: str) -> dict[str, str]:
    config = state.config
    edition = config.env_edition or config.edition
    env = {
        "SAGE200_EDITION": edition,
        "SAGE200_API_BASE_URL": f"{base_url}/uk/{EDITION_PATHS[edition]}/accounts/v1/",
        "SAGE200_AUTH_URL": f"{base_url}/authorize",
        "SAGE200_TOKEN_URL": f"{base_url}/oauth/token",
        "SAGE200_AUDIENCE": config.audience,
        "SAGE200_CLIENT_ID": config.client_id,
        "SAGE200_CLIENT_SECRET": _client_secret(config),
        "SAGE200_CLIENT_AUTH": config.env_client_auth,
        "SAGE200_SCOPE": _scope(config),
        "SAGE200_REDIRECT_URI": config.redirect_uris[0],
    }
    env.update(_tokens(state, f"{base_url}/"))
    env.update(_subscription_key(config))
    env.update(_selection(config))
    env["SAGE200_CUSTOMER_REFERENCE"] = config.env_customer_reference
    if config.env_authorization_no_space:
        env["SAGE200_AUTHORIZATION"] = "Bearer" + _access_token(state, f"{base_url}/")
    return env


def format_env_lines(env: dict[str, str]) -> str:
    """KEY=value lines for a .env file; values are quoted only when they need it."""
    return "".join(f"{key}={_quote(value)}\n" for key, value in env.items())


def _quote(value: str) -> str:
    if _SAFE_VALUE.fullmatch(value):
        return value
    # Single quotes are literal in python-dotenv (no escapes, no ${} expansion).
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _client_secret(config: EmulatorConfig) -> str:
    assert config.client_secret is not None  # resolve_secrets filled it
    return config.client_secret if config.env_client_secret_valid else secrets.token_urlsafe(32)


def _scope(config: EmulatorConfig) -> str:
    if config.env_credentials == "access_token_without_offline_access":
        return _SCOPE_WITHOUT_OFFLINE
    return DEFAULT_SCOPE


def _tokens(state: EmulatorState, issuer: str) -> dict[str, str]:
    kind = state.config.env_credentials
    if kind in ("refresh_token", "revoked_refresh_token"):
        grant = RefreshGrant(
            state.config.client_id,
            tuple(DEFAULT_SCOPE.split()),
            state.config.audience_to_issue,
            consented_at=time.time(),
            revoked=kind == "revoked_refresh_token",
        )
        tokens = {"SAGE200_REFRESH_TOKEN": state.issue_refresh_token(grant)}
        if state.config.env_also_access_token:
            tokens["SAGE200_ACCESS_TOKEN"] = _access_token(state, issuer)
        return tokens
    if kind == "expired_access_token":
        issued_at = service_now(state.config) - 2 * state.config.access_token_lifetime_s
        return {"SAGE200_ACCESS_TOKEN": _access_token(state, issuer, issued_at=issued_at)}
    scope = _scope(state.config)
    return {"SAGE200_ACCESS_TOKEN": _access_token(state, issuer, scope=scope)}


def _access_token(
    state: EmulatorState,
    issuer: str,
    *,
    issued_at: float | None = None,
    scope: str = DEFAULT_SCOPE,
) -> str:
    config = state.config
    return mint_access_token(
        issuer=issuer,
        audience=config.audience_to_issue,
        client_id=config.client_id,
        scope=tuple(scope.split()),
        lifetime_s=config.access_token_lifetime_s,
        issued_at=service_now(config) if issued_at is None else issued_at,
    )


def _subscription_key(config: EmulatorConfig) -> dict[str, str]:
    keys = {
        "primary": config.subscription_key,
        "secondary": config.secondary_subscription_key,
        "invalid": secrets.token_hex(16),
        "none": None,
    }
    key = keys[config.env_subscription_key]
    return {} if key is None else {"SAGE200_SUBSCRIPTION_KEY": key}


def _selection(config: EmulatorConfig) -> dict[str, str]:
    site_id, company_id = default_site().site_id, DEFAULT_COMPANY_ID
    if config.env_selection == "site_not_listed":
        site_id = UNLISTED_SITE_ID
    elif config.env_selection == "company_not_listed":
        company_id = UNLISTED_COMPANY_ID
    return {"SAGE200_SITE_ID": site_id, "SAGE200_COMPANY_ID": str(company_id)}
