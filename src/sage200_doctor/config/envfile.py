"""Rotation-safe updates of an env file (CONTRACT.md §7).

When Sage ID rotates a refresh token, the new one must reach the env file it came from, or the
user's only working credential is lost. So an update: changes only the named keys and keeps every
other byte (comments, order, `export ` prefixes, line endings, even text that is not UTF-8); runs
under the credential lock (`credential_lock.py`) so concurrent runs take turns; reads the result
back with python-dotenv before writing anything; and then persists the new content before
anything else: a temporary file renamed over the old one, then synced (a crash leaves the old
file or the new one, never half of one), and only then the previous content as `<name>.bak`
(readable by the owner only). The file keeps its owner, group and mode, and its hard links: where
the replacement could not carry them (a hard-linked file, a file owned by someone else, a
bind-mounted file that cannot be replaced) it is rewritten in place, after the backup. The
writing itself is `file_writes.py`. Values are never logged.
"""

from __future__ import annotations

import codecs
import errno
import io
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from sage200_doctor.config.credential_lock import (
    DEFAULT_WAIT_S,
    LockedFile,
    credential_lock,
    real_path,
)
from sage200_doctor.config.file_writes import (
    KeepInPlace,
    create_private_file,
    fsync_directory,
    replace_file,
    rewrite_in_place,
    sweep_stale_backup_temporaries,
    write_backup_after,
)

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class EnvFileUpdate:
    """What an update did (never a value)."""

    changed: bool
    backup: Path | None = None
    """The previous content, kept beside the file; None when not changed or not written."""
    backup_problem: str | None = None
    """Why no backup could be written after the file itself was updated."""
    in_place: bool = False
    """Rewritten in place (hard links, owner or a bind mount kept) rather than replaced."""


def update_env_file(
    path: Path, updates: Mapping[str, str], *, wait_s: float = DEFAULT_WAIT_S
) -> Path | None:
    """Set `updates` in the env file at `path`, creating it (mode 0600) when missing.

    Returns the backup of the previous content, or None when there was no previous file (or no
    backup could be written). Raises OSError when the file cannot be written (CredentialBusy
    when another process holds its lock for `wait_s`), ValueError when it cannot be rewritten
    safely; the file is then left as it was.
    """
    _validate(updates)
    target = real_path(path)
    if not os.path.lexists(target):
        try:
            create_private_file(target, render(b"", updates))
            return None
        except FileExistsError:
            pass  # created meanwhile by someone else: update it like any existing file
    with credential_lock(target, wait_s=wait_s) as locked:
        if locked.fd is not None and _holds_already(locked.read(), updates):
            return None
        return rewrite_locked(locked, updates).backup


def rewrite_locked(locked: LockedFile, updates: Mapping[str, str]) -> EnvFileUpdate:
    """Apply `updates` to the env file whose credential lock the caller holds."""
    _validate(updates)
    if locked.fd is None:
        raise OSError(errno.EINVAL, f"{locked.path} is not a regular file")
    old = locked.read()
    new = render(old, updates)
    if new == old:
        return EnvFileUpdate(changed=False)
    target, info = locked.path, os.fstat(locked.fd)
    backup = target.with_name(target.name + ".bak")
    if info.st_nlink > 1:
        return _in_place(target, new, old, backup, info)
    try:
        replace_file(target, new, info)
    except KeepInPlace:
        return _in_place(target, new, old, backup, info)
    logger.debug("updated %s in %s", ", ".join(updates), target)
    # The new content is safe; the backup of the old one comes second (it only holds values
    # that just stopped working, so failing to write it loses nothing that still works).
    problem = write_backup_after(backup, old, info)
    sweep_stale_backup_temporaries(backup)
    fsync_directory(target.parent)
    return EnvFileUpdate(True, None if problem else backup, problem)


def _in_place(
    target: Path, new: bytes, old: bytes, backup: Path, info: os.stat_result
) -> EnvFileUpdate:
    rewrite_in_place(target, new, old, backup, info)
    return EnvFileUpdate(True, backup, in_place=True)


def _holds_already(content: bytes, updates: Mapping[str, str]) -> bool:
    text = content.removeprefix(codecs.BOM_UTF8).decode("utf-8", "surrogateescape")
    values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    return all(values.get(key) == value for key, value in updates.items())


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
