"""Every `/uk/...` request: the gateway first, then the API's checks in the reference's order.

key (gateway) → Authorization header format → JWT → X-Site/X-Company → module permission →
route and verb → query validation (reference §9 item 4).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from . import resources
from .config import EmulatorConfig
from .gateway import apim_error, gateway_rejection, route_api
from .seed import USER_SUB, Company, find_company
from .state import EmulatorState
from .tokens import verify_access_token
from .wire import answered_by, emulator_state

DENIED = "Authorization has been denied for this request."
SALES_LEDGER_DENIED = "The user's role does not have access to the Sales Ledger module."
_SALES_LEDGER_ROUTES = frozenset({"customers", "customer"})
API_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@dataclass(frozen=True)
class Route:
    name: str | None  # None: no resource matches
    customer_id: int = 0


async def uk_endpoint(request: Request) -> Response:
    state = emulator_state(request)
    answered_by(request, "gateway")
    routed = route_api(request.url.path)
    if routed is None:
        return apim_error(404, "Resource not found")
    if (rejection := gateway_rejection(request, state)) is not None:
        return rejection
    answered_by(request, "api")
    edition, relative = routed
    if edition not in state.config.editions_served:
        return _no_resource(request)
    return _api(request, state, relative)


def _api(request: Request, state: EmulatorState, relative: str) -> Response:
    config = state.config
    token = bearer_token(request.headers.get("authorization"), config)
    if token is None or not _token_valid(token, request, state):
        return resources.asp_message(401, DENIED)
    route = resolve(relative)
    company = None
    if _needs_site(route, config):
        company = _selected_company(request, state)
        if company is None:
            return resources.asp_message(config.site_denied_status, DENIED)
    if route.name in _SALES_LEDGER_ROUTES and not config.sales_ledger_access:
        return resources.asp_message(403, SALES_LEDGER_DENIED)
    if route.name is None:
        return _no_resource(request)
    if request.method != "GET":
        return resources.asp_message(
            405, f"The requested resource does not support http method '{request.method}'."
        )
    return _dispatch(request, state, route, company)


def bearer_token(header: str | None, config: EmulatorConfig) -> str | None:
    """The token of `Bearer <token>`; None when the header does not have that exact shape."""
    if header is None:
        return None
    scheme, space, rest = header.partition(" ")
    scheme_ok = (
        scheme == "Bearer" if config.bearer_scheme_case_sensitive else (scheme.lower() == "bearer")
    )
    if not space or not scheme_ok:
        return None
    if rest.startswith(" "):
        if not config.bearer_extra_spaces_allowed:
            return None
        rest = rest.lstrip(" ")
    return rest if rest and not any(c.isspace() for c in rest) else None


def _token_valid(token: str, request: Request, state: EmulatorState) -> bool:
    claims = verify_access_token(
        token, issuer=state.issuer(request), audience=state.config.audience
    )
    return claims is not None and claims.get("sub") == USER_SUB


def resolve(relative: str) -> Route:
    """ASP.NET routing is case-insensitive and tolerates a trailing slash."""
    parts = relative.rstrip("/").lower().split("/")
    if parts in (["sites"], ["current_user"], ["customers"]):
        return Route(parts[0])
    if len(parts) == 2 and parts[0] == "customers" and parts[1].isdigit():
        return Route("customer", int(parts[1]))
    return Route(None)


def _needs_site(route: Route, config: EmulatorConfig) -> bool:
    if route.name == "sites":
        return False
    return route.name != "current_user" or config.current_user_needs_site


def _selected_company(request: Request, state: EmulatorState) -> Company | None:
    site_id, company_id = request.headers.get("x-site"), request.headers.get("x-company")
    if not site_id or not company_id or not company_id.strip().isdigit():
        return None
    return find_company(state.visible_sites(), site_id, int(company_id))


def _no_resource(request: Request) -> Response:
    message = f"No HTTP resource was found that matches the request URI '{request.url}'."
    return resources.asp_message(404, message)


def _dispatch(
    request: Request, state: EmulatorState, route: Route, company: Company | None
) -> Response:
    if route.name == "sites":
        return resources.sites(state)
    if route.name == "current_user":
        return resources.current_user(state)
    assert company is not None  # _needs_site is true for every company-data route
    if route.name == "customers":
        return resources.customers(request, state, company)
    return resources.customer(request, state, company, route.customer_id)
