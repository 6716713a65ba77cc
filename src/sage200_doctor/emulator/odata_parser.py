"""Recursive-descent parser for `$filter`, producing a small syntax tree.

Grammar (lowest precedence first; keywords are lower case, as in OData):
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := unary ("and" unary)*
    unary      := "not" unary | comparison
    comparison := operand (("eq"|"ne"|"gt"|"ge"|"lt"|"le") operand)?
    operand    := literal | NAME | NAME "(" or_expr ("," or_expr)* ")" | "(" or_expr ")"
"""

from __future__ import annotations

from dataclasses import dataclass

from .odata_lexer import Kind, QueryError, Token, tokenize

COMPARISONS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_UNSUPPORTED_OPERATORS = frozenset({"has", "in", "add", "sub", "mul", "div", "mod"})
_CONSTANTS: dict[str, object] = {"true": True, "false": False, "null": None}


@dataclass(frozen=True)
class Literal:
    value: object
    kind: str  # "string" | "number" | "bool" | "null" | "date" | "datetime"


@dataclass(frozen=True)
class Field:
    name: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Logical:
    op: str  # "and" | "or"
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


Node = Literal | Field | Call | Compare | Logical | Not


def parse_filter(text: str) -> Node:
    if not text.strip():
        raise QueryError("The $filter expression is empty.")
    return _Parser(tokenize(text), text).parse()


class _Parser:
    def __init__(self, tokens: list[Token], text: str) -> None:
        self._tokens = tokens
        self._text = text
        self._index = 0

    def parse(self) -> Node:
        node = self._or()
        if self._peek().kind is not Kind.END:
            raise self._error("Syntax error", self._peek())
        return node

    def _or(self) -> Node:
        node = self._and()
        while self._accept_keyword("or"):
            node = Logical("or", node, self._and())
        return node

    def _and(self) -> Node:
        node = self._unary()
        while self._accept_keyword("and"):
            node = Logical("and", node, self._unary())
        return node

    def _unary(self) -> Node:
        if self._accept_keyword("not"):
            return Not(self._unary())
        return self._comparison()

    def _comparison(self) -> Node:
        left = self._operand()
        token = self._peek()
        if token.kind is Kind.NAME and token.text in COMPARISONS:
            self._index += 1
            return Compare(token.text, left, self._operand())
        if token.kind is Kind.NAME and token.text in _UNSUPPORTED_OPERATORS:
            raise QueryError(f"The operator '{token.text}' is not supported.")
        return left

    def _operand(self) -> Node:
        token = self._advance()
        if token.kind is Kind.LPAREN:
            node = self._or()
            self._expect(Kind.RPAREN)
            return node
        if token.kind in (Kind.STRING, Kind.NUMBER, Kind.DATE, Kind.DATETIME):
            return Literal(token.value, token.kind.value)
        if token.kind is Kind.NAME:
            return self._name(token)
        raise self._error("Syntax error", token)

    def _name(self, token: Token) -> Node:
        if token.text in _CONSTANTS:
            value = _CONSTANTS[token.text]
            return Literal(value, "null" if value is None else "bool")
        if token.text in COMPARISONS or token.text in ("and", "or", "not"):
            raise self._error("Syntax error", token)
        if self._peek().kind is not Kind.LPAREN:
            return Field(token.text)
        self._index += 1
        args = [self._or()]
        while self._peek().kind is Kind.COMMA:
            self._index += 1
            args.append(self._or())
        self._expect(Kind.RPAREN)
        return Call(token.text, tuple(args))

    def _peek(self) -> Token:
        return self._tokens[self._index]

    def _advance(self) -> Token:
        token = self._tokens[self._index]
        if token.kind is not Kind.END:
            self._index += 1
        return token

    def _accept_keyword(self, word: str) -> bool:
        token = self._peek()
        if token.kind is Kind.NAME and token.text == word:
            self._index += 1
            return True
        return False

    def _expect(self, kind: Kind) -> None:
        token = self._advance()
        if token.kind is not kind:
            raise self._error(f"Expected '{kind.value}'", token)

    def _error(self, what: str, token: Token) -> QueryError:
        found = token.text or token.kind.value
        return QueryError(f"{what} at position {token.position} ('{found}') in '{self._text}'.")
