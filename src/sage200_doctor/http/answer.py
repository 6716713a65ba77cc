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

__all__ = ["MAX_BODY_BYTES", "Answer"]

MAX_BODY_BYTES = 2_000_000
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
                    json.loads(self.text) if self.text and not self.truncated else _NOT_JSON
                )
            except (ValueError, RecursionError):
                # RecursionError: JSON nested hundreds deep, a hostile answer, not a crash.
                self._parsed = _NOT_JSON
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
        broken = _broken_json(text, self.content_type)
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


def _broken_json(text: str, content_type: str) -> str | None:
    """'JSON that is cut short' or 'malformed JSON (…)' for a body that means to be JSON."""
    if "json" not in content_type and text[:1] not in ("{", "["):
        return None
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        if error.msg.startswith("Unterminated") or error.pos >= len(text):
            return f"JSON that is cut short (it stops mid-document after {len(text)} characters)"
        return f"malformed JSON ({error.msg} at character {error.pos})"
    except RecursionError:
        return "malformed JSON (nested too deeply to read)"
    return None  # valid JSON, only the literal null: is_json says no


def _quoted_if_short(text: str) -> str:
    line = " ".join(text.split())
    return f': "{line}"' if len(line) <= SHORT_BODY_CHARS and line.isprintable() else ""
