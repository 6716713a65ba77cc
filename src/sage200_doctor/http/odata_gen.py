"""What the conformance probes ask about: the sample's fields, the server's capabilities, and
queries shaped like the examples in Sage's documentation, filled in from the sample.

Hypothesis is not needed here; the generated queries live in `odata_search.py`, imported only
when a search runs (it costs a quarter of a second to import).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sage200_doctor.http.odata_eval import Row, StringRules, field_value, orderable, sort_key
from sage200_doctor.http.odata_tree import And, Compare, Function, Kind, Op, Or, Query, Value

# Customer fields with a plain value type in Sage's description of the API (free text, numbers,
# booleans, date-times). Enum-valued strings (account_status_type, ...) are left out: the API
# compares those by their numbers, not their names.
PROBE_FIELDS: dict[str, Kind] = {
    "id": "int",
    "reference": "string",
    "name": "string",
    "short_name": "string",
    "balance": "number",
    "credit_limit": "number",
    "on_hold": "bool",
    "terms_agreed": "bool",
    "currency_id": "int",
    "payment_terms_days": "int",
    "telephone_area_code": "string",
    "website": "string",
    "vat_number": "string",
    "analysis_code_1": "string",
    "date_time_created": "datetime",
    "date_time_updated": "datetime",
    "account_opened": "datetime",
    "last_credit_review": "datetime",
}


@dataclass(frozen=True)
class Capabilities:
    """What the server accepts, as probed; generation stays within it."""

    operators: frozenset[Op] = frozenset(("eq", "gt", "ge", "le"))
    negation: bool = False
    functions: frozenset[Function] = frozenset()
    skip: bool = False


def probe_fields(rows: list[Row]) -> dict[str, Kind]:
    """The probe fields the sample carries with values of the expected type (nulls allowed).

    A date-time field whose values are all midnight is a date: date literals suit it too."""
    kinds: dict[str, Kind] = {}
    for field, kind in PROBE_FIELDS.items():
        raw = [row.get(field) for row in rows]
        values = [field_value(kind, value) for value in raw]
        present = [v for v, r in zip(values, raw, strict=True) if r is not None]
        if not present or any(v is None for v in present):
            continue
        if kind == "datetime" and all(
            isinstance(v, datetime) and v.time() == time.min for v in present
        ):
            kind = "date"
        kinds[field] = kind
    return kinds


def sample_values(rows: list[Row], field: str, kind: Kind) -> list[Any]:
    """The distinct non-null values of a field in the sample, in a stable order."""
    values = {field_value(kind, row.get(field)) for row in rows}
    return sorted((v for v in values if v is not None), key=repr)


def sort_fields(rows: list[Row], kinds: dict[str, Kind], rules: StringRules) -> list[str]:
    """Fields worth sorting the sample by (one right order, and at least three keys to order),
    the most varied first."""
    varied = {
        field: len({repr(sort_key(kind, row.get(field), rules)) for row in rows})
        for field, kind in kinds.items()
        if orderable(field, kind, rows, rules)
    }
    return sorted((f for f, n in varied.items() if n >= 3), key=lambda f: (-varied[f], f))


def documented_examples(rows: list[Row], kinds: dict[str, Kind], rules: StringRules) -> list[Query]:
    """The query shapes Sage's own documentation shows, filled in from the sample."""
    examples: list[Query] = []
    middle = rows[len(rows) // 2]
    if {"reference", "balance"} <= kinds.keys() and isinstance(middle.get("reference"), str):
        balances = sorted(v for v in sample_values(rows, "balance", "number"))
        examples.append(
            Query(
                Or(
                    Compare("reference", "eq", Value("string", middle["reference"])),
                    Compare("balance", "gt", Value("number", balances[len(balances) * 3 // 4])),
                )
            )
        )
    moments = [f for f in ("date_time_updated", "date_time_created") if kinds.get(f) == "datetime"]
    if moments:
        # Just before a sampled value, with milliseconds, as in `gt 2016-02-24T09:52:11.452Z`.
        value = field_value("datetime", middle.get(moments[0]))
        if isinstance(value, datetime):
            base = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
            literal = base.astimezone(UTC) - timedelta(milliseconds=548)
            examples.append(Query(Compare(moments[0], "gt", Value("datetime", literal))))
    dates = [f for f, k in sorted(kinds.items()) if k == "date"]
    if dates and "currency_id" in kinds:
        days = sample_values(rows, dates[0], "date")
        within = And(
            Compare(dates[0], "ge", Value("date", days[0])),
            Compare(dates[0], "le", Value("date", days[len(days) // 2])),
        )
        currency = Compare(
            "currency_id", "eq", Value("int", sample_values(rows, "currency_id", "int")[-1])
        )
        examples.append(Query(Or(within, currency)))
    ordered = sort_fields(rows, kinds, rules)
    if ordered:
        examples.append(Query(orderby=(ordered[0], True), top=10))
    return examples
