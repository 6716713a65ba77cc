"""The OData query options of one request, judged against Sage's query-parameters guide.

Shared by the Postman lint and the triage of captures: both hand over the query parameters of
one request as (name, value) pairs, percent-encoded or not. `$filter` problems belong to the live
check `customers.filter`; paging and unknown options to `customers.query_conformance`.

What the guide documents (https://developer.sage.com/200/guides/query-parameters/): strings in
single quotes, `$skip` only together with `$orderby`, `$top` at most 5000. An apostrophe inside a
string is doubled (`'O''Brien'`), as in every OData dialect. Whether the API refuses or caps a
larger `$top`, and what it does with an unknown `$` option, is not documented: those are warnings.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable
from typing import Final
from urllib.parse import unquote

from . import Judgement

__all__ = [
    "KNOWN_OPTIONS",
    "MAX_TOP",
    "judge_filter",
    "judge_query",
    "judge_query_refused",
    "judge_rejected",
]

FILTER_CHECK: Final = "customers.filter"
QUERY_CHECK: Final = "customers.query_conformance"
GUIDANCE: Final = ("faq.query.odata",)
KNOWN_OPTIONS: Final = (
    "$filter",
    "$orderby",
    "$top",
    "$skip",
    "$select",
    "$expand",
    "$count",
    "$metadata",
)
MAX_TOP: Final = 5000
TYPOGRAPHIC_QUOTES: Final = "‘’“”„«»"  # the characters this rule looks for
_EXCERPT: Final = 60


def judge_query(params: Iterable[tuple[str, str]]) -> list[Judgement]:
    """Everything wrong with one request's query options (an empty list when nothing is)."""
    options = [(unquote(name).strip(), unquote(value)) for name, value in params]
    judgements: list[Judgement] = []
    for name, value in options:
        judgements.extend(_judge_option(name, value))
    names = {name.lower() for name, _ in options}
    if "$skip" in names and "$orderby" not in names:
        judgements.append(
            _query_failed(
                "$skip is used without $orderby.",
                "Sage's query guide says $skip needs $orderby (for example "
                "`$skip=25&$orderby=id asc`); without it the API answers with an error.",
            )
        )
    return judgements


def judge_query_refused(
    status: int | None, said: str, params: Iterable[tuple[str, str]]
) -> Judgement | None:
    """A 400 to a request with OData options: the API refused the query (its guide says the
    body gives the details). `said` is how the answer is described (`status_phrase`). None
    for any other status, or a request without `$` options."""
    names = {unquote(name).strip().lower() for name, _ in params}
    options = sorted(name for name in names if name.startswith("$"))
    if status != 400 or not options:
        return None
    rejected = judge_rejected(f"a query with {', '.join(options)}", said)
    if "$filter" in names:
        return dataclasses.replace(rejected, check=FILTER_CHECK)
    return rejected


def judge_filter(expression: str) -> list[Judgement]:
    """Everything wrong with one `$filter` expression (already percent-decoded)."""
    if not expression.strip():
        return [
            _filter_failed(
                "$filter is empty.",
                "Give an expression such as `reference eq 'A1D001'`, or leave $filter out.",
            )
        ]
    return _literal_problems(expression)


def _judge_option(name: str, value: str) -> list[Judgement]:
    lowered = name.lower()
    if lowered == "$filter":
        judgements = judge_filter(value)
    elif lowered in ("$top", "$skip"):
        judgements = _judge_count(lowered, value)
    elif name.startswith("$") and lowered not in KNOWN_OPTIONS:
        judgements = [_unknown_option(name)]
    elif "$" + lowered in KNOWN_OPTIONS and not name.startswith("$"):
        judgements = [_missing_dollar(name)]
    else:
        judgements = []
    if lowered in KNOWN_OPTIONS and name != lowered:
        judgements.append(
            _query_warning(
                f"{name} is not written in lower case ({lowered}).",
                "Sage documents the options in lower case; whether the API accepts other "
                "spellings is not documented.",
                check=FILTER_CHECK if lowered == "$filter" else QUERY_CHECK,
            )
        )
    return judgements


def _judge_count(name: str, value: str) -> list[Judgement]:
    text = value.strip()
    if not text.isdigit():
        return [
            _query_failed(
                f"{name} is not a whole number.",
                f"{name} takes a non-negative whole number, for example `{name}=100`.",
            )
        ]
    if name == "$top" and int(text) > MAX_TOP:
        return [
            _query_warning(
                f"$top={int(text)} is over the documented maximum of {MAX_TOP}.",
                "Sage's query guide gives 5000 as the largest $top; page with $top and $skip "
                "(and $orderby) instead.",
            )
        ]
    return []


def _unknown_option(name: str) -> Judgement:
    close = difflib.get_close_matches(name.lower(), KNOWN_OPTIONS, n=1, cutoff=0.6)
    guess = f" Did you mean {close[0]}?" if close else ""
    return _query_failed(
        f"{name} is not an OData option the Sage 200 API documents.{guess}",
        f"The documented options are {', '.join(KNOWN_OPTIONS)}. A misspelt option does not do "
        "what was meant, whether the API refuses it or ignores it.",
        check=FILTER_CHECK if close == ["$filter"] else QUERY_CHECK,
    )


def _missing_dollar(name: str) -> Judgement:
    return _query_warning(
        f"The parameter {name} has no leading $ (${name.lower()}).",
        f"Without the $ it is an ordinary parameter, not the OData option ${name.lower()}.",
        check=FILTER_CHECK if name.lower() == "filter" else QUERY_CHECK,
    )


# --- string literals ----------------------------------------------------------------------------


def _literal_problems(expression: str) -> list[Judgement]:
    """Typographic or double quotes outside strings, quotes never closed, and apostrophes that
    end a string early. Inside a single-quoted string anything goes (a name may hold ’ or ")."""
    problems: dict[str, Judgement] = {}
    marks: set[str] = set()
    index = 0
    while index < len(expression):
        char = expression[index]
        if char in TYPOGRAPHIC_QUOTES:
            marks.add(char)
        if char == '"':
            problems.setdefault("double", _double_quoted(expression))
        if char != "'":
            index += 1
            continue
        end = _closing_quote(expression, index)
        if end is None:
            problems.setdefault("open", _unterminated(expression))
            break
        if _word_follows(expression, end):
            # 'O'Brien': the string ended early; what follows is no longer meaningful to scan
            problems.setdefault("apostrophe", _unescaped_apostrophe(expression, index))
            break
        index = end + 1
    typographic = [_typographic(expression, marks)] if marks else []
    return typographic + list(problems.values())


def _typographic(expression: str, marks: set[str]) -> Judgement:
    return _filter_failed(
        f"$filter contains typographic quotes ({' '.join(sorted(marks))}).",
        f"In `{_excerpt(expression)}` the quotes are curly ones, usually copied from a web "
        "page or a word processor. OData strings need straight single quotes: "
        "`reference eq 'A1D001'`.",
    )


def _closing_quote(expression: str, start: int) -> int | None:
    """Where the string opened at `start` ends; a doubled `''` inside is an escaped quote."""
    index = start + 1
    while True:
        end = expression.find("'", index)
        if end < 0:
            return None
        if expression[end + 1 : end + 2] != "'":
            return end
        index = end + 2


def _word_follows(expression: str, end: int) -> bool:
    after = expression[end + 1 : end + 2]
    return after.isalnum() or after == "_"


def _double_quoted(expression: str) -> Judgement:
    return _filter_failed(
        "$filter uses double quotes around a string.",
        f"In `{_excerpt(expression)}`: OData strings go in single quotes, for example "
        "`reference eq 'A1D001'`.",
    )


def _unterminated(expression: str) -> Judgement:
    return _filter_failed(
        "$filter has a string whose closing quote is missing.",
        f"In `{_excerpt(expression)}` a single quote opens a string that never ends.",
    )


def _unescaped_apostrophe(expression: str, start: int) -> Judgement:
    return _filter_failed(
        "$filter has an apostrophe inside a string that is not doubled.",
        f"In `{_excerpt(expression[start:])}` the string ends at the apostrophe. Inside single "
        "quotes write an apostrophe twice: `name eq 'O''Brien'`.",
    )


def _excerpt(text: str) -> str:
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"


def _filter_failed(summary: str, detail: str) -> Judgement:
    return Judgement(FILTER_CHECK, "failed", summary, detail, GUIDANCE)


def _query_failed(summary: str, detail: str, *, check: str = QUERY_CHECK) -> Judgement:
    return Judgement(check, "failed", summary, detail, GUIDANCE)


def _query_warning(summary: str, detail: str, *, check: str = QUERY_CHECK) -> Judgement:
    return Judgement(check, "warning", summary, detail, GUIDANCE)


def judge_rejected(what: str, said: str) -> Judgement:
    """A query the API answered 400 to, where no lint above explains why."""
    return _query_failed(
        f"The API rejected {what} ({said}).",
        "The API answers 400 to a query it cannot read or does not support: compare it with "
        "Sage's query guide (strings in single quotes, the documented operators and functions, "
        "$skip together with $orderby).",
    )
