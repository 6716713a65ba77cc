"""Rotation-safe updates of an env file (CONTRACT.md §7).

When Sage ID rotates a refresh token, the new one must reach the env file it came from, or the
user's only working credential is lost. So an update: changes only the named keys and keeps every
other byte (comments, order, `export ` prefixes, line endings, even text that is not UTF-8); runs
under the credential lock (`credential_lock.py`) so concurrent runs take turns; reads the result
back with python-dotenv before writing anything; and then persists the new content before
anything else: a temporary file, fsync, `os.replace` (a crash leaves the old file or the new one,
never half of one), and only then the previous content as `<name>.bak` (readable by the owner
only). The file keeps its owner, group and mode, and its hard links: where the replacement could
not carry them (a hard-linked file, a file owned by someone else, a bind-mounted file that cannot
be replaced) the file is rewritten in place, after the backup. Values are never logged.
"""

from __future__ import annotations

import codecs
import errno
import io
import logging
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from contextlib import suppress
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
        return _rewrite_in_place(target, new, old, backup, info)
    try:
        _replace_file(target, new, info)
    except _KeepInPlace:
        return _rewrite_in_place(target, new, old, backup, info)
    logger.debug("updated %s in %s", ", ".join(updates), target)
    # The new content is safe; the backup of the old one comes second (it only holds values
    # that just stopped working, so failing to write it loses nothing that still works).
    problem = _write_backup_after(backup, old, info)
    _sweep_stale_backup_temporaries(backup)
    _fsync_directory(target.parent)
    return EnvFileUpdate(True, None if problem else backup, problem)


def _holds_already(content: bytes, updates: Mapping[str, str]) -> bool:
    text = content.removeprefix(codecs.BOM_UTF8).decode("utf-8", "surrogateescape")
    values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    return all(values.get(key) == value for key, value in updates.items())


def create_private_file(path: Path, data: bytes) -> None:
    """Create `path` with `data`, readable by the owner only; FileExistsError if it exists.

    O_EXCL and O_NOFOLLOW: nothing planted at `path` (a file, a symbolic link) is written
    through. A file that could not be written whole is removed again."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), NEW_FILE_MODE)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)
    _fsync_directory(path.parent)


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


class _KeepInPlace(Exception):
    """The file cannot be replaced by a new inode without losing something: rewrite it."""


def _replace_file(target: Path, data: bytes, info: os.stat_result) -> None:
    """The new content in a temporary file beside `target` (same mode, owner and group),
    renamed over it, then synced.

    Renamed before the sync, not after: from the moment the rename returns, the new token is
    in the page cache under the file's name and survives the process being killed (SIGKILL,
    the OOM killer, a CI runner's timeout), which is far more common than a power cut in the
    few milliseconds until the sync returns; ext4 (Linux's default) also writes a file renamed
    over another out before it commits the rename (auto_da_alloc). Syncing first would leave
    those milliseconds with the token in a temporary file only."""
    try:
        fd, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
    except PermissionError:
        raise _KeepInPlace from None  # a folder we may not write in; the file itself may be
    renamed = False
    try:
        _write_all(fd, data)
        _chmod(fd, stat.S_IMODE(info.st_mode))
        _give_owner(fd, info)
        if os.name != "posix":  # pragma: no cover - Windows cannot rename an open file
            os.fsync(fd)
            os.close(fd)
            fd = -1
        _rename(temporary, target)
        renamed = True
        if fd >= 0:
            _sync_quietly(fd)
    except BaseException:
        if not renamed:
            with suppress(FileNotFoundError):
                os.unlink(temporary)
        raise
    finally:
        if fd >= 0:
            os.close(fd)


def _sync_quietly(fd: int) -> None:
    """Sync a file that is already in place: a failure now cannot undo the update, so it is
    logged, not raised (raising would report the file as not updated)."""
    try:
        os.fsync(fd)
    except OSError as error:
        logger.warning("the updated env file could not be synced to disk: %s", error.strerror)


def _chmod(fd: int, mode: int) -> None:
    if os.name == "posix":
        os.fchmod(fd, mode)
    # Windows has neither POSIX modes nor os.fchmod before 3.13: the folder's ACL applies.


def _give_owner(fd: int, info: os.stat_result) -> None:
    """The replacement's owner and group are the original's (a run as root must not take a
    user's file away from them); if they cannot be, the file is rewritten in place instead."""
    if os.name != "posix":
        return
    mine = os.fstat(fd)
    if (mine.st_uid, mine.st_gid) == (info.st_uid, info.st_gid):
        return
    try:
        os.fchown(fd, info.st_uid, info.st_gid)
    except PermissionError:
        raise _KeepInPlace from None


def _rename(temporary: str, target: Path) -> None:
    try:
        os.replace(temporary, target)
    except OSError as error:
        # EBUSY: the file is a bind mount (a container's single mounted file); EXDEV alike.
        if error.errno in (errno.EBUSY, errno.EXDEV):
            raise _KeepInPlace from None
        raise


def _rewrite_in_place(
    target: Path, new: bytes, old: bytes, backup: Path, info: os.stat_result
) -> EnvFileUpdate:
    """Overwrite the file's own inode: its hard links, owner, group and mode stay as they are.

    The trade-off: `os.replace` would be atomic but would give this name a new inode, leaving
    every other hard link with the old (now revoked) token, or the file owned by whoever ran us.
    An in-place write is not atomic, so the backup is written (and synced) first, and the new
    content is written before the file is cut to length: a crash leaves the new token in place
    with at worst a stale tail, and the previous content in the backup."""
    # Opened first: a file we may not write is refused before any backup is made.
    fd = os.open(target, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        _write_backup(backup, old, info)
        _write_all(fd, new)
        os.ftruncate(fd, len(new))
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_directory(target.parent)
    logger.debug("rewrote %s in place", target)
    return EnvFileUpdate(True, backup, in_place=True)


def _write_backup(backup: Path, old: bytes, info: os.stat_result) -> None:
    """The previous content, readable by the env file's owner only (it holds a credential)."""
    fd, temporary = tempfile.mkstemp(dir=backup.parent, prefix=f".{backup.name}.", suffix=".tmp")
    try:
        try:
            _write_all(fd, old)
            _chmod(fd, NEW_FILE_MODE)
            with suppress(_KeepInPlace):
                _give_owner(fd, info)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, backup)  # a symbolic link planted at `backup` is replaced
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _write_backup_after(backup: Path, old: bytes, info: os.stat_result) -> str | None:
    try:
        _write_backup(backup, old, info)
    except OSError as error:
        return error.strerror or type(error).__name__
    return None


def _sweep_stale_backup_temporaries(backup: Path) -> None:
    """Remove backup temporaries a killed run left behind. Under the lock no other run is
    writing one; they hold only the previous (revoked) content. Temporaries of the env file
    itself are left alone: one left by a kill may hold the newest token."""
    pattern = re.compile(rf"\.{re.escape(backup.name)}\.[A-Za-z0-9_]{{8}}\.tmp")
    with suppress(OSError), os.scandir(backup.parent) as entries:
        for entry in entries:
            if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                with suppress(OSError):
                    os.unlink(entry.path)


def interrupted_writes(path: Path) -> list[Path]:
    """Temporaries of the env file at `path` newer than the file itself: each was left by a run
    killed between writing a new version and renaming it into place, and may hold the newest
    refresh token."""
    target = real_path(path)
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[A-Za-z0-9_]{{8}}\.tmp")
    try:
        since = os.stat(target).st_mtime_ns
        with os.scandir(target.parent) as entries:
            return sorted(
                Path(entry.path)
                for entry in entries
                if pattern.fullmatch(entry.name)
                and entry.is_file(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_mtime_ns >= since
            )
    except OSError:
        return []


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX; Windows has no directory handles to sync)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # a folder we may not open: the rename is done, only its durability is unsure
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
