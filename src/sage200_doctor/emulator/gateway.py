"""The gateway face (Azure API Management look-alike) in front of every `/uk/...` path.

Order, as APIM applies its policies: match an API by path, validate the subscription key, apply
the rate limit, then forward to the backend (which may be unreachable: the tunnel is down).
"""

from __future__ import annotations

import hmac
import re

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from .config import EDITION_PATHS, Edition
from .state import EmulatorState

SUBSCRIPTION_KEY_HEADER = "ocp-apim-subscription-key"
MISSING_KEY = (
    "Access denied due to missing subscription key. "
    "Make sure to include subscription key when making requests to an API."
)
INVALID_KEY = (
    "Access denied due to invalid subscription key. "
    "Make sure to provide a valid key for an active subscription."
)
API_PATH = re.compile(r"/uk/(sage200|sage200extra)/accounts/v1(?:/(.*))?")
_EDITIONS: dict[str, Edition] = {path: edition for edition, path in EDITION_PATHS.items()}
_GATEWAY_TIMEOUT = (
    "<!DOCTYPE html><html><head><title>504 Gateway Time-out</title></head>"
    "<body><h1>504 Gateway Time-out</h1><p>The gateway did not receive a timely response "
    "from the upstream server.</p></body></html>"
)


def apim_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"statusCode": status, "message": message}, status, headers=headers)


def route_api(path: str) -> tuple[Edition, str] | None:
    """The edition and the API-relative path, or None when no API matches the path."""
    match = API_PATH.fullmatch(path)
    if match is None:
        return None
    return _EDITIONS[match.group(1)], match.group(2) or ""


def gateway_rejection(request: Request, state: EmulatorState) -> Response | None:
    """The gateway's own answer, or None when the request goes on to the API."""
    config = state.config
    # APIM also accepts the key as a `subscription-key` query parameter.
    key = request.headers.get(SUBSCRIPTION_KEY_HEADER) or request.query_params.get(
        "subscription-key"
    )
    if not key:
        if config.subscription_key_mode == "required":
            return apim_error(401, MISSING_KEY)
    elif not _valid_key(key, state):
        return apim_error(401, INVALID_KEY)
    state.gateway_requests += 1
    every = config.rate_limit_every
    if every and state.gateway_requests % every == 0:
        wait = config.rate_limit_retry_after_s
        message = f"Rate limit is exceeded. Try again in {wait} seconds."
        return apim_error(429, message, headers={"Retry-After": str(wait)})
    if config.tunnel_down:
        return HTMLResponse(_GATEWAY_TIMEOUT, status_code=504)
    return None


def _valid_key(key: str, state: EmulatorState) -> bool:
    valid = (state.config.subscription_key, state.config.secondary_subscription_key)
    return any(
        candidate is not None and hmac.compare_digest(key.encode(), candidate.encode())
        for candidate in valid
    )
