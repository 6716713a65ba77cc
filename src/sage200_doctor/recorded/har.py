"""A streaming HAR 1.1/1.2 reader: one exchange at a time, memory bounded by the largest entry.

`open_har(path)` reads the file's head (format version, the tool that wrote it) and checks that
it is a HAR at all; `capture.exchanges()` then walks `log.entries` with ijson (its C backend
where installed) and yields a `RecordedExchange` per entry, never holding the whole file.
`log.creator` may come after `entries` (JSON objects have no order; tools that serialise a
dictionary write keys in any order): the head scan then reads on to the end once, cheaply.

Every problem reaches people as one `HarError` with a sentence, never ijson's own message
(which quotes the file's bytes, and a capture is full of tokens). An entry too broken to use is
skipped and counted in `capture.skipped`; a file cut short yields the entries before the cut,
then raises.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import ijson

from sage200_doctor.errors import UsageError

from .entries import BrokenEntry, read_entry
from .model import Creator, RecordedExchange, Skipped

DEFAULT_MAX_BODY_CHARS = 2_000_000
"""Longer bodies are cut (and marked `body_truncated`): no Sage answer a rule reads is longer."""
SUPPORTED_VERSIONS = ("1.1", "1.2")
_READ_SIZE = 1024 * 1024
"""Bytes per read. yajl re-scans a value that spans reads from its start at every read, so a
20 MB body costs ~8 s with ijson's default 64 KiB reads and ~0.5 s with 1 MiB ones
(benchmarks/har_big.py `huge-body`)."""

ProgressCallback = Callable[[int, int], None]
"""Called as `progress(bytes_read, total_bytes)` while exchanges are read."""
HarErrorKind = Literal["unreadable", "empty", "not-json", "truncated", "not-har", "version"]


class HarError(UsageError):
    """The capture cannot be read; `str(error)` is a sentence for people, `kind` for code.
    A usage error: the command ends with it, exit 4."""

    def __init__(self, message: str, *, kind: HarErrorKind) -> None:
        super().__init__(message)
        self.kind: HarErrorKind = kind


def _backend() -> Any:
    """ijson's C (yajl2) backend when it is installed, else its pure-Python one; the
    `IJSON_BACKEND` environment variable (ijson's own switch) chooses another."""
    if os.environ.get("IJSON_BACKEND"):
        return ijson
    for name in ("yajl2_c", "yajl2_cffi", "python"):
        with contextlib.suppress(ImportError):
            return ijson.get_backend(name)
    return ijson  # pragma: no cover - the python backend always imports


_IJSON = _backend()
BACKEND: str = _IJSON.backend_name
"""Which ijson backend parses captures (`yajl2_c` unless only the pure-Python one works)."""


class _CountingReader:
    """A binary file wrapper that counts bytes read and reports progress."""

    def __init__(self, raw: BinaryIO, total: int, progress: ProgressCallback | None) -> None:
        self._raw = raw
        self.total = total
        self.position = raw.tell()
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        self.position += len(chunk)
        if self._progress is not None:
            self._progress(self.position, self.total)
        return chunk


@dataclass(frozen=True)
class _Head:
    version: str
    creator: Creator | None


class HarCapture:
    """An opened capture: its version and creator now, its exchanges one at a time."""

    def __init__(
        self,
        path: Path,
        *,
        progress: ProgressCallback | None = None,
        max_body_chars: int = DEFAULT_MAX_BODY_CHARS,
    ) -> None:
        self.path = path
        self._progress = progress
        self._max_body_chars = max_body_chars
        self._skips: Counter[str] = Counter()
        self._first_skip: dict[str, int] = {}
        self.entries_seen = 0
        """Entries met by the last (or current) pass of `exchanges()`, skipped ones included."""
        with self._open() as stream:
            self.size = stream.total
            head = _read_head(stream, path)
        self.version = head.version
        """`log.version` ("1.1" when the file leaves it empty, as the spec says)."""
        self.creator = head.creator
        """`log.creator`, or None when the file has none."""

    @property
    def skipped(self) -> tuple[Skipped, ...]:
        """Entries skipped so far, by reason, most frequent first."""
        return tuple(
            Skipped(reason, count, self._first_skip[reason])
            for reason, count in self._skips.most_common()
        )

    @property
    def skipped_total(self) -> int:
        return sum(self._skips.values())

    def __iter__(self) -> Iterator[RecordedExchange]:
        return self.exchanges()

    def exchanges(self) -> Iterator[RecordedExchange]:
        """Yield each readable entry in file order; raise `HarError` if the JSON breaks off."""
        self._skips.clear()
        self._first_skip.clear()
        self.entries_seen = 0
        with self._open(progress=self._progress) as stream:
            items = _IJSON.items(stream, "log.entries.item", buf_size=_READ_SIZE)
            while True:
                try:
                    raw = next(items)
                except StopIteration:
                    return
                except (ijson.JSONError, ValueError) as error:
                    raise _broken_json(error, stream, self.path, self.entries_seen) from None
                index = self.entries_seen
                self.entries_seen += 1
                try:
                    exchange = read_entry(raw, index, max_body_chars=self._max_body_chars)
                except BrokenEntry as problem:
                    self._skip(str(problem), index)
                    continue
                yield exchange

    def _skip(self, reason: str, index: int) -> None:
        self._skips[reason] += 1
        self._first_skip.setdefault(reason, index)

    @contextlib.contextmanager
    def _open(self, *, progress: ProgressCallback | None = None) -> Iterator[_CountingReader]:
        try:
            raw = self.path.open("rb")
        except OSError as error:
            raise HarError(
                f"Cannot open {self.path}: {error.strerror or error}.", kind="unreadable"
            ) from None
        with raw:
            total = os.fstat(raw.fileno()).st_size
            _skip_preamble(raw, self.path)
            yield _CountingReader(raw, total, progress)


def open_har(
    path: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
    max_body_chars: int = DEFAULT_MAX_BODY_CHARS,
) -> HarCapture:
    """Open a HAR capture: check it is one (raising `HarError` if not) and read its head.

    `progress(bytes_read, total)` is called while `exchanges()` reads; bodies longer than
    `max_body_chars` characters are cut and marked.
    """
    return HarCapture(Path(path), progress=progress, max_body_chars=max_body_chars)


def _skip_preamble(raw: BinaryIO, path: Path) -> None:
    """Position after a UTF-8 BOM (.NET tools write one); refuse what cannot be a HAR."""
    start = raw.read(4)
    if start.startswith(b"\xef\xbb\xbf"):
        raw.seek(3)
        start = start[3:] + raw.read(3)
        raw.seek(3)
    else:
        raw.seek(0)
    problem = _not_json_reason(start)
    if problem:
        raise HarError(f"{path} is not a HAR capture: {problem}.", kind="not-json")


def _not_json_reason(start: bytes) -> str | None:
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "it is saved as UTF-16 text; save or export it again as UTF-8"
    if start.startswith(b"PK\x03\x04"):
        return "it is a ZIP archive; extract the .har file from it first"
    if start.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed; decompress it first"
    if start.lstrip().startswith(b"<"):
        return "it looks like an HTML or XML page, not JSON"
    return None


def _read_head(stream: _CountingReader, path: Path) -> _Head:
    """`log.version` and `log.creator`, checking on the way that this is a HAR at all."""
    found: dict[str, str] = {}
    entries = creator_done = False
    events = _IJSON.parse(stream, buf_size=_READ_SIZE)
    try:
        _expect_object(events, path)
        for prefix, event, value in events:
            if prefix == "log.entries" and event != "end_array":
                if event != "start_array":
                    raise _not_har(path, "`log.entries` is not a list")
                entries = True
            elif prefix in ("log.version", "log.creator.name", "log.creator.version"):
                found[prefix] = "" if value is None else str(value)
            elif prefix == "log.creator" and event == "end_map":
                creator_done = True
            elif (prefix, event) in (("log", "start_array"), ("log", "end_map"), ("", "end_map")):
                break
            if entries and creator_done and "log.version" in found:
                break  # the usual order: nothing more to learn before the entries
    except (ijson.JSONError, ValueError) as error:
        raise _broken_json(error, stream, path, None) from None
    if not entries:
        raise _not_har(path, "it has no `log.entries` list")
    return _Head(_version(found.get("log.version"), path), _creator(found))


def _expect_object(events: Iterator[tuple[str, str, Any]], path: Path) -> None:
    try:
        first = next(events, None)
    except (ijson.JSONError, ValueError) as error:
        if _ends_early(error):
            first = None  # nothing but whitespace
        else:
            raise
    if first is None:
        raise HarError(f"{path} is empty.", kind="empty")
    if first[1] != "start_map":
        raise _not_har(path, "the file holds JSON, but not an object with a `log`")


def _version(version: str | None, path: Path) -> str:
    version = (version or "").strip() or "1.1"  # HAR 1.2: "If empty, string 1.1 is assumed"
    if version not in SUPPORTED_VERSIONS:
        raise HarError(
            f"{path} says it is HAR version {version[:20]!r}; this reader knows versions "
            f"{' and '.join(SUPPORTED_VERSIONS)}. Export the capture again with a current tool.",
            kind="version",
        )
    return version


def _creator(found: dict[str, str]) -> Creator | None:
    name = found.get("log.creator.name")
    if name is None:
        return None
    return Creator(name=name, version=found.get("log.creator.version", ""))


def _not_har(path: Path, why: str) -> HarError:
    return HarError(
        f"{path} is not a HAR capture: {why}. Export it from the tool's network view as HAR.",
        kind="not-har",
    )


def _ends_early(error: Exception) -> bool:
    """The JSON stops mid-value (yajl: "premature EOF"; the Python backend: "Incomplete ...")."""
    text = str(error)
    return "premature EOF" in text or text.startswith("Incomplete")


def _broken_json(
    error: Exception, stream: _CountingReader, path: Path, entries: int | None
) -> HarError:
    """Say where the JSON stopped making sense, in bytes and entries (never quoting it)."""
    cut_short = _ends_early(error)
    where = f"after {entries:,} entries, " if entries is not None else ""
    if cut_short:
        return HarError(
            f"{path} is cut short: the JSON stops at byte {stream.position:,} ({where}of "
            f"{stream.total:,} bytes) in the middle of a value. The export or the copy did not "
            "finish; export the capture again.",
            kind="truncated",
        )
    if stream.position <= _READ_SIZE and entries in (None, 0):
        return HarError(f"{path} is not a HAR capture: it is not valid JSON.", kind="not-json")
    return HarError(
        f"{path} stops being valid JSON at or before byte {stream.position:,} ({where}of "
        f"{stream.total:,} bytes). It was probably edited by hand or damaged; export it again.",
        kind="not-json",
    )
