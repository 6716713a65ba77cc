"""One user of a refresh token at a time: an exclusive lock on the env file that holds it.

When Sage ID rotates refresh tokens, two runs that read the same token and both present it lose:
the second is refused (invalid_grant), and an identity server with reuse detection (Auth0 with
rotation on) revokes the whole token family, so nobody's credential works any more. So a run
holds this lock from reading the token, through the refresh grant, to writing the rotated one
back, and reads the token again once it holds the lock (another run may have rotated it).

The lock is `flock` on the env file itself, not on a file beside it: that works in a read-only
directory (a mounted secret), needs no lock file, and excludes threads of one process as well as
other processes (flock belongs to the open file, not to the process). Rewriting a file with
`os.replace` gives the name a new inode, so a lock on the old inode would protect nothing: after
locking, the holder checks that the name still leads to the inode it locked, and otherwise
starts again on the new one. Anything but a regular file (a pipe from `--env <(...)`,
`/dev/stdin`) is not locked: it can be read only once, cannot be written back and so cannot
be shared.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

DEFAULT_WAIT_S: Final = 120.0
POLL_S: Final = 0.05
# Non-blocking: opening a FIFO that appeared in the meantime must not hang the run.
_OPEN_FLAGS: Final = (
    getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
)


class CredentialBusy(TimeoutError):
    """Another process held the lock for longer than the caller was willing to wait."""

    def __init__(self, path: Path, waited_s: float) -> None:
        super().__init__(
            errno.EWOULDBLOCK,
            f"another process has held the lock on {path} for {waited_s:.0f} s",
        )
        self.path = path
        self.waited_s = waited_s


@dataclass(frozen=True)
class LockedFile:
    """The env file while its lock is held: read it through `read`, not by opening it again
    (closing any other descriptor of the file would drop an NFS lock, which is per process)."""

    path: Path
    """The real path (symbolic links resolved)."""
    fd: int | None
    """The locked descriptor; None when nothing could be locked (not a regular file)."""

    def read(self) -> bytes:
        if self.fd is None:
            raise OSError(errno.EINVAL, f"{self.path} is not a regular file")
        return _read_all(self.fd)


def real_path(path: Path) -> Path:
    """`path` with every symbolic link resolved: the file that is read and rewritten."""
    return Path(os.path.realpath(path))


def is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


@contextmanager
def credential_lock(
    path: Path,
    *,
    wait_s: float = DEFAULT_WAIT_S,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[LockedFile]:
    """Hold the exclusive lock on the env file at `path` (its real path) while in the block.

    Waits at most `wait_s` (then `CredentialBusy`), calling `on_wait` between attempts: it may
    raise to give up (a stopped run). A path that is not a regular file, or a missing one,
    yields an unlocked `LockedFile` (fd None).
    """
    target = real_path(path)
    fd = _acquire(target, wait_s, on_wait)
    try:
        yield LockedFile(target, fd)
    finally:
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the lock


def _acquire(target: Path, wait_s: float, on_wait: Callable[[], None] | None) -> int | None:
    started = time.monotonic()
    while True:
        if not is_regular_file(target):
            return None
        fd = _open(target)
        if fd is None:
            return None
        if _try_lock(fd):
            if _still_named(fd, target):
                return fd
            os.close(fd)  # rewritten (new inode) meanwhile: lock the new one
            continue
        os.close(fd)
        waited = time.monotonic() - started
        if waited >= wait_s:
            raise CredentialBusy(target, waited)
        if on_wait is not None:
            on_wait()
        time.sleep(POLL_S)


def _open(target: Path) -> int | None:
    """A descriptor to lock, or None when the file cannot be opened at all (then nothing is
    locked: the settings were read from it already, and writing back will say what is wrong)."""
    # Read-write where allowed: NFS grants an exclusive lock only on a file open for writing.
    for mode in (os.O_RDWR, os.O_RDONLY):
        try:
            return os.open(target, mode | _OPEN_FLAGS)
        except FileNotFoundError:
            return None
        except OSError:  # permission denied, a read-only file system, ...
            continue
    return None


def _still_named(fd: int, target: Path) -> bool:
    try:
        named = os.stat(target)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)  # the offset belongs to this open file alone
    chunks: list[bytes] = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as error:
            # A file system without locks (some FUSE mounts): nothing to wait for.
            if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP):
                return True
            raise
        return True


def locked_elsewhere(path: Path) -> bool:
    """True when some other open file holds the lock on `path` right now."""
    fd = _open(real_path(path))
    if fd is None:
        return False
    try:
        return not _try_lock(fd)
    finally:
        with suppress(OSError):
            os.close(fd)
