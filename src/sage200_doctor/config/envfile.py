"""Rotation-safe updates of an env file (CONTRACT.md §7).

When Sage ID rotates a refresh token, the new one must reach the env file it came from, or the
user's only working credential is lost. So an update: changes only the named keys and keeps every
other byte (comments, order, `export ` prefixes, line endings, even text that is not UTF-8); holds
an exclusive lock on a sidecar file so concurrent runs take turns; keeps the previous content as
`<name>.bak`; writes through a temporary file, fsync and `os.replace`, so a crash leaves either
the old file or the new one; and reads the result back with python-dotenv before replacing
anything. Values are never logged.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Final

from dotenv import dotenv_values
from dotenv.parser import parse_stream

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)


logger = logging.getLogger(__name__)

NEW_FILE_MODE: Final = 0o600
_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Inside double quotes python-dotenv decodes exactly these escapes; writing line breaks and the
# other control characters escaped keeps every value on one physical line.
_ESCAPES: Final = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\x0b": "\\v",
    "\x0c": "\\f",
    "\x07": "\\a",
    "\x08": "\\b",
}
# The parts of one existing binding, mirroring python-dotenv's grammar (dotenv/parser.py).
_HEAD: Final = re.compile(
    r"(?P<head>\s*(?:export[^\S\r\n]+)?(?:'[^']+'|[^=#\s]+)[^\S\r\n]*)(?P<eq>=[^\S\r\n]*)?"
)
_QUOTED: Final = {
    '"': re.compile(r'"(?:\\.|[^"\\])*"', re.DOTALL),
    "'": re.compile(r"'(?:\\.|[^'\\])*'", re.DOTALL),
}
_INLINE_COMMENT: Final = re.compile(r"[^\S\r\n]+#[^\r\n]*")
_LINE_BREAK: Final = re.compile(r"\r\n|\n|\r")


def update_env_file(path: Path, updates: Mapping[str, str]) -> Path | None:
    """Set `updates` in the env file at `path`, creating it (mode 0600) when missing.

    Returns the backup of the previous content, or None when there was no previous file.
    """
    _validate(updates)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    with _locked(target):
        try:
            old: bytes | None = target.read_bytes()
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            old, mode = None, NEW_FILE_MODE
        new = render(old or b"", updates)
        backup = None
        if old is not None:
            backup = target.with_name(target.name + ".bak")
            # The backup holds the previous credential: readable by the owner only.
            _atomic_write(backup, old, NEW_FILE_MODE)
        _atomic_write(target, new, mode)
    logger.debug("updated %s in %s", ", ".join(updates), target)
    return backup


def render(content: bytes, updates: Mapping[str, str]) -> bytes:
    """The file `content` with `updates` applied; raises ValueError if it would not read back."""
    _validate(updates)
    bom = codecs.BOM_UTF8 if content.startswith(codecs.BOM_UTF8) else b""
    # surrogateescape: bytes that are not UTF-8 survive the round trip untouched.
    text = content.removeprefix(bom).decode("utf-8", "surrogateescape")
    new_text = _apply(text, updates)
    _verify(text, new_text, updates)
    return bom + new_text.encode("utf-8", "surrogateescape")


def quote(value: str) -> str:
    """`value` as a double-quoted dotenv value that python-dotenv reads back exactly."""
    return '"' + "".join(_ESCAPES.get(char, char) for char in value) + '"'


def _validate(updates: Mapping[str, str]) -> None:
    for key, value in updates.items():
        if not _KEY.fullmatch(key):
            raise ValueError(f"{key!r} is not a valid env file key")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"the new value of {key} cannot be written as UTF-8") from None


def _apply(text: str, updates: Mapping[str, str]) -> str:
    bindings = list(parse_stream(io.StringIO(text)))
    # Every byte of the file belongs to exactly one binding; if not, rewriting could lose some.
    if "".join(binding.original.string for binding in bindings) != text:
        raise ValueError("the env file could not be split into lines safely; file left as is")
    pieces: list[str] = []
    found: set[str] = set()
    for binding in bindings:
        if binding.error or binding.key is None or binding.key not in updates:
            pieces.append(binding.original.string)
            continue
        pieces.append(_replace(binding.original.string, updates[binding.key]))
        found.add(binding.key)
    missing = {key: value for key, value in updates.items() if key not in found}
    return _append("".join(pieces), missing)


def _replace(original: str, value: str) -> str:
    """One binding with a new value; its indentation, `export `, spacing around `=`, inline
    comment and line ending are kept."""
    match = _HEAD.match(original)
    if match is None:  # cannot happen for a binding python-dotenv parsed; be safe anyway
        raise ValueError("an existing line could not be rewritten safely")
    rest = original[match.end() :]
    if match["eq"] is None:  # `KEY` alone on its line: the rest is spacing, comment, line end
        return match["head"] + "=" + quote(value) + rest
    return match["head"] + match["eq"] + quote(value) + _after_value(rest, match["eq"])


def _after_value(rest: str, equals: str) -> str:
    """What follows the old value: an inline comment (if any) and the line ending."""
    pattern = _QUOTED.get(rest[:1])
    if pattern is not None:
        quoted = pattern.match(rest)
        return rest[quoted.end() :] if quoted else _line_end(rest)
    line = rest.split("\r", 1)[0].split("\n", 1)[0]
    if line.startswith("#") and len(equals) > 1:  # `KEY= # note`: empty value, then a comment
        return " " + rest
    comment = _INLINE_COMMENT.search(line)
    return (line[comment.start() :] if comment else "") + rest[len(line) :]


def _line_end(text: str) -> str:
    match = _LINE_BREAK.search(text)
    return text[match.start() :] if match else ""


def _append(text: str, missing: Mapping[str, str]) -> str:
    if not missing:
        return text
    first_break = _LINE_BREAK.search(text)
    newline = first_break.group() if first_break else "\n"
    if text and not text.endswith(("\n", "\r")):
        text += newline
    return text + "".join(f"{key}={quote(value)}{newline}" for key, value in missing.items())


def _verify(before: str, after: str, updates: Mapping[str, str]) -> None:
    """Read the new content back the way settings will: the updated keys must hold exactly the
    new values and every other key its old value, or nothing is written."""
    old = dotenv_values(stream=io.StringIO(before), interpolate=False)
    new = dotenv_values(stream=io.StringIO(after), interpolate=False)
    expected = {key: value for key, value in old.items() if key not in updates} | dict(updates)
    if new != expected:
        changed = sorted(
            key for key in expected.keys() | new.keys() if new.get(key) != expected.get(key)
        )
        raise ValueError(f"rewriting would not keep {', '.join(changed)} intact; file left as is")


@contextmanager
def _locked(target: Path) -> Iterator[None]:
    """An exclusive lock on `.<name>.lock` beside the file, held for the read-modify-write.

    A sidecar rather than the file itself, because `os.replace` swaps the file's inode and a lock
    on the old one would protect nothing. The lock file is left in place: deleting it would race.
    """
    fd = os.open(target.with_name(f".{target.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _lock(fd)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX; Windows has no directory handles to sync)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
