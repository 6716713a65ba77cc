"""The API's resources: sites, current_user, customers, customers/{id} (others: catalogued.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .config import EmulatorConfig
from .customers import CUSTOMER_FIELDS, Record
from .odata_lexer import QueryError
from .query import SINGLE_ENTITY_OPTIONS, apply_options, parse_options, project
from .seed import CURRENT_USER, Company, site_rows
from .state import EmulatorState


def asp_message(status: int, message: str) -> Response:
    """An ASP.NET Web API error body: `{"Message": ...}` with a capital M."""
    return JSONResponse({"Message": message}, status_code=status)


def bad_query(error: QueryError) -> Response:
    return asp_message(400, f"The query specified in the URI is not valid. {error}")


def sites(state: EmulatorState) -> Response:
    rows = site_rows(state.visible_sites(), company_id_as_string=state.config.company_id_as_string)
    return JSONResponse(rows)


def current_user(state: EmulatorState) -> Response:
    return JSONResponse({**CURRENT_USER, "email_address": state.config.username})


def customers(request: Request, state: EmulatorState, company: Company) -> Response:
    try:
        options = parse_options(request.query_params.multi_items(), state.config, CUSTOMER_FIELDS)
    except QueryError as exc:
        return bad_query(exc)
    page, total = apply_options(state.customer_table(company).rows, options)
    if options.count:
        return counted(state.config, page, total)
    return JSONResponse(page)


def customer(
    request: Request, state: EmulatorState, company: Company, customer_id: int
) -> Response:
    try:
        options = parse_options(
            request.query_params.multi_items(),
            state.config,
            CUSTOMER_FIELDS,
            allowed=SINGLE_ENTITY_OPTIONS,
        )
    except QueryError as exc:
        return bad_query(exc)
    record = state.customer_table(company).get(customer_id)
    if record is None:
        return asp_message(404, f"The customer with id {customer_id} was not found.")
    return JSONResponse(project(record, options.select))


def counted(config: EmulatorConfig, page: list[Record], total: int) -> Response:
    """$count=true in the configured shape (the real shape is undocumented)."""
    if config.count_shape == "integer":
        return JSONResponse(total)
    if config.count_shape == "envelope":
        return JSONResponse({"@odata.count": total, "value": page})
    return JSONResponse(page, headers={"X-Total-Count": str(total)})
