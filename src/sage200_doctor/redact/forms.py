"""Where a known secret hides in text: escaped, encoded inside a longer run, or inside markup.

Pure functions over strings, for `redact.Redactor` (which decides what is a secret):

- `unescape` undoes what servers and report writers do to text, in up to three passes (a URL
  inside a URL is percent-encoded twice): percent-encoding in either case, HTML character
  references (`&#43;`, `&#x2B;`, `&plus;`) and JSON escapes (`\\u002B`, `\\/`). Each pass keeps a
  map from every decoded character back to the characters it was written as, so a secret found
  in the decoded text is masked exactly where it stands and the text around it survives.
- `run_pattern` finds base64 (standard, URL-safe, MIME-wrapped) and hex runs long enough to
  hold a secret, and `decodings` gives what such a run may decode to. A run is decoded whole,
  because the secret can sit anywhere inside a larger encoded string (`Bearer …`, a form body).
- `markup_data` yields the parts of HTML or XML that are data (text, comments, quoted attribute
  values): the only parts a sweep over a rendered report may change.
"""

from __future__ import annotations

import binascii
import functools
import html
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

ESCAPE_MARKS = re.compile(r"[%&\\]")
"""A text without any of these has nothing `unescape` could decode."""
MAX_PASSES = 3
_ESCAPE = re.compile(
    r"%[C-Fc-f][0-9A-Fa-f](?:%[89ABab][0-9A-Fa-f]){1,3}"  # one UTF-8 character, percent-encoded
    r"|%[0-9A-Fa-f]{2}"
    r"|&#(?:[0-9]{1,7}|[xX][0-9A-Fa-f]{1,6});?"
    r"|&[A-Za-z][A-Za-z0-9]{1,31};"  # named references need their ';' (`&copy=1` is a query)
    r"|\\u[0-9A-Fa-f]{4}"
    r"|\\[\\/\"']"
)
_B64 = "A-Za-z0-9+/_\\-"
_LINE_BREAK = r"(?:\r?\n|\\r\\n|\\n)"
MIME_LINE = 40
"""Base64 lines at least this long, broken by newlines (MIME: 76, PEM: 64), form one run."""


@functools.lru_cache(maxsize=4096)  # the same few escapes (%20, &quot;) again and again
def _decode_escape(token: str) -> str:
    if token[0] == "%":
        raw = binascii.unhexlify(token.replace("%", ""))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    if token[0] == "&":
        return html.unescape(token)
    if token[1] == "u":
        return chr(int(token[2:], 16))
    return token[1]


@dataclass(frozen=True)
class Unescaped:
    """One decoding pass over `source`'s text; `origin` maps decoded spans back to it."""

    text: str
    starts: tuple[int, ...]
    """Where each piece of `text` starts (pieces: literal stretches and decoded escapes)."""
    origins: tuple[tuple[int, int, bool], ...]
    """Each piece's (start, end) in the source, and whether it is a literal stretch."""
    parent: Unescaped | None

    def origin(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that the decoded characters [start, end) came from."""
        first, last = self._piece(start), self._piece(end - 1)
        begin = first[0] + (start - first[2]) if first[1] else first[0]
        stop = last[0] + (end - last[2]) if last[1] else last[3]
        return self.parent.origin(begin, stop) if self.parent else (begin, stop)

    def _piece(self, index: int) -> tuple[int, bool, int, int]:
        at = bisect_right(self.starts, index) - 1
        start, end, literal = self.origins[at]
        return start, literal, self.starts[at], end


def _unescape_once(source: str, parent: Unescaped | None) -> Unescaped | None:
    pieces: list[str] = []
    starts: list[int] = []
    origins: list[tuple[int, int, bool]] = []
    length = position = 0
    for match in _ESCAPE.finditer(source):
        plain = _decode_escape(match.group())
        if plain == match.group():
            continue
        if match.start() > position:
            pieces.append(source[position : match.start()])
            starts.append(length)
            origins.append((position, match.start(), True))
            length += match.start() - position
        pieces.append(plain)
        starts.append(length)
        origins.append((match.start(), match.end(), False))
        length += len(plain)
        position = match.end()
    if not origins:
        return None
    if position < len(source):
        pieces.append(source[position:])
        starts.append(length)
        origins.append((position, len(source), True))
    return Unescaped("".join(pieces), tuple(starts), tuple(origins), parent)


class _Pass:
    """One decoding pass by `re.sub`, noting whether another pass could decode more: only if a
    decoded character is itself an escape mark (`%25` → `%`), or a mark left as it was stands
    just before a decoded character (`%2%35` → `%25`)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.again = False
        self._literal_from = 0

    def __call__(self, match: re.Match[str]) -> str:
        token = match.group()
        plain = _decode_escape(token)
        if plain != token and not self.again:
            before = max(self._literal_from, match.start() - _LONGEST_ESCAPE)
            self.again = bool(
                ESCAPE_MARKS.search(plain) or ESCAPE_MARKS.search(self.text, before, match.start())
            )
        self._literal_from = match.end()
        return plain


_LONGEST_ESCAPE = 40


def decoded(text: str) -> Iterator[str]:
    """The text of each pass `unescape` would make, without the map back (cheaper: most texts
    with an escape hold no secret, and only those that do need to know where it stood)."""
    current = text
    for _ in range(MAX_PASSES):
        if not ESCAPE_MARKS.search(current):
            return
        step = _Pass(current)
        following = _ESCAPE.sub(step, current)
        if following == current:
            return
        yield following
        if not step.again:
            return
        current = following


def unescape(text: str) -> Iterator[Unescaped]:
    """Each decoding pass of `text` in turn (none when nothing in it decodes).

    Every pass is searched, not only the last: a later pass can turn what an earlier one
    revealed into something else (`%26copy;` → `&copy;` → `©`)."""
    layer: Unescaped | None = None
    current = text
    for _ in range(MAX_PASSES):
        if not ESCAPE_MARKS.search(current):
            return
        layer = _unescape_once(current, layer)
        if layer is None:
            return
        yield layer
        current = layer.text


def run_pattern(min_secret_chars: int) -> re.Pattern[str]:
    """Base64-alphabet runs long enough to hold a secret of `min_secret_chars` bytes, base64
    or hex encoded (hex digits are base64 characters too, and take more room)."""
    shortest = max(8, -(-4 * min_secret_chars // 3))
    # Runs start only where one begins: tried from inside a run, the scan would be quadratic.
    return re.compile(
        rf"(?<![{_B64}])(?:"
        rf"(?:[{_B64}]{{{MIME_LINE},}}{_LINE_BREAK})+[{_B64}]*={{0,2}}"
        rf"|[{_B64}]{{{shortest},}}={{0,2}})"
    )


def decodings(run: str, min_secret_chars: int) -> Iterator[str]:
    """What a run may decode to: as base64 at every alignment, and every hex stretch in it at
    both alignments (a run can start with characters that are not part of the encoding:
    `/path/<base64>`, `x<hex>`)."""
    compact = re.sub(_LINE_BREAK, "", run).rstrip("=")
    standard = compact.translate(_URLSAFE)
    for offset in range(4):
        chunk = standard[offset:]
        if len(chunk) % 4 == 1:  # one character past the last whole byte: not part of it
            chunk = chunk[:-1]
        if chunk:
            padded = chunk + "=" * (-len(chunk) % 4)
            yield binascii.a2b_base64(padded).decode("utf-8", "replace")
    for stretch in _HEX.findall(compact):
        if len(stretch) >= 2 * min_secret_chars:
            for offset in (0, 1):
                chunk = stretch[offset:]
                yield bytes.fromhex(chunk[: len(chunk) // 2 * 2]).decode("utf-8", "replace")


_HEX = re.compile(r"[0-9A-Fa-f]{16,}")
_URLSAFE = str.maketrans("-_", "+/")

_MARKUP = re.compile(
    r"<!--(?P<comment>.*?)-->"
    r"|<!\[CDATA\[(?P<cdata>.*?)\]\]>"
    r"|<(?P<raw>script|style)\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>(?P<rawtext>.*?)</(?P=raw)\s*>"
    r"|<[A-Za-z/!?](?P<tag>(?:[^>\"']|\"[^\"]*\"|'[^']*')*)>",
    re.DOTALL | re.IGNORECASE,
)
_ATTRIBUTE_VALUE = re.compile(r"=\s*(?:\"(?P<double>[^\"]*)\"|'(?P<single>[^']*)')")


def markup_data(markup: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every stretch of `markup` that is data: text between tags, comment and
    CDATA contents, script and style contents, quoted attribute values. Tag and attribute names,
    quotes, `=` and the brackets are never inside one."""
    position = 0
    for match in _MARKUP.finditer(markup):
        if match.start() > position:
            yield position, match.start()
        for group in ("comment", "cdata", "rawtext"):
            if match.group(group):
                yield match.span(group)
        tag = match.group("tag")
        if tag:
            offset = match.start("tag")
            for value in _ATTRIBUTE_VALUE.finditer(tag):
                name = "double" if value.group("double") is not None else "single"
                start, end = value.span(name)
                if end > start:
                    yield offset + start, offset + end
        position = match.end()
    if position < len(markup):
        yield position, len(markup)
