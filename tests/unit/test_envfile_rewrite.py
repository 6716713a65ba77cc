"""envfile.py and file_writes.py under hostile conditions: the new token first (D13), owner and links kept (D12)."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

import pytest
from dotenv import dotenv_values

import sage200_doctor.config.file_writes as file_writes
from sage200_doctor.config.credential_lock import credential_lock
from sage200_doctor.config.envfile import rewrite_locked, update_env_file
from sage200_doctor.config.file_writes import create_private_file

KEY = "SAGE200_REFRESH_TOKEN"
ORIGINAL = "SAGE200_CLIENT_ID=client-1\nSAGE200_REFRESH_TOKEN=old-refresh\n"
NOBODY = 65534
as_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changing a file's owner needs root"
)


@pytest.fixture
def env(tmp_path: Path) -> Path:
    path = tmp_path / "site.env"
    path.write_text(ORIGINAL)
    path.chmod(0o640)
    return path


def token_in(path: Path) -> str | None:
    return dotenv_values(path, interpolate=False).get(KEY)


# --- D13: the new token is persisted before anything else -----------------------------------


def test_the_env_file_is_replaced_before_the_backup_is_written(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []
    real_replace = os.replace

    def recording_replace(source: str, destination: Path) -> None:
        order.append(Path(destination).name)
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", recording_replace)
    update_env_file(env, {KEY: "new-refresh"})
    assert order == ["site.env", "site.env.bak"]


def test_a_backup_that_cannot_be_written_does_not_lose_the_new_token(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_mkstemp = tempfile.mkstemp

    def no_space_for_backups(**kwargs: str) -> tuple[int, str]:
        if ".bak." in kwargs.get("prefix", ""):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_mkstemp(**kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", no_space_for_backups)
    with credential_lock(env) as locked:
        update = rewrite_locked(locked, {KEY: "new-refresh"})
    assert token_in(env) == "new-refresh"
    assert update.changed
    assert update.backup is None
    assert update.backup_problem == "No space left on device"


def test_stale_backup_temporaries_are_swept_and_env_temporaries_kept(env: Path) -> None:
    stale_backup = env.with_name(".site.env.bak.k3j4h5g6.tmp")
    stale_backup.write_text("old content")
    maybe_newest = env.with_name(".site.env.a1b2c3d4.tmp")  # a killed run's new content
    maybe_newest.write_text("new content")
    unrelated = env.with_name(".other.env.bak.k3j4h5g6.tmp")
    unrelated.write_text("not ours")
    update_env_file(env, {KEY: "new-refresh"})
    assert not stale_backup.exists()
    assert maybe_newest.exists()
    assert unrelated.exists()


def test_an_unchanged_value_writes_nothing(env: Path) -> None:
    inode = env.stat().st_ino
    assert update_env_file(env, {KEY: "old-refresh"}) is None
    assert env.stat().st_ino == inode
    assert not env.with_name("site.env.bak").exists()


# --- D12: owner, group, mode and hard links are kept ------------------------------------------


def test_hard_links_keep_sharing_the_new_content(env: Path) -> None:
    link = env.with_name("hardlink.env")
    os.link(env, link)
    inode = env.stat().st_ino
    backup = update_env_file(env, {KEY: "new-refresh"})
    assert env.stat().st_ino == inode
    assert token_in(link) == "new-refresh"
    assert env.read_text() == link.read_text()
    assert backup is not None
    assert token_in(backup) == "old-refresh"
    assert stat.S_IMODE(env.stat().st_mode) == 0o640


def test_a_file_that_cannot_be_replaced_is_rewritten_in_place(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container's bind-mounted single file: rename onto it fails with EBUSY."""
    real_replace = os.replace

    def busy_target(source: str, destination: Path) -> None:
        if Path(destination) == env:
            raise OSError(errno.EBUSY, "Device or resource busy")
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", busy_target)
    inode = env.stat().st_ino
    with credential_lock(env) as locked:
        update = rewrite_locked(locked, {KEY: "a-longer-new-refresh-token"})
    assert update.in_place
    assert env.stat().st_ino == inode
    assert env.read_text() == ORIGINAL.replace("old-refresh", '"a-longer-new-refresh-token"')
    assert token_in(env.with_name("site.env.bak")) == "old-refresh"
    assert not [p for p in env.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_shorter_value_in_place_leaves_no_stale_tail(env: Path) -> None:
    os.link(env, env.with_name("hardlink.env"))
    update_env_file(env, {KEY: "n"})
    assert env.read_text() == ORIGINAL.replace("old-refresh", '"n"')


def test_in_place_needs_its_backup_first(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a backup an in-place write could tear the only copy: refuse instead."""
    os.link(env, env.with_name("hardlink.env"))

    def no_space(**kwargs: str) -> tuple[int, str]:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", no_space)
    with pytest.raises(OSError, match="No space"):
        update_env_file(env, {KEY: "new-refresh"})
    assert env.read_text() == ORIGINAL


@as_root
def test_a_run_as_root_keeps_the_owner_and_group(env: Path) -> None:
    os.chown(env, NOBODY, NOBODY)
    env.chmod(0o600)
    backup = update_env_file(env, {KEY: "new-refresh"})
    info = env.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (NOBODY, NOBODY, 0o600)
    assert backup is not None
    assert (backup.stat().st_uid, backup.stat().st_gid) == (NOBODY, NOBODY)
    assert token_in(env) == "new-refresh"


@as_root
def test_an_owner_that_cannot_be_given_means_in_place(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user rewriting a file they may write but do not own (group-writable): the replacement
    would be theirs, so the file is rewritten in place and keeps its owner."""
    os.chown(env, NOBODY, NOBODY)

    def refuse(*args: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "fchown", refuse)
    inode = env.stat().st_ino
    update_env_file(env, {KEY: "new-refresh"})
    assert env.stat().st_ino == inode
    assert env.stat().st_uid == NOBODY
    assert token_in(env) == "new-refresh"


# --- new private files -------------------------------------------------------------------------


def test_a_private_file_is_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "rotated.env"
    create_private_file(path, b"A=1\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == b"A=1\n"


def test_a_private_file_is_never_written_through_a_planted_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    planted = tmp_path / "rotated.env"
    planted.symlink_to(victim)
    with pytest.raises(FileExistsError):
        create_private_file(planted, b"SAGE200_REFRESH_TOKEN=secret\n")
    assert victim.read_text() == "keep me"


def test_a_private_file_that_cannot_be_written_whole_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(file_writes.os, "write", full)
    path = tmp_path / "rotated.env"
    with pytest.raises(OSError, match="No space"):
        create_private_file(path, b"SAGE200_REFRESH_TOKEN=secret\n")
    assert not path.exists()


def test_interrupted_writes_are_the_newer_temporaries_of_the_file(env: Path) -> None:
    older = env.with_name(".site.env.0ld0ld00.tmp")
    older.write_text("before the last update")
    os.utime(older, ns=(1, 1))
    newer = env.with_name(".site.env.n3wn3wn3.tmp")
    newer.write_text(ORIGINAL.replace("old-refresh", "newest"))
    env.with_name(".site.env.bak.n3wn3wn3.tmp").write_text("a backup's")
    assert file_writes.interrupted_writes(env) == [newer]
    assert file_writes.interrupted_writes(env.with_name("missing.env")) == []
