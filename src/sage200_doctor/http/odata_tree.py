"""OData `$filter` expression trees and the query text they render to (client side).

The conformance probes build queries as trees rather than strings, so that the same tree can be
rendered for the API and evaluated locally (`odata_eval.py`) without a parser in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal

from sage200_doctor.http.odata import quote_string

Kind = Literal["int", "number", "bool", "string", "datetime", "date"]
Op = Literal["eq", "ne", "gt", "ge", "lt", "le"]
Function = Literal["contains", "startswith", "endswith"]
Scalar = int | Decimal | bool | str | datetime | date


@dataclass(frozen=True)
class Value:
    kind: Kind
    value: Scalar


@dataclass(frozen=True)
class Compare:
    field: str
    op: Op
    literal: Value


@dataclass(frozen=True)
class Call:
    function: Function
    field: str
    needle: str


@dataclass(frozen=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    operand: Expr


Expr = Compare | Call | And | Or | Not


# rendering -------------------------------------------------------------------------------------


def render_value(literal: Value) -> str:
    value = literal.value
    if literal.kind == "bool":
        return "true" if value else "false"
    if literal.kind == "string":
        return quote_string(str(value))
    if literal.kind == "number":
        assert isinstance(value, Decimal)
        return f"{value:f}"
    if literal.kind == "datetime":
        assert isinstance(value, datetime)
        value = value.astimezone(UTC) if value.tzinfo is not None else value
        fraction = f".{value.microsecond // 1000:03d}" if value.microsecond else ""
        return value.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"
    if literal.kind == "date":
        assert isinstance(value, date)
        return value.isoformat()
    return str(value)


_PRECEDENCE = {Or: 1, And: 2, Not: 3}


def render(expr: Expr, *, minimal_parens: bool = False) -> str:
    """The `$filter` text of a tree. By default every compound operand is bracketed; with
    `minimal_parens` only where OData's precedence (not > and > or) needs it."""
    if isinstance(expr, Compare):
        return f"{expr.field} {expr.op} {render_value(expr.literal)}"
    if isinstance(expr, Call):
        return f"{expr.function}({expr.field}, {quote_string(expr.needle)})"
    if isinstance(expr, Not):
        inner = render(expr.operand, minimal_parens=minimal_parens)
        # `not` binds tighter than `eq`: only a function call may follow it unbracketed.
        bare = minimal_parens and isinstance(expr.operand, Call)
        return f"not {inner}" if bare else f"not ({inner})"
    word = "and" if isinstance(expr, And) else "or"
    parts = [_operand(part, expr, minimal_parens) for part in (expr.left, expr.right)]
    return f"{parts[0]} {word} {parts[1]}"


def _operand(part: Expr, parent: And | Or, minimal_parens: bool) -> str:
    text = render(part, minimal_parens=minimal_parens)
    if isinstance(part, Compare | Call):
        return text
    if minimal_parens and _PRECEDENCE[type(part)] >= _PRECEDENCE[type(parent)]:
        return text
    return f"({text})"


# queries ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """One GET customers query: a filter tree, at most one sort key, `$top`, `$skip`."""

    filter: Expr | None = None
    orderby: tuple[str, bool] | None = None  # (field, descending)
    top: int | None = None
    skip: int | None = None
    minimal_parens: bool = False

    def fields(self) -> list[str]:
        """The fields the query filters or sorts on, in first-use order."""
        names = list(_fields(self.filter)) if self.filter is not None else []
        if self.orderby is not None:
            names.append(self.orderby[0])
        return list(dict.fromkeys(names))

    def params(
        self, *, within: Expr | None = None, top: int | None = None, select: bool = False
    ) -> dict[str, str]:
        """Query parameters; `within` is AND-ed to the filter, `top` used when none is set;
        `select` asks for the id and the fields the query uses only (smaller answers)."""
        condition = self.filter
        if within is not None:
            condition = within if condition is None else And(condition, within)
        params: dict[str, str] = {}
        if condition is not None:
            params["$filter"] = render(condition, minimal_parens=self.minimal_parens)
        if self.orderby is not None:
            field, descending = self.orderby
            params["$orderby"] = f"{field} {'desc' if descending else 'asc'}"
        chosen = self.top if self.top is not None else top
        if chosen is not None:
            params["$top"] = str(chosen)
        if self.skip is not None:
            params["$skip"] = str(self.skip)
        if select:
            params["$select"] = ",".join(dict.fromkeys(["id", *self.fields()]))
        return params


def _fields(expr: Expr) -> list[str]:
    if isinstance(expr, Compare | Call):
        return [expr.field]
    if isinstance(expr, Not):
        return _fields(expr.operand)
    return _fields(expr.left) + _fields(expr.right)


def id_range(low: int, high: int) -> Expr:
    return And(
        Compare("id", "ge", Value("int", low)),
        Compare("id", "le", Value("int", high)),
    )
