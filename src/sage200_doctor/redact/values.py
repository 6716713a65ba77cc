"""The secret values a run knows, and where they stand in a text.

`KnownValues` holds every registered value in every form it takes on the wire and in reports
(`encodings`), and finds them three ways: as written (one compiled alternation, longest first),
once escapes are decoded (`forms.unescape`: found exactly where it stands, through the
map back), and inside base64 and hex runs (`forms.decodings`: the whole run is the span,
since no part of an encoding can be cut out of it). `redact.Redactor` decides what to register
and masks the spans.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus

from sage200_doctor.redact.forms import ESCAPE_MARKS, decoded, decodings, run_pattern, unescape

MIN_SECRET_LENGTH = 6
"""Shorter values would mask innocent text everywhere; real keys and tokens are far longer."""
RUNS_MEMO_MAX_ENTRIES = 50_000
MARKUP_SIGNIFICANT = frozenset("<>\"'`&\\")
"""A form holding one of these (or whitespace) is never searched for in rendered markup:
masking it could remove the markup's own quotes and brackets."""

Span = tuple[int, int, str]
"""(start, end, label) of a secret in a text."""
_Origin = Callable[[int, int], tuple[int, int]]


def encodings(value: str) -> set[str]:
    """The forms a value takes on the wire and in reports."""
    raw = value.encode()
    standard = base64.b64encode(raw).decode()
    urlsafe = base64.urlsafe_b64encode(raw).decode()
    forms = {
        value,
        value.replace(" ", "+"),  # what form-decoding leaves of quote_plus with %xx decoded
        quote(value),
        quote(value, safe=""),
        quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        html.escape(value),
        html.escape(value, quote=False),
        standard,
        standard.rstrip("="),
        urlsafe,
        urlsafe.rstrip("="),
    }
    # The escaped forms of the encodings, too: a base64 value inside a JSON or HTML report.
    forms |= {html.escape(form) for form in list(forms)}
    forms |= {json.dumps(form)[1:-1] for form in list(forms)}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def markup_inert(form: str) -> bool:
    return not any(c in MARKUP_SIGNIFICANT or c.isspace() for c in form)


def replace_spans(text: str, spans: list[Span]) -> str:
    """`text` with each span masked as `[redacted:label]`; overlapping spans are one mask."""
    pieces: list[str] = []
    position = 0
    for start, end, label in sorted(spans):
        if start >= position:
            pieces += [text[position:start], f"[redacted:{label}]"]
        position = max(position, end)  # a span inside or across the last one extends it
    pieces.append(text[position:])
    return "".join(pieces)


class KnownValues:
    """Registered secrets in all their forms, and the spans where a text holds one."""

    def __init__(self) -> None:
        self._forms: dict[str, str] = {}
        """Every form of every value, and the label of the value it encodes."""
        self._shortest = 0
        """Bytes in the shortest value: encoded runs too short to hold it are not decoded."""
        self._compiled_for = -1
        self._pattern: re.Pattern[str] | None = None
        self._inert: re.Pattern[str] | None = None
        self._runs: re.Pattern[str] | None = None
        self._runs_seen: dict[str, str | None] = {}
        """Runs already decoded, and the label of the secret each holds (or None)."""

    def __len__(self) -> int:
        return len(self._forms)

    def register(self, label: str, values: Iterable[str]) -> None:
        # Copied, then swapped in: a token learned on another thread (the early refresh grant)
        # never changes the dict under a redaction iterating it.
        forms = dict(self._forms)
        for value in values:
            if len(value) >= MIN_SECRET_LENGTH:
                for form in encodings(value):
                    forms[form] = label
                size = len(value.encode())
                self._shortest = min(self._shortest or size, size)
        self._forms = forms
        self._runs_seen = {}

    def label_of(self, form: str) -> str:
        return self._forms.get(form, "secret")

    def spans(self, text: str, *, inert_only: bool = False) -> list[Span]:
        """Where `text` holds a known value: as written, escaped, or inside an encoded run.
        `inert_only` searches as written and escaped only for forms that are `markup_inert`."""
        if self._compiled_for != len(self._forms):
            self._compile()
        if self._pattern is None or self._runs is None:
            return []
        pattern = self._inert if inert_only else self._pattern
        spans: list[Span] = []
        for run in self._runs.finditer(text):
            label = self._run_label(run.group())
            if label is not None:
                spans.append((*run.span(), label))
        if pattern is not None:
            spans += [(*m.span(), self.label_of(m.group())) for m in pattern.finditer(text)]
        if ESCAPE_MARKS.search(text) and self._escaped_secret(text, pattern):
            for layer in unescape(text):
                if pattern is not None:
                    spans += [
                        (*layer.origin(*match.span()), self.label_of(match.group()))
                        for match in pattern.finditer(layer.text)
                    ]
                spans += self._runs_holding_secrets(layer.text, layer.origin)
        return spans

    def _escaped_secret(self, text: str, pattern: re.Pattern[str] | None) -> bool:
        """Whether decoding escapes in `text` reveals a secret or a run that holds one (the
        cheap test, without the map back: most escaped texts hold none)."""
        for layer in decoded(text):
            if pattern is not None and pattern.search(layer):
                return True
            if any(self._run_label(run.group()) for run in self._run_matches(layer)):
                return True
        return False

    def _runs_holding_secrets(self, text: str, origin: _Origin) -> list[Span]:
        spans: list[Span] = []
        for run in self._run_matches(text):
            label = self._run_label(run.group())
            if label is not None:
                spans.append((*origin(*run.span()), label))
        return spans

    def _run_label(self, run: str) -> str | None:
        """`_hidden_in`, remembered: the same runs (URL paths, ids) come back in every record."""
        if run not in self._runs_seen:
            if len(self._runs_seen) >= RUNS_MEMO_MAX_ENTRIES:
                self._runs_seen.clear()
            self._runs_seen[run] = self._hidden_in(run, depth=1)
        return self._runs_seen[run]

    def _run_matches(self, text: str) -> Iterable[re.Match[str]]:
        return self._runs.finditer(text) if self._runs is not None else ()

    def _hidden_in(self, run: str, *, depth: int) -> str | None:
        """The label of a secret the encoded `run` holds anywhere in its decoded text."""
        for plain in decodings(run, self._shortest):
            label = self._found_in(plain, depth=depth)
            if label is not None:
                return label
        return None

    def _found_in(self, text: str, *, depth: int) -> str | None:
        assert self._pattern is not None  # only called once something is registered
        found = self._pattern.search(text)
        if found is None:
            for layer in decoded(text):
                found = self._pattern.search(layer)
                if found is not None:
                    break
        if found is not None:
            return self.label_of(found.group())
        if depth > 0:  # base64 of hex, hex of base64, base64 of base64
            for run in self._run_matches(text):
                label = self._hidden_in(run.group(), depth=depth - 1)
                if label is not None:
                    return label
        return None

    def _compile(self) -> None:
        if not self._forms:
            return
        # Longest first, so an encoding is masked whole rather than around a shorter match.
        ordered = sorted(self._forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(form) for form in ordered))
        inert = [form for form in ordered if markup_inert(form)]
        self._inert = re.compile("|".join(re.escape(form) for form in inert)) if inert else None
        self._runs = run_pattern(self._shortest)
        self._compiled_for = len(self._forms)
