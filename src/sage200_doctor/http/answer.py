"""What came back for one request, and how to describe it to a person.

An `Answer` is data: the status, headers and (capped) body text of an HTTP answer, or the network
problem that stopped one from arriving. Live requests, recorded captures and a Postman
collection's saved responses all become `Answer`s, so the same rules judge them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sage200_doctor.http.network import NetworkProblem
from sage200_doctor.redact import Redactor

__all__ = ["MAX_BODY_BYTES", "MAX_JSON_DEPTH", "Answer", "JsonTooDeep", "parse_json"]

MAX_BODY_BYTES = 2_000_000
MAX_JSON_DEPTH = 64
"""No Sage answer nests more than a handful of levels; a deeper one is hostile, and every
recursive walk over it (redaction, comparison, reports) would risk Python's recursion limit."""
SHORT_BODY_CHARS = 80
_NOT_JSON = object()
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


@dataclass
class Answer:
    """What came back for one request (after any 429 retries)."""

    url: str
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    text: str = ""
    truncated: bool = False
    elapsed_ms: float = 0.0
    problem: NetworkProblem | None = None
    retries: int = 0
    waited_s: float = 0.0
    redactor: Redactor | None = field(default=None, repr=False, compare=False)
    """The run's redactor (set by `Session`): text quoted from the body is redacted, then cut."""
    _parsed: Any = field(default=None, repr=False)
    _not_json: ValueError | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def json(self) -> Any:
        """The parsed JSON body, or None when the body is not JSON (HTML error page, truncated)."""
        if self._parsed is None:
            try:
                self._parsed = (
                    parse_json(self.text) if self.text and not self.truncated else _NOT_JSON
                )
            except ValueError as error:  # malformed, nested too deeply, a number too long
                self._parsed, self._not_json = _NOT_JSON, error
        return None if self._parsed is _NOT_JSON else self._parsed

    @property
    def is_json(self) -> bool:
        return self.json is not None

    def excerpt(self, limit: int) -> str:
        """About the first `limit` characters of the body, redacted before they are cut."""
        return self._redact().excerpt(self.text, limit)

    def _redact(self) -> Redactor:
        # An answer made outside a Session (tests, captures) still has credential shapes masked.
        return self.redactor if self.redactor is not None else Redactor()

    def describe_body(self) -> str:
        """A short phrase for findings: what came back, and a hint of what that suggests."""
        if self.status is not None and 300 <= self.status < 400:
            return (
                f"a redirect to {self.headers.get('location', 'an unnamed place')} (not followed)"
            )
        if self.truncated:
            size = MAX_BODY_BYTES // 1_000_000
            return f"a body larger than {size} MB (cut short: only the first {size} MB were read)"
        text = self.text.strip()
        if not text:
            return "an empty body"
        if self.is_json:
            return "a JSON body"
        if text == "null":
            return "a JSON null"
        if "<html" in text[:500].lower() or self.content_type == "text/html":
            title = _html_title(text, self._redact())
            named = f' titled "{title}"' if title else ""
            return f"an HTML page{named} (typically a proxy, firewall or gateway error page)"
        broken = _broken_json(text, self.content_type, self._not_json)
        if broken:
            return broken
        if text.startswith("<?xml") or self.content_type.endswith("xml"):
            return "an XML body, not JSON"
        kind = f" ({self.content_type})" if self.content_type else ""
        return f"a body that is not JSON{kind}{_quoted_if_short(text)}"


def _html_title(text: str, redactor: Redactor) -> str:
    match = _HTML_TITLE.search(text[:5000])
    title = " ".join(match.group(1).split()) if match else ""
    return redactor.excerpt(title, SHORT_BODY_CHARS)


def parse_json(text: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads`, refusing what no honest answer holds: ValueError for malformed JSON and
    for numbers of more than 4,300 digits (Python's own limit), `JsonTooDeep` for JSON nested
    deeper than `max_depth`. NaN and Infinity are read as JSON's Python reading has them."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonTooDeep(max_depth) from None
    if not within_depth(value, max_depth):
        raise JsonTooDeep(max_depth)
    return value


class JsonTooDeep(ValueError):
    """JSON nested deeper than anything sage200-doctor reads."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"JSON nested more than {max_depth} levels deep")


def within_depth(value: Any, max_depth: int) -> bool:
    """Whether `value` (parsed JSON) nests at most `max_depth` lists/objects deep. Iterative,
    so it can look at what a recursive walk could not."""
    pending: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while pending:
        item, depth = pending.pop()
        if depth > max_depth:
            return False
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                pending.append((child, depth + 1))
    return True


def _broken_json(text: str, content_type: str, error: ValueError | None) -> str | None:
    """'JSON that is cut short' or 'malformed JSON (…)' for a body that means to be JSON."""
    if error is None or ("json" not in content_type and text[:1] not in ("{", "[")):
        return None
    if isinstance(error, JsonTooDeep):
        return f"malformed JSON (nested more than {MAX_JSON_DEPTH} levels deep)"
    if isinstance(error, json.JSONDecodeError):
        if error.msg.startswith("Unterminated") or error.pos >= len(text):
            return f"JSON that is cut short (it stops mid-document after {len(text)} characters)"
        return f"malformed JSON ({error.msg} at character {error.pos})"
    return "malformed JSON (a number with more digits than any value has)"


def _quoted_if_short(text: str) -> str:
    line = " ".join(text.split())
    return f': "{line}"' if len(line) <= SHORT_BODY_CHARS and line.isprintable() else ""
