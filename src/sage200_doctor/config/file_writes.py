"""Writing files that hold credentials: whole or not at all, private, the owner's own.

The low-level half of `envfile.py`: a replacement renamed into place (same mode, owner and
group), an in-place rewrite for files that must keep their inode, backups, new private files
that are never written through a planted link, and the temporaries a killed run leaves. Values
are never logged.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Final

from sage200_doctor.config.credential_lock import real_path

logger = logging.getLogger(__name__)

NEW_FILE_MODE: Final = 0o600


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
    fsync_directory(path.parent)


class KeepInPlace(Exception):
    """The file cannot be replaced by a new inode without losing something: rewrite it."""


def replace_file(target: Path, data: bytes, info: os.stat_result) -> None:
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
        raise KeepInPlace from None  # a folder we may not write in; the file itself may be
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
        raise KeepInPlace from None


def _rename(temporary: str, target: Path) -> None:
    try:
        os.replace(temporary, target)
    except OSError as error:
        # EBUSY: the file is a bind mount (a container's single mounted file); EXDEV alike.
        if error.errno in (errno.EBUSY, errno.EXDEV):
            raise KeepInPlace from None
        raise


def rewrite_in_place(
    target: Path, new: bytes, old: bytes, backup: Path, info: os.stat_result
) -> None:
    """Overwrite the file's own inode: its hard links, owner, group and mode stay as they are.

    The trade-off: `os.replace` would be atomic but would give this name a new inode, leaving
    every other hard link with the old (now revoked) token, or the file owned by whoever ran us.
    An in-place write is not atomic, so the backup is written (and synced) first, and the new
    content is written before the file is cut to length: a crash leaves the new token in place
    with at worst a stale tail, and the previous content in the backup."""
    # Opened first: a file we may not write is refused before any backup is made.
    fd = os.open(target, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        write_backup(backup, old, info)
        _write_all(fd, new)
        os.ftruncate(fd, len(new))
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_directory(target.parent)
    logger.debug("rewrote %s in place", target)


def write_backup(backup: Path, old: bytes, info: os.stat_result) -> None:
    """The previous content, readable by the env file's owner only (it holds a credential)."""
    fd, temporary = tempfile.mkstemp(dir=backup.parent, prefix=f".{backup.name}.", suffix=".tmp")
    try:
        try:
            _write_all(fd, old)
            _chmod(fd, NEW_FILE_MODE)
            with suppress(KeepInPlace):
                _give_owner(fd, info)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, backup)  # a symbolic link planted at `backup` is replaced
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_backup_after(backup: Path, old: bytes, info: os.stat_result) -> str | None:
    try:
        write_backup(backup, old, info)
    except OSError as error:
        return error.strerror or type(error).__name__
    return None


def sweep_stale_backup_temporaries(backup: Path) -> None:
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


def fsync_directory(directory: Path) -> None:
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
