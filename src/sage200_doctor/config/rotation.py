"""Never lose a rotated refresh token (CONTRACT §7).

When Sage ID rotates the refresh token on use, the one in the user's configuration stops working
the moment the new one is issued. So the refresh token is held (`hold_refresh_token`: the
credential lock on its env file, and the token read again under it) from before the grant is sent
until the rotated one is saved, and the rotated one is saved to the first place that takes it:

1. the env file it came from (rewritten under the lock, with a backup: `envfile.py`);
2. the file (or folder) named by `--save-rotated`;
3. a new file beside the env file: `<name>.rotated-<time>`;
4. a new file in `~/.sage200-doctor/`, then `$XDG_STATE_HOME/sage200-doctor/` (when set), then
   `<temp dir>/sage200-doctor-<uid>/`: folders readable by the user only (0700) and files
   readable by the user only (0600), created new (never written through a planted link).

Anything but the first is a warning that names the file and what to do; a token that could be
saved nowhere is a failure that says so. The token itself is never shown.
"""

from __future__ import annotations

import codecs
import dataclasses
import errno
import io
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from dotenv import dotenv_values

from sage200_doctor.config.credential_lock import (
    DEFAULT_WAIT_S,
    LockedFile,
    credential_lock,
    is_regular_file,
)
from sage200_doctor.config.envfile import (
    EnvFileUpdate,
    render,
    rewrite_locked,
    update_env_file,
)
from sage200_doctor.config.file_writes import create_private_file
from sage200_doctor.config.settings import Settings

KEY: Final = "SAGE200_REFRESH_TOKEN"
PRIVATE_FOLDER_MODE: Final = 0o700
Problem = tuple[Path, str]
"""A place the token could not be written to, and why."""


@dataclass(frozen=True)
class RotationRecord:
    """Where a rotated refresh token was saved, so the run can say so (never the value)."""

    saved_to: Path | None
    backup: Path | None
    note: str
    warn: bool = False
    """The user must act: the token did not go back where it came from."""
    lost: bool = False
    """It could be saved nowhere: the credential is gone."""
    detail: str = ""


@dataclass(frozen=True)
class HeldCredential:
    """The refresh token while it is held: the one to present, and the env file it is in."""

    token: str
    """What to present: the env file's value read under the lock, else the configured one."""
    configured: str
    """The value the settings were loaded with."""
    locked: LockedFile | None = None
    """The env file it came from, locked; None for any other source (or a pipe)."""

    @property
    def changed_meanwhile(self) -> bool:
        """Another run rotated the token (and wrote it back) after this run loaded its settings."""
        return self.token != self.configured

    def presenting(self, token: str) -> HeldCredential:
        return dataclasses.replace(self, token=token)


@contextmanager
def hold_refresh_token(
    settings: Settings,
    *,
    wait_s: float = DEFAULT_WAIT_S,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[HeldCredential]:
    """Hold the configured refresh token: when it came from an env file, lock the file and read
    the token again (raises CredentialBusy after `wait_s`; `on_wait` may raise to give up)."""
    assert settings.refresh_token is not None
    configured = settings.refresh_token.reveal().strip()
    env_file = settings.env_file
    if settings.sources.get(KEY) != "file" or env_file is None or not is_regular_file(env_file):
        yield HeldCredential(configured, configured)
        return
    with credential_lock(env_file, wait_s=wait_s, on_wait=on_wait) as locked:
        if locked.fd is None:
            yield HeldCredential(configured, configured)
            return
        yield HeldCredential(_read_back(locked) or configured, configured, locked)


def _read_back(locked: LockedFile) -> str | None:
    try:
        data = locked.read()
    except OSError:
        return None
    text = data.removeprefix(codecs.BOM_UTF8).decode("utf-8", "replace")
    value = dotenv_values(stream=io.StringIO(text), interpolate=False).get(KEY)
    return value.strip() if value and value.strip() else None


def keep_rotated_refresh_token(
    settings: Settings,
    new_token: str | None,
    *,
    held: HeldCredential,
    save_rotated: Path | None,
) -> RotationRecord | None:
    """Save `new_token` where the user will find it; None when nothing was rotated.

    Call it while `held` is still held. Never raises for a place that cannot be written: the
    record says where the token went, or that it went nowhere."""
    if not new_token or new_token == held.token:
        return None
    problems: list[Problem] = []
    env_file = settings.env_file
    if held.locked is not None and env_file is not None:
        try:
            update = rewrite_locked(held.locked, {KEY: new_token})
        except (OSError, ValueError) as error:
            problems.append((env_file, reason(error)))
        else:
            return _written_back(env_file, update)
    elif settings.sources.get(KEY) == "file" and env_file is not None:
        problems.append((env_file, _not_writable_back(env_file)))
    return _save_elsewhere(settings, new_token, save_rotated, problems)


def _written_back(env_file: Path, update: EnvFileUpdate) -> RotationRecord:
    if update.backup is not None:
        how = "rewritten in place, so its owner and hard links stay; " if update.in_place else ""
        kept = f"{how}previous file kept as {update.backup}"
    else:
        kept = f"the previous file could not be kept as a backup: {update.backup_problem}"
    return RotationRecord(
        env_file,
        update.backup,
        f"Sage ID rotated the refresh token; the new one was saved to {env_file} ({kept}).",
    )


def _save_elsewhere(
    settings: Settings, new_token: str, save_rotated: Path | None, problems: list[Problem]
) -> RotationRecord:
    source = source_label(settings)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    content = _fallback_content(new_token, source, stamp)
    for place in _places(settings, save_rotated, stamp):
        try:
            saved, backup = _save_to(place, new_token, content)
        except (OSError, ValueError) as error:
            problems.append((place.path, reason(error)))
            continue
        return _saved_elsewhere(settings, source, saved, backup, problems)
    return RotationRecord(
        None,
        None,
        "Sage ID rotated the refresh token, and the new one could not be saved anywhere: the "
        f"refresh token in {source} no longer works.",
        warn=True,
        lost=True,
        detail="Tried: " + _listed(problems) + ". Make one of these places writable (or free "
        "some space), then sign in again (sage200-doctor login) for a new refresh token.",
    )


def _saved_elsewhere(
    settings: Settings, source: str, saved: Path, backup: Path | None, problems: list[Problem]
) -> RotationRecord:
    if settings.sources.get(KEY) == "file" and settings.env_file is not None:
        env_file = settings.env_file
        first = problems[0][1] if problems else "it cannot be written"
        note = (
            f"Sage ID rotated the refresh token, but {env_file} could not be updated ({first}): "
            f"the new one was saved to {saved} instead (readable by you only). Copy "
            f"SAGE200_REFRESH_TOKEN from there into {env_file} before the next run; the one in "
            f"{env_file} no longer works."
        )
    else:
        note = (
            f"Sage ID rotated the refresh token, which came from {source}: the one there no "
            f"longer works. The new one was saved to {saved} (readable by you only); update "
            "your secret store from there, then delete the file."
        )
    detail = f"Could not be written: {_listed(problems)}." if problems else ""
    return RotationRecord(saved, backup, note, warn=True, detail=detail)


def _listed(problems: list[Problem]) -> str:
    return "; ".join(f"{path} ({why})" for path, why in problems)


def source_label(settings: Settings) -> str:
    """Where the configured refresh token came from, in words."""
    source = settings.sources.get(KEY)
    if source == "file" and settings.env_file is not None:
        return str(settings.env_file)
    if source == "environment":
        return "the environment variable SAGE200_REFRESH_TOKEN"
    return "the settings given on the command line (or in the fleet file)"


@dataclass(frozen=True)
class _Place:
    path: Path
    folder: Path | None = None
    """A private folder to make (0700) or to accept only if it is ours alone."""
    parents: bool = False
    chosen: bool = False
    """Named by the user (--save-rotated FILE): an existing file there is updated."""


def _places(settings: Settings, save_rotated: Path | None, stamp: str) -> Iterator[_Place]:
    """Where a token that cannot go back to its source goes, best first (module docstring)."""
    name = f"rotated-{stamp}-{os.getpid()}.env"
    if save_rotated is not None and not _same_file(save_rotated, settings.env_file):
        is_folder = save_rotated.is_dir()
        yield _Place(save_rotated / name if is_folder else save_rotated, chosen=not is_folder)
    env_file = settings.env_file
    from_file = settings.sources.get(KEY) == "file" and env_file is not None
    if from_file and env_file is not None and is_regular_file(env_file):
        yield _Place(env_file.with_name(f"{env_file.name}.rotated-{stamp}"))
    for folder, parents in fallback_folders():
        yield _Place(folder / name, folder, parents)


def fallback_folders() -> list[tuple[Path, bool]]:
    """The private folders a rotated token may go to when nothing better takes it, each with
    whether its missing parents may be created (never a missing home directory)."""
    folders: list[tuple[Path, bool]] = []
    with suppress(RuntimeError):  # no home directory at all
        folders.append((Path.home() / ".sage200-doctor", False))
    state_home = os.environ.get("XDG_STATE_HOME", "")
    if os.path.isabs(state_home):
        folders.append((Path(state_home) / "sage200-doctor", True))
    user = os.geteuid() if hasattr(os, "geteuid") else os.getpid()
    folders.append((Path(tempfile.gettempdir()) / f"sage200-doctor-{user}", False))
    return folders


def fallback_directory() -> Path:
    """The first fallback folder."""
    return fallback_folders()[0][0]


def _save_to(place: _Place, new_token: str, content: bytes) -> tuple[Path, Path | None]:
    """Write the token to `place`: the file the user chose is updated if it exists (with a
    backup); anywhere else a new file is created 0600, never an existing one. Returns the file
    written and its backup."""
    if place.chosen and os.path.lexists(place.path):
        return place.path, update_env_file(place.path, {KEY: new_token})
    if place.folder is not None:
        _private_folder(place.folder, parents=place.parents)
    target = _unused(place.path)
    create_private_file(target, content)
    return target, None


def _unused(path: Path) -> Path:
    """`path`, or `path` with a number added when a file of that name exists already."""
    candidate, number = path, 1
    while os.path.lexists(candidate) and number < 100:
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
        number += 1
    return candidate


def _private_folder(folder: Path, *, parents: bool) -> None:
    """Make `folder` (mode 0700), or accept it if it exists, is a real folder and is ours
    alone: a folder someone else made (in a shared temp dir, say) is never written into."""
    folder.mkdir(mode=PRIVATE_FOLDER_MODE, parents=parents, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode):
        raise OSError(errno.ENOTDIR, "it is not a folder")
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise OSError(errno.EPERM, "the folder belongs to another user")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, PRIVATE_FOLDER_MODE)


def _fallback_content(new_token: str, source: str, stamp: str) -> bytes:
    said = " ".join(source.splitlines())  # a path with a line break must not end the comment
    header = (
        f"# sage200-doctor saved a rotated refresh token here at {stamp}.\n"
        f"# It replaces the SAGE200_REFRESH_TOKEN of {said}, which no longer works:\n"
        "# copy it there (or into your secret store), then delete this file.\n"
    )
    return render(header.encode("utf-8", "replace"), {KEY: new_token})


def _not_writable_back(env_file: Path) -> str:
    try:
        mode = os.stat(env_file).st_mode
    except OSError as error:
        return reason(error)
    if stat.S_ISREG(mode):
        return "it could not be opened again to write the new token into it"
    kind = "a pipe" if stat.S_ISFIFO(mode) else "not a regular file"
    return f"it is {kind} (for example --env <(command)), so nothing can be written back to it"


def _same_file(one: Path, other: Path | None) -> bool:
    if other is None:
        return False
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


def reason(error: OSError | ValueError) -> str:
    """Why a place could not be written, in words (an OSError's text never holds a value)."""
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror
        return text[:1].lower() + text[1:]
    return str(error) or type(error).__name__
