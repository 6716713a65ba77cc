"""The query options of a collection request: parsing, validation and application."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config import EmulatorConfig
from .customers import FieldType, Record
from .odata_eval import Dialect, Predicate, compile_filter
from .odata_lexer import QueryError
from .odata_parser import parse_filter

KNOWN_OPTIONS = frozenset(
    {"$filter", "$orderby", "$top", "$skip", "$select", "$count", "$expand", "$metadata"}
)
SINGLE_ENTITY_OPTIONS = frozenset({"$select", "$expand"})
EXPANDABLE = frozenset({"main_address", "contacts", "currency", "country_code", "default_tax_code"})


@dataclass(frozen=True)
class QueryOptions:
    predicate: Predicate | None = None
    orderby: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    top: int = 500
    skip: int = 0
    select: tuple[str, ...] | None = None
    count: bool = False
    case_sensitive: bool = False


def parse_options(
    params: Sequence[tuple[str, str]],
    config: EmulatorConfig,
    fields: Mapping[str, FieldType],
    *,
    allowed: frozenset[str] = KNOWN_OPTIONS,
) -> QueryOptions:
    """Validate the `$` options (plain parameters are ignored, as ASP.NET does)."""
    options = _single_values(params, allowed)
    orderby = _orderby(options.get("$orderby"), fields)
    if "$skip" in options and not orderby and config.skip_requires_orderby:
        raise QueryError("The query option $skip requires $orderby to be specified.")
    _check_expand(options.get("$expand"))
    return QueryOptions(
        predicate=_predicate(options.get("$filter"), config, fields),
        orderby=() if config.orderby_ignored else orderby,
        top=_top(options.get("$top"), config),
        skip=_non_negative("$skip", options.get("$skip", "0")),
        select=_select(options.get("$select"), fields),
        count=_flag("$count", options.get("$count", "false")),
        case_sensitive=config.strings_case_sensitive,
    )


def apply_options(rows: Sequence[Record], options: QueryOptions) -> tuple[list[Record], int]:
    """Filter, sort and page; returns the page and the filtered total (for $count)."""
    predicate = options.predicate
    matched = [row for row in rows if predicate(row)] if predicate else list(rows)
    fold = not options.case_sensitive
    for field, descending in reversed(options.orderby):
        matched.sort(key=_sort_key_of(field, fold), reverse=descending)
    page = matched[options.skip : options.skip + options.top]
    return [project(row, options.select) for row in page], len(matched)


def project(row: Record, select: tuple[str, ...] | None) -> Record:
    if select is None:
        return row
    return {key: value for key, value in row.items() if key in select}


def _single_values(params: Sequence[tuple[str, str]], allowed: frozenset[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    for name, value in params:
        if not name.startswith("$"):
            continue
        if name not in allowed:
            raise QueryError(f"The query parameter '{name}' is not supported.")
        if name in options:
            raise QueryError(f"Query option '{name}' was specified more than once.")
        options[name] = value
    return options


def _predicate(
    text: str | None, config: EmulatorConfig, fields: Mapping[str, FieldType]
) -> Predicate | None:
    if text is None or config.filter_ignored:
        return None
    tree = parse_filter(text)
    dialect = Dialect(
        case_sensitive=config.strings_case_sensitive,
        functions=config.string_functions_supported,
        and_as_or=config.filter_and_as_or,
        dates_only=config.datetime_compared_as_date,
    )
    return compile_filter(tree, fields, case_sensitive=dialect.case_sensitive, dialect=dialect)


def _orderby(text: str | None, fields: Mapping[str, FieldType]) -> tuple[tuple[str, bool], ...]:
    if text is None:
        return ()
    keys: list[tuple[str, bool]] = []
    for clause in text.split(","):
        words = clause.split()
        if not 1 <= len(words) <= 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise QueryError(f"Syntax error in $orderby at '{clause.strip()}'.")
        _require_field(words[0], fields, "$orderby")
        if fields[words[0]] == "object":
            raise QueryError(f"The property '{words[0]}' is an object and cannot be sorted on.")
        keys.append((words[0], len(words) == 2 and words[1] == "desc"))
    return tuple(keys)


def _top(text: str | None, config: EmulatorConfig) -> int:
    if text is None:
        return config.top_default
    top = _non_negative("$top", text)
    if top <= config.top_max:
        return top
    if config.top_over_max == "error":
        raise QueryError(f"The limit of '{config.top_max}' for Top query has been exceeded.")
    return config.top_max


def _select(text: str | None, fields: Mapping[str, FieldType]) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(name.strip() for name in text.split(","))
    for name in names:
        _require_field(name, fields, "$select")
    return names


def _check_expand(text: str | None) -> None:
    # Expandable objects are always included in emulated records, so $expand only validates.
    if text is None:
        return
    for name in text.split(","):
        if name.strip() not in EXPANDABLE:
            raise QueryError(f"'{name.strip()}' cannot be expanded.")


def _require_field(name: str, fields: Mapping[str, FieldType], option: str) -> None:
    if name not in fields:
        raise QueryError(f"Could not find a property named '{name}' on type 'customer' ({option}).")


def _non_negative(option: str, text: str) -> int:
    if not text.strip().isdigit():
        raise QueryError(
            f"Invalid value '{text}' for {option}: a non-negative integer is required."
        )
    return int(text)


def _flag(option: str, text: str) -> bool:
    if text not in ("true", "false"):
        raise QueryError(f"Invalid value '{text}' for {option}: expected 'true' or 'false'.")
    return text == "true"


def _sort_key_of(field: str, fold: bool) -> Callable[[Record], tuple[bool, Any]]:
    """Nulls sort first ascending, as in SQL Server; strings in a case-insensitive collation."""

    def key(row: Record) -> tuple[bool, Any]:
        value = row.get(field)
        if isinstance(value, str):
            return (True, value.casefold() if fold else value)
        return (value is not None, value if value is not None else 0)

    return key
