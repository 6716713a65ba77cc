"""The documented shapes of the answers the checks read (sites, customers), as JSON Schema.

Written from Sage's published description of the API (see the reference notes), keeping only
the fields a client integration typically relies on.
"""

from __future__ import annotations

from typing import Any

SITE: dict[str, Any] = {
    "type": "object",
    "required": ["company_id", "company_name", "site_id", "site_name"],
    "properties": {
        "company_id": {"type": "integer"},
        "company_name": {"type": "string", "maxLength": 100},
        "site_id": {"type": "string", "maxLength": 36},
        "site_name": {"type": "string", "maxLength": 100},
        "site_short_name": {"type": ["string", "null"], "maxLength": 50},
        "tenant_id": {"type": ["number", "null"]},
    },
}

CUSTOMER: dict[str, Any] = {
    "type": "object",
    "required": ["id", "reference", "name"],
    "properties": {
        "id": {"type": "integer"},
        "reference": {"type": "string", "maxLength": 8},
        "name": {"type": "string", "maxLength": 60},
        "short_name": {"type": ["string", "null"], "maxLength": 8},
        "balance": {"type": ["number", "null"]},
        "on_hold": {"type": ["boolean", "null"]},
        "credit_limit": {"type": ["number", "null"]},
        "currency_id": {"type": ["integer", "null"]},
        "date_time_created": {"type": ["string", "null"]},
        "date_time_updated": {"type": ["string", "null"]},
    },
}

SHAPES: dict[str, dict[str, Any]] = {
    "sites": {"type": "array", "items": SITE},
    "customers": {"type": "array", "items": CUSTOMER},
    "customer": CUSTOMER,
}
