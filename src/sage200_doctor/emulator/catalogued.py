"""Every other GET collection of Sage's published API (the catalogue), with a few plain records.

Which of them a site serves follows the catalogue's facts: a Professional-only endpoint is not
there on the Standard path, and one that Sage's changelog dates after the site's version is not
there yet. Which of them a user may read follows the role (`EmulatorConfig.modules_denied`).
The records are deliberately plain (id, name, two timestamps): what is emulated is who may read
what, not each endpoint's schema.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sage200_doctor.catalogue import Resource, module

from . import resources
from .config import Edition, EmulatorConfig
from .customers import FieldType, Record, iso_z
from .odata_lexer import QueryError
from .query import apply_options, parse_options
from .seed import Company
from .state import EmulatorState

MAX_RECORDS = 3
FIELDS: dict[str, FieldType] = {
    "id": "int",
    "name": "string",
    "date_time_created": "datetime",
    "date_time_updated": "datetime",
}
_EPOCH = datetime(2020, 1, 1)


def served(resource: Resource, edition: Edition, config: EmulatorConfig) -> bool:
    """Whether this site has the endpoint at all (else it is an unknown route: 404)."""
    if resource.professional_only and edition == "standard":
        return False
    version = config.site_version
    return version is None or resource.added is None or resource.added <= version


def denied_message(module_key: str) -> str:
    """The 403 body's message; for sales the same words the customers routes always used."""
    return f"The user's role does not have access to the {module(module_key).access_area} module."


def records(resource: Resource, company: Company) -> list[Record]:
    """0 to 3 records, the same for the same resource and company every time."""
    seed = zlib.crc32(f"{resource.name}/{company.company_id}".encode())
    first_id = 1000 + seed % 9000
    count = seed % (MAX_RECORDS + 1)
    return [_record(resource, first_id + i, i) for i in range(count)]


def _record(resource: Resource, record_id: int, position: int) -> Record:
    created = _EPOCH + timedelta(days=record_id % 1500)
    return {
        "id": record_id,
        "name": f"{resource.title} {position + 1}",
        "date_time_created": iso_z(created),
        "date_time_updated": iso_z(created + timedelta(days=30, hours=position)),
    }


def collection(
    request: Request, state: EmulatorState, company: Company, resource: Resource
) -> Response:
    try:
        options = parse_options(request.query_params.multi_items(), state.config, FIELDS)
    except QueryError as exc:
        return resources.bad_query(exc)
    if resource.returns == "object":  # licence: one record, whatever the options say
        return JSONResponse(_record(resource, 1, 0))
    page, total = apply_options(records(resource, company), options)
    if options.count:
        return resources.counted(state.config, page, total)
    return JSONResponse(page)
