"""rotation.py: a rotated refresh token always lands somewhere private, and the record says where.

Unwritable places are simulated by the errors the system gives (read-only file system, a full
disk, permission denied), so the tests hold whichever user runs them; tests/e2e/test_rotation.py
makes the same situations for real.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from dotenv import dotenv_values

import sage200_doctor.config.rotation as rotation
from sage200_doctor.config.rotation import (
    HeldCredential,
    RotationRecord,
    hold_refresh_token,
    keep_rotated_refresh_token,
)
from sage200_doctor.config.settings import Settings, load_settings

KEY = "SAGE200_REFRESH_TOKEN"
OLD = "old-refresh-token-0123456789"
NEW = "new-refresh-token-9876543210"
ENV = f"SAGE200_CLIENT_ID=client-1\n{KEY}={OLD}\n"


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(rotation.tempfile, "gettempdir", lambda: str(temp))
    return home


@pytest.fixture
def env(tmp_path: Path) -> Path:
    path = tmp_path / "site" / "site.env"
    path.parent.mkdir()
    path.write_text(ENV)
    return path


def from_file(path: Path) -> Settings:
    return load_settings(path, environ={}).settings


def from_environment() -> Settings:
    environ = {"SAGE200_CLIENT_ID": "client-1", KEY: OLD}
    return load_settings(None, environ=environ, default_env_file=Path("/nonexistent")).settings


def keep(
    settings: Settings, *, save_rotated: Path | None = None, new: str = NEW
) -> RotationRecord | None:
    with hold_refresh_token(settings) as held:
        return keep_rotated_refresh_token(settings, new, held=held, save_rotated=save_rotated)


def saved_token(path: Path) -> str | None:
    return dotenv_values(path, interpolate=False).get(KEY)


def assert_private(path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert saved_token(path) == NEW


def assert_no_token_in(record: RotationRecord) -> None:
    for text in (record.note, record.detail):
        assert NEW not in text
        assert OLD not in text


def fail_writes_under(
    monkeypatch: pytest.MonkeyPatch, folder: Path, code: int, message: str
) -> None:
    """Every write under `folder` fails as the system would (EROFS, ENOSPC, EACCES)."""
    real_mkstemp, real_open = rotation.tempfile.mkstemp, os.open

    def mkstemp(**kwargs: str) -> tuple[int, str]:
        if Path(kwargs["dir"]).resolve().is_relative_to(folder.resolve()):
            raise OSError(code, message)
        return real_mkstemp(**kwargs)

    def open_(path: str | Path, flags: int, mode: int = 0o777) -> int:
        writing = flags & (os.O_WRONLY | os.O_CREAT)
        if writing and Path(path).resolve().is_relative_to(folder.resolve()):
            raise OSError(code, message)
        return real_open(path, flags, mode)

    monkeypatch.setattr(rotation.tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(os, "open", open_)


# --- where the token goes -----------------------------------------------------------------


def test_back_to_the_env_file_it_came_from(env: Path) -> None:
    record = keep(from_file(env))
    assert record is not None
    assert (record.saved_to, record.warn, record.lost) == (env, False, False)
    assert saved_token(env) == NEW
    assert "previous file kept as" in record.note
    assert_no_token_in(record)


def test_nothing_rotated_writes_nothing(env: Path) -> None:
    assert keep(from_file(env), new=OLD) is None
    assert env.read_text() == ENV


def test_a_read_only_folder_sends_it_to_the_home_folder(
    env: Path, monkeypatch: pytest.MonkeyPatch, private_home: Path
) -> None:
    fail_writes_under(monkeypatch, env.parent, errno.EROFS, "Read-only file system")
    record = keep(from_file(env))
    assert record is not None
    assert record.warn
    assert not record.lost
    assert record.saved_to is not None
    assert record.saved_to.parent == private_home / ".sage200-doctor"
    assert stat.S_IMODE(record.saved_to.parent.stat().st_mode) == 0o700
    assert_private(record.saved_to)
    assert env.read_text() == ENV
    assert f"{env} could not be updated (read-only file system)" in record.note
    assert str(record.saved_to) in record.note
    assert "Copy SAGE200_REFRESH_TOKEN from there" in record.note
    assert_no_token_in(record)


def test_an_env_file_that_cannot_be_written_sends_it_beside_it(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A root-owned env file in the user's own folder: the file refuses, the folder takes it."""
    real = rotation.rewrite_locked

    def refused(*args: object) -> object:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(rotation, "rewrite_locked", refused)
    record = keep(from_file(env))
    monkeypatch.setattr(rotation, "rewrite_locked", real)
    assert record is not None
    assert record.saved_to is not None
    assert record.saved_to.parent == env.parent
    assert record.saved_to.name.startswith("site.env.rotated-")
    assert_private(record.saved_to)
    assert "(permission denied)" in record.note


def test_a_full_disk_everywhere_but_the_temp_dir(
    env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for folder in (env.parent, tmp_path / "home"):
        fail_writes_under(monkeypatch, folder, errno.ENOSPC, "No space left on device")
    record = keep(from_file(env))
    assert record is not None
    assert record.saved_to is not None
    assert record.saved_to.parent == tmp_path / "temp" / f"sage200-doctor-{os.geteuid()}"
    assert_private(record.saved_to)
    assert "no space left on device" in record.detail
    assert_no_token_in(record)


def test_nowhere_at_all_is_a_lost_record_not_an_exception(
    env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fail_writes_under(monkeypatch, tmp_path, errno.ENOSPC, "No space left on device")
    record = keep(from_file(env))
    assert record is not None
    assert record.lost
    assert record.saved_to is None
    assert "could not be saved anywhere" in record.note
    assert str(env) in record.detail
    assert "sage200-doctor login" in record.detail
    assert_no_token_in(record)


def test_from_the_environment_it_goes_to_save_rotated(tmp_path: Path) -> None:
    target = tmp_path / "rotated.env"
    record = keep(from_environment(), save_rotated=target)
    assert record is not None
    assert (record.saved_to, record.warn) == (target, True)
    assert_private(target)
    assert "came from the environment variable SAGE200_REFRESH_TOKEN" in record.note
    assert_no_token_in(record)


def test_save_rotated_naming_a_folder_puts_a_file_inside(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    folder.mkdir()
    record = keep(from_environment(), save_rotated=folder)
    assert record is not None
    assert record.saved_to is not None
    assert record.saved_to.parent == folder
    assert_private(record.saved_to)


def test_an_existing_save_rotated_file_keeps_its_other_lines(tmp_path: Path) -> None:
    target = tmp_path / "ci.env"
    target.write_text(f"OTHER=1\n{KEY}=older\n")
    record = keep(from_environment(), save_rotated=target)
    assert record is not None
    assert record.saved_to == target
    assert dotenv_values(target) == {"OTHER": "1", KEY: NEW}


def test_save_rotated_naming_the_env_file_itself_does_not_wait_for_its_own_lock(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_writes_under(monkeypatch, env.parent, errno.EROFS, "Read-only file system")
    record = keep(from_file(env), save_rotated=env)
    assert record is not None
    assert record.saved_to is not None
    assert record.saved_to != env


def test_from_the_environment_with_an_unwritable_home_it_goes_to_the_temp_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", "/nonexistent/home")
    record = keep(from_environment())
    assert record is not None
    assert record.saved_to is not None
    assert record.saved_to.parent == tmp_path / "temp" / f"sage200-doctor-{os.geteuid()}"
    assert_private(record.saved_to)


def test_xdg_state_home_comes_after_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", "/nonexistent/home")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    record = keep(from_environment())
    assert record is not None
    assert record.saved_to is not None
    assert record.saved_to.parent == tmp_path / "state" / "sage200-doctor"


def test_a_planted_link_in_the_temp_dir_is_never_written_through(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Someone else made /tmp/sage200-doctor-<uid> a link to their folder: refused."""
    monkeypatch.setenv("HOME", "/nonexistent/home")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (tmp_path / "temp" / f"sage200-doctor-{os.geteuid()}").symlink_to(theirs)
    record = keep(from_environment())
    assert record is not None
    assert record.lost
    assert list(theirs.iterdir()) == []
    assert "not a folder" in record.detail


def test_a_pipe_cannot_take_it_back(tmp_path: Path, private_home: Path) -> None:
    """--env <(command): the settings were read from a pipe, which cannot be written (D11)."""
    fifo = tmp_path / "env.fifo"
    os.mkfifo(fifo)
    loaded = from_environment()
    settings = dataclasses.replace(loaded, env_file=fifo, sources={**loaded.sources, KEY: "file"})
    record = keep(settings)
    assert record is not None
    assert record.warn
    assert record.saved_to is not None
    assert record.saved_to.parent == private_home / ".sage200-doctor"
    assert "it is a pipe" in record.note


# --- holding the token --------------------------------------------------------------------


def test_the_token_is_read_again_under_the_lock(env: Path) -> None:
    settings = from_file(env)
    env.write_text(ENV.replace(OLD, "rotated-by-another-run"))
    with hold_refresh_token(settings) as held:
        assert held.token == "rotated-by-another-run"
        assert held.configured == OLD
        assert held.changed_meanwhile
        assert held.locked is not None


def test_a_token_from_the_environment_is_not_locked(env: Path) -> None:
    with hold_refresh_token(from_environment()) as held:
        assert held == HeldCredential(OLD, OLD)


def test_a_second_holder_waits_for_the_first(env: Path) -> None:
    settings = from_file(env)
    from sage200_doctor.config.credential_lock import CredentialBusy

    def second() -> AbstractContextManager[HeldCredential]:
        return hold_refresh_token(settings, wait_s=0.1)

    with hold_refresh_token(settings), pytest.raises(CredentialBusy), second():
        pass


def test_a_file_planted_at_the_fallback_name_is_never_written(
    monkeypatch: pytest.MonkeyPatch, private_home: Path, tmp_path: Path
) -> None:
    monkeypatch.setattr(rotation.time, "strftime", lambda *args: "20261127T090000Z")
    folder = private_home / ".sage200-doctor"
    folder.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (folder / f"rotated-20261127T090000Z-{os.getpid()}.env").symlink_to(victim)
    record = keep(from_environment())
    assert record is not None
    assert record.saved_to == folder / f"rotated-20261127T090000Z-{os.getpid()}-1.env"
    assert_private(record.saved_to)
    assert victim.read_text() == "keep me"
