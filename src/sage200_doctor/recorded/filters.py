"""Recorded OData queries read back into expression trees, so the answer key can judge them.

The live conformance check builds its queries as trees (`http/odata_tree.py`) and renders them;
a capture holds only the rendered text. This reads that text back: comparisons
(`field op literal`), `contains`/`startswith`/`endswith` calls, `not`, `and`, `or` and
parentheses, with OData's precedence (not > and > or). Anything else (other functions,
arithmetic, typed literals such as `guid'…'`) is not read, and the query is not judged:
triage judges only what it can read exactly.

Client side, written apart from the emulator's parser on purpose (a shared misreading would
pass on both sides).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Final, get_args

from sage200_doctor.http.odata_eval import parse_moment
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
    Value,
)

__all__ = ["NotReadable", "parse_filter", "parse_query"]

OPERATORS: Final[dict[str, Op]] = {op: op for op in get_args(Op)}
FUNCTIONS: Final[dict[str, Function]] = {name: name for name in get_args(Function)}
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<moment>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
      | (?P<day>\d{4}-\d{2}-\d{2})
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)
Token = tuple[str, str]


class NotReadable(ValueError):
    """The text uses something this reader does not read."""


def parse_filter(text: str, kinds: Mapping[str, Kind] | None = None) -> Expr:
    """The tree of a `$filter` expression (already percent-decoded). `kinds`: each field's
    kind, so that `credit_limit gt 2500` compares as a number where the field is one."""
    parser = _Parser(_tokens(text), kinds or {})
    expr = parser.disjunction()
    if parser.position != len(parser.tokens):
        raise NotReadable("text after the end of the expression")
    return expr


def parse_query(params: Mapping[str, str], kinds: Mapping[str, Kind]) -> Query | None:
    """The query a request's `$filter`, `$orderby`, `$top` and `$skip` ask (`$select` does
    not change which rows come back); None when any part cannot be read exactly."""
    known = {"$filter", "$orderby", "$top", "$skip", "$select"}
    if any(name not in known for name in params):
        return None
    try:
        condition = parse_filter(params["$filter"], kinds) if "$filter" in params else None
        orderby = _orderby(params["$orderby"]) if "$orderby" in params else None
        top = _count(params.get("$top"))
        skip = _count(params.get("$skip"))
    except NotReadable:
        return None
    return Query(filter=condition, orderby=orderby, top=top, skip=skip)


def _orderby(text: str) -> tuple[str, bool]:
    parts = text.split()
    if len(parts) not in (1, 2) or "," in text or not _is_name(parts[0]):
        raise NotReadable("only one sort key is read")
    direction = parts[1].lower() if len(parts) == 2 else "asc"
    if direction not in ("asc", "desc"):
        raise NotReadable("a sort direction other than asc or desc")
    return parts[0], direction == "desc"


def _count(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.strip().isdigit():
        raise NotReadable("not a whole number")
    return int(text.strip())


def _is_name(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) is not None


def _tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise NotReadable("a character this reader does not read")
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over the tokens: or < and < not < a comparison or call."""

    def __init__(self, tokens: list[Token], kinds: Mapping[str, Kind]) -> None:
        self.tokens = tokens
        self.kinds = kinds
        self.position = 0

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, kind: str | None = None, text: str | None = None) -> str:
        token = self.peek()
        if token is None or (kind and token[0] != kind) or (text and token[1].lower() != text):
            raise NotReadable(f"expected {text or kind}")
        self.position += 1
        return token[1]

    def at_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1].lower() == word

    def disjunction(self) -> Expr:
        expr = self.conjunction()
        while self.at_word("or"):
            self.take()
            expr = Or(expr, self.conjunction())
        return expr

    def conjunction(self) -> Expr:
        expr = self.negation()
        while self.at_word("and"):
            self.take()
            expr = And(expr, self.negation())
        return expr

    def negation(self) -> Expr:
        if self.at_word("not"):
            self.take()
            return Not(self.negation())
        return self.primary()

    def primary(self) -> Expr:
        token = self.peek()
        if token == ("punct", "("):
            self.take()
            expr = self.disjunction()
            self.take("punct", ")")
            return expr
        name = self.take("word")
        if self.peek() == ("punct", "("):
            return self.call(name)
        op = OPERATORS.get(self.take("word").lower())
        if op is None:
            raise NotReadable("an operator this reader does not read")
        return Compare(name, op, self.literal(name))

    def call(self, name: str) -> Call:
        function = FUNCTIONS.get(name)
        if function is None:
            raise NotReadable("a function this reader does not read")
        self.take("punct", "(")
        field = self.take("word")
        self.take("punct", ",")
        needle = _unquote(self.take("string"))
        self.take("punct", ")")
        return Call(function, field, needle)

    def literal(self, field: str) -> Value:
        token = self.peek()
        if token is None:
            raise NotReadable("a comparison without a value")
        self.position += 1
        kind, text = token
        if kind == "string":
            return Value("string", _unquote(text))
        if kind == "word" and text in ("true", "false"):
            return Value("bool", text == "true")
        if kind == "number":
            return _number(text, self.kinds.get(field))
        if kind == "moment":
            moment = parse_moment(text)
            if moment is None:
                raise NotReadable("a date-time this reader does not read")
            return Value("datetime", moment)
        if kind == "day":
            return Value("date", date.fromisoformat(text))
        raise NotReadable("a value this reader does not read")


def _unquote(text: str) -> str:
    return text[1:-1].replace("''", "'")


def _number(text: str, field_kind: Kind | None) -> Value:
    if "." not in text and field_kind != "number":
        return Value("int", int(text))
    try:
        return Value("number", Decimal(text))
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise NotReadable("a number this reader does not read") from None
