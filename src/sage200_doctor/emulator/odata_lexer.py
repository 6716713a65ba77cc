"""Tokenizer for the `$filter` subset Sage 200 documents (reference §5).

Each token is recognised at the current position; there is no regular expression over the whole
expression, so quoting mistakes are reported where they happen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum


class QueryError(ValueError):
    """A query option the server rejects with 400; the message is the detail shown to the caller."""


class Kind(Enum):
    NAME = "name"
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    END = "end of expression"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str
    value: object
    position: int


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_./]*")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?")
_PUNCTUATION = {"(": Kind.LPAREN, ")": Kind.RPAREN, ",": Kind.COMMA}


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            tokens.append(Token(Kind.END, "", None, position))
            return tokens
        token = _scan(text, position)
        tokens.append(token)
        position += len(token.text)


def _scan(text: str, position: int) -> Token:
    char = text[position]
    if char in _PUNCTUATION:
        return Token(_PUNCTUATION[char], char, None, position)
    if char == "'":
        return _scan_string(text, position)
    if _DATE.match(text, position):
        return _scan_temporal(text, position)
    if number := _NUMBER.match(text, position):
        literal = number.group()
        value: object = float(literal) if any(c in literal for c in ".eE") else int(literal)
        return Token(Kind.NUMBER, literal, value, position)
    if name := _NAME.match(text, position):
        return Token(Kind.NAME, name.group(), name.group(), position)
    raise QueryError(f"Syntax error: character '{char}' is not valid at position {position}.")


def _scan_string(text: str, start: int) -> Token:
    """A single-quoted string; two quotes in a row stand for one quote character."""
    chars: list[str] = []
    position = start + 1
    while position < len(text):
        if text[position] != "'":
            chars.append(text[position])
            position += 1
        elif text.startswith("''", position):
            chars.append("'")
            position += 2
        else:
            return Token(Kind.STRING, text[start : position + 1], "".join(chars), start)
    raise QueryError(f"There is an unterminated string literal at position {start} in '{text}'.")


def _scan_temporal(text: str, start: int) -> Token:
    day = _DATE.match(text, start)
    assert day is not None  # _scan only calls this after the date pattern matched
    end = day.end()
    time = _TIME.match(text, end)
    if time is None:
        return Token(Kind.DATE, day.group(), _parse_date(day.group()), start)
    end = time.end()
    if not text.startswith("Z", end):
        raise QueryError(
            f"The date-time '{text[start:end]}' at position {start} must be UTC and end in 'Z'."
        )
    literal = text[start : end + 1]
    return Token(Kind.DATETIME, literal, _parse_datetime(literal), start)


def _parse_date(literal: str) -> date:
    try:
        return date.fromisoformat(literal)
    except ValueError:
        raise QueryError(f"'{literal}' is not a valid date.") from None


def _parse_datetime(literal: str) -> datetime:
    try:
        # Naive UTC, like the seed data; fractions beyond microseconds are cut, as .NET rounds.
        head, _, fraction = literal[:-1].partition(".")
        moment = datetime.fromisoformat(head)
        return moment.replace(microsecond=int(fraction[:6].ljust(6, "0"))) if fraction else moment
    except ValueError:
        raise QueryError(f"'{literal}' is not a valid date-time.") from None
