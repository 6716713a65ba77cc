"""The answer key for OData queries over a sample of customers (client side).

Queries are built as expression trees (`odata_tree.py`), never parsed from strings: `render`
turns a tree into the `$filter` text the API receives and `evaluate` computes, over the same
tree, which rows it matches; `AnswerKey` turns that into what a whole query must return.
Evaluation is three-valued: where Sage's documentation leaves the result open (collation of
strings, nulls, a date-time without a UTC offset), a row evaluates to None, "unknown", and the
comparison neither demands nor forbids it. Unknown combines as in Kleene logic.

Strings are judged for an accent-sensitive collation (Sage 200 runs on SQL Server with
Latin1_General_CI_AS); case sensitivity is not assumed but passed in as `StringRules`, as probed.

Written apart from the emulator's own evaluator on purpose: a shared misunderstanding of the
documentation would otherwise pass on both sides.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any

from sage200_doctor.http.odata_tree import (
    And,
    Call,
    Compare,
    Expr,
    Function,
    Kind,
    Not,
    Op,
    Or,
    Query,
    Scalar,
)

Truth = bool | None
Row = dict[str, Any]

# A date-time without an offset may be in any zone from UTC-12 to UTC+14.
_ZONE_SPREAD = timedelta(hours=14)
_PLAIN = re.compile(r"[A-Za-z0-9]+( [A-Za-z0-9]+)*")
_LIKE_SPECIAL = frozenset("%_[]")
# Letters some collations expand (ß = ss): equality across them is not something we judge.
_EXPANDING = frozenset("ßæÆœŒĳĲ")


@dataclass(frozen=True)
class StringRules:
    """How the server compares strings, as far as it is known (None: not known)."""

    case_sensitive: bool | None = None
    functions_case_sensitive: bool | None = None


# evaluation ------------------------------------------------------------------------------------


def evaluate(expr: Expr, row: Row, rules: StringRules) -> Truth:
    """Whether `row` matches `expr`: True, False, or None where the documentation is silent."""
    if isinstance(expr, And):
        left, right = evaluate(expr.left, row, rules), evaluate(expr.right, row, rules)
        if left is False or right is False:
            return False
        return True if left and right else None
    if isinstance(expr, Or):
        left, right = evaluate(expr.left, row, rules), evaluate(expr.right, row, rules)
        if left or right:
            return True
        return False if left is False and right is False else None
    if isinstance(expr, Not):
        inner = evaluate(expr.operand, row, rules)
        return None if inner is None else not inner
    if isinstance(expr, Call):
        text = row.get(expr.field)
        if not isinstance(text, str):
            return None
        return _string_function(expr.function, text, expr.needle, rules.functions_case_sensitive)
    return _compare(expr, row.get(expr.field), rules)


def _compare(expr: Compare, raw: object, rules: StringRules) -> Truth:
    kind, literal = expr.literal.kind, expr.literal.value
    if kind == "string":
        if not isinstance(raw, str) or not isinstance(literal, str):
            return None
        if expr.op in ("eq", "ne"):
            same = string_equal(raw, literal, rules.case_sensitive)
            return None if same is None else same == (expr.op == "eq")
        sign = string_order(raw, literal, rules.case_sensitive)
        return None if sign is None else _holds(expr.op, sign)
    if kind == "datetime":
        return _compare_moment(expr.op, raw, literal)
    value = field_value(kind, raw)
    if value is None or literal is None:
        return None
    if kind == "bool":
        if expr.op not in ("eq", "ne"):
            return None
        return (value == literal) == (expr.op == "eq")
    return _holds(expr.op, _sign(value, literal))


def _holds(op: Op, sign: int) -> bool:
    return {
        "eq": sign == 0,
        "ne": sign != 0,
        "gt": sign > 0,
        "ge": sign >= 0,
        "lt": sign < 0,
        "le": sign <= 0,
    }[op]


def _sign(left: Any, right: Any) -> int:
    return int(left > right) - int(left < right)


def field_value(kind: Kind, raw: object) -> Scalar | None:
    """A JSON value as the kind it is compared as, or None when it is null or of another type."""
    if kind == "bool":
        return raw if isinstance(raw, bool) else None
    if isinstance(raw, bool):
        return None
    if kind == "int":
        return raw if isinstance(raw, int) else None
    if kind == "number" and isinstance(raw, int | float):
        try:
            return Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
        except InvalidOperation:
            return None
    if kind == "string":
        return raw if isinstance(raw, str) else None
    if kind in ("datetime", "date") and isinstance(raw, str):
        moment = parse_moment(raw)
        if moment is None:
            return None
        if kind == "date":
            return moment.date() if moment.time() == datetime.min.time() else None
        return moment
    return None


def parse_moment(text: str) -> datetime | None:
    """An ISO 8601 date-time as the API writes it (`Z`, an offset, or none)."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def _compare_moment(op: Op, raw: object, literal: object) -> Truth:
    value = field_value("datetime", raw)
    if not isinstance(value, datetime) or not isinstance(literal, datetime):
        return None
    if value.tzinfo is not None:
        return _holds(op, _sign(value, literal))
    # No offset: the value is somewhere within a day of what it says. Judge only what holds
    # wherever in that span it really is.
    naive = literal.replace(tzinfo=None) - (literal.utcoffset() or timedelta())
    low, high = value - _ZONE_SPREAD, value + _ZONE_SPREAD
    if op in ("eq", "ne"):
        return None if low <= naive <= high else op == "ne"
    at_low, at_high = _holds(op, _sign(low, naive)), _holds(op, _sign(high, naive))
    return at_low if at_low == at_high else None


# strings ---------------------------------------------------------------------------------------


def _folded(text: str) -> str:
    """The coarsest key any accent-sensitive collation could compare by."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return folded.replace("æ", "ae").replace("œ", "oe").replace("ĳ", "ij")


def _loose(text: str) -> str:
    """`_folded`, and trailing spaces do not count (SQL pads strings compared with `=`)."""
    return _folded(text).rstrip(" ")


def _awkward(*texts: str, trailing_spaces: bool = True) -> bool:
    """Texts whose comparison turns on collation details we do not judge."""
    return any(
        (trailing_spaces and text != text.rstrip(" "))
        or unicodedata.normalize("NFKC", text) != text
        or any(
            char in _EXPANDING or len(char.lower()) != 1 or len(char.upper()) != 1 for char in text
        )
        for text in texts
    )


def string_equal(left: str, right: str, case_sensitive: bool | None) -> Truth:
    left, right = unicodedata.normalize("NFC", left), unicodedata.normalize("NFC", right)
    if left == right:
        return True
    if _loose(left) != _loose(right):
        return False
    if _awkward(left, right) or left.lower() != right.lower():
        return None
    # They differ in letter case only.
    return None if case_sensitive is None else not case_sensitive


def _plain(text: str) -> bool:
    return _PLAIN.fullmatch(text) is not None


def _order_keys(case_sensitive: bool | None) -> list[Any]:
    """The sort keys of the collations the server may plausibly use."""
    folded = str.lower

    def ordinal(text: str) -> str:
        return text

    def lower_first(text: str) -> tuple[str, tuple[bool, ...]]:
        return text.lower(), tuple(char.isupper() for char in text)

    if case_sensitive is False:
        return [folded]
    if case_sensitive is True:
        return [ordinal, lower_first]
    return [folded, ordinal, lower_first]


def string_order(left: str, right: str, case_sensitive: bool | None) -> int | None:
    """-1, 0 or 1 when every plausible collation agrees; None when they do not, or when a
    string holds anything but ASCII letters, digits and single inner spaces."""
    if not (_plain(left) and _plain(right)):
        return None
    signs = {_sign(key(left), key(right)) for key in _order_keys(case_sensitive)}
    return signs.pop() if len(signs) == 1 else None


def _string_function(function: Function, text: str, needle: str, case: bool | None) -> Truth:
    text, needle = unicodedata.normalize("NFC", text), unicodedata.normalize("NFC", needle)
    if not needle or _LIKE_SPECIAL & set(needle):
        return None  # '' and LIKE wildcards: translations differ
    test = {
        "contains": str.__contains__,
        "startswith": str.startswith,
        "endswith": str.endswith,
    }[function]
    if test(text, needle):
        return True
    if not test(_folded(text), _folded(needle)):
        return False
    if _awkward(text, needle, trailing_spaces=False):
        return None
    if test(text.lower(), needle.lower()):
        return None if case is None else not case
    return None


# what a query must return ----------------------------------------------------------------------


def sort_key(kind: Kind, raw: object, rules: StringRules) -> Any:
    """The key `$orderby` sorts a value by, for a field `orderable` accepted."""
    value = field_value(kind, raw)
    if kind == "string" and isinstance(value, str) and rules.case_sensitive is not True:
        return value.lower()
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value


def orderable(field: str, kind: Kind, rows: list[Row], rules: StringRules) -> bool:
    """Whether sorting `rows` by `field` has one right answer whatever the collation: no nulls,
    no mixed offsets, and strings that every plausible collation puts in the same order."""
    values = [field_value(kind, row.get(field)) for row in rows]
    if not values or any(value is None for value in values):
        return False
    if kind == "datetime":
        return len({isinstance(v, datetime) and v.tzinfo is None for v in values}) == 1
    if kind != "string":
        return True
    texts = {str(value) for value in values}
    if not all(_plain(text) for text in texts):
        return False
    orders = {
        tuple(sort_key(kind, text, rules) for text in sorted(texts, key=collation))
        for collation in _order_keys(rules.case_sensitive)
    }
    return len(orders) == 1


@dataclass(frozen=True)
class Expected:
    """What the API must answer for a query over the sample."""

    must: frozenset[int]
    """Ids the answer has to hold."""
    may: frozenset[int]
    """Ids it may hold (includes `must`); any other id is wrong."""
    size: int | None
    """How many rows it must hold, when that is determined."""
    keys: tuple[Any, ...] | None
    """The sort keys, in order, its rows must carry, when that is determined."""


class AnswerKey:
    """Expected answers over a sample that holds every customer a query's bounds can reach."""

    def __init__(self, rows: list[Row], kinds: dict[str, Kind], rules: StringRules) -> None:
        self.rows = rows
        self.by_id: dict[int, Row] = {row["id"]: row for row in rows}
        self.kinds = kinds
        self.rules = rules

    def _key(self, field: str, row: Row) -> Any:
        return sort_key(self.kinds[field], row.get(field), self.rules)

    def expect(self, query: Query) -> Expected:
        truths = [(row, self._truth(query, row)) for row in self.rows]
        matching = [row for row, truth in truths if truth is True]
        may = frozenset(row["id"] for row, truth in truths if truth is not False)
        if query.orderby is not None:
            field, descending = query.orderby
            matching.sort(key=lambda row: self._key(field, row), reverse=descending)
        start = query.skip or 0
        stop = start + query.top if query.top is not None else None
        page = matching[start:stop]
        if len(may) > len(matching):  # some rows are unknown: only the certain part is judged
            whole = start == 0 and (stop is None or stop >= len(may))
            return Expected(_ids(matching) if whole else frozenset(), may, None, None)
        if query.orderby is None:
            must = _ids(page) if len(page) == len(matching) else frozenset()
            return Expected(must, may, len(page), None)
        field = query.orderby[0]
        keys = tuple(self._key(field, row) for row in page)
        chosen = _ids(page)
        outside = {self._key(field, row) for row in matching if row["id"] not in chosen}
        must = frozenset(
            row["id"] for row, key in zip(page, keys, strict=True) if key not in outside
        )
        return Expected(must, may, len(page), keys)

    def _truth(self, query: Query, row: Row) -> Truth:
        return True if query.filter is None else evaluate(query.filter, row, self.rules)

    def judge(self, query: Query, returned: list[Row]) -> list[str]:
        """What is wrong with `returned` as the answer to `query` (empty: nothing)."""
        raw_ids = [row.get("id") for row in returned]
        ids = [i for i in raw_ids if isinstance(i, int) and not isinstance(i, bool)]
        if len(ids) < len(raw_ids):
            return ["returned rows without a whole-number id"]
        expected = self.expect(query)
        problems: list[str] = []
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            problems.append(f"returned id(s) {_list(twice)} more than once")
        extra = [i for i in ids if i not in expected.may]
        if extra:
            problems.append(
                f"returned {len(extra)} customer(s) that do not match: id(s) {_list(extra)}"
            )
        missing = sorted(expected.must - set(ids))
        if missing:
            problems.append(f"left out {len(missing)} matching customer(s): id(s) {_list(missing)}")
        if expected.size is not None and len(ids) != expected.size:
            problems.append(f"returned {len(ids)} row(s) where {expected.size} match")
        if query.orderby is not None and not extra:
            problems += self._order_problems(query.orderby, [self.by_id[i] for i in ids], expected)
        return problems

    def _order_problems(
        self, orderby: tuple[str, bool], rows: list[Row], expected: Expected
    ) -> list[str]:
        field, descending = orderby
        keys = [self._key(field, row) for row in rows]
        pairs = pairwise(keys)
        if any((later > earlier) if descending else (later < earlier) for earlier, later in pairs):
            shown = [row.get(field) for row in rows[:8]]
            order = "desc" if descending else "asc"
            return [f"returned rows not sorted by {field} {order}: {field} values {shown}"]
        if expected.keys is not None and tuple(keys) != expected.keys:
            return [
                f"returned a page whose {field} values do not belong at that place in the order"
            ]
        return []


def _ids(rows: list[Row]) -> frozenset[int]:
    return frozenset(row["id"] for row in rows)


def _list(ids: list[Any], limit: int = 10) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f" … ({len(ids)} in all)" if len(ids) > limit else "")
