"""Every `/uk/...` request: the gateway first, then the API's checks in the reference's order.

key (gateway) → Authorization header format → JWT → X-Site/X-Company → module permission →
route and verb → query validation (reference §9 item 4). An endpoint this site does not have
(Professional-only on Standard, newer than the site's version) is an unknown route.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from sage200_doctor.catalogue import Resource, find

from . import catalogued, resources
from .clock import service_now
from .config import Edition, EmulatorConfig
from .gateway import apim_error, gateway_rejection, route_api
from .seed import USER_SUB, Company, find_company
from .state import EmulatorState
from .tokens import verify_access_token
from .wire import answered_by, emulator_state

DENIED = "Authorization has been denied for this request."
_SALES_LEDGER_ROUTES = frozenset({"customers", "customer"})
_SPECIAL_ROUTES = frozenset({"sites", "current_user", "customers"})
API_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@dataclass(frozen=True)
class Route:
    name: str | None  # None: no resource matches; "collection": a catalogued one
    customer_id: int = 0
    resource: Resource | None = None

    @property
    def module(self) -> str | None:
        """The catalogue module whose role access the route needs (None: not company data)."""
        if self.name in _SALES_LEDGER_ROUTES:
            return "sales"
        return self.resource.module if self.resource is not None else None


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
    return _api(request, state, edition, relative)


def _api(request: Request, state: EmulatorState, edition: Edition, relative: str) -> Response:
    config = state.config
    token = bearer_token(request.headers.get("authorization"), config)
    if token is None or not _token_valid(token, request, state):
        return resources.asp_message(401, DENIED)
    route = resolve(relative, edition=edition, config=config)
    company = None
    if _needs_site(route, config):
        company = _selected_company(request, state)
        if company is None:
            return resources.asp_message(config.site_denied_status, DENIED)
    if route.module is not None and route.module in config.modules_denied:
        return resources.asp_message(403, catalogued.denied_message(route.module))
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
        token,
        issuer=state.issuer(request),
        audience=state.config.audience,
        now=service_now(state.config),
    )
    return claims is not None and claims.get("sub") == USER_SUB and state.config.api_user_enabled


def resolve(relative: str, *, edition: Edition, config: EmulatorConfig) -> Route:
    """ASP.NET routing is case-insensitive and tolerates a trailing slash."""
    parts = relative.rstrip("/").lower().split("/")
    if len(parts) == 1 and parts[0] in _SPECIAL_ROUTES:
        return Route(parts[0])
    if len(parts) == 2 and parts[0] == "customers" and parts[1].isdigit():
        return Route("customer", int(parts[1]))
    found = find(parts[0]) if len(parts) == 1 else None
    if found is not None and catalogued.served(found, edition, config):
        return Route("collection", resource=found)
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
    if route.resource is not None:
        return catalogued.collection(request, state, company, route.resource)
    return resources.customer(request, state, company, route.customer_id)
