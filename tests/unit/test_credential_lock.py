"""credential_lock.py: one holder of an env file's refresh token at a time (D4)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from sage200_doctor.config.credential_lock import (
    CredentialBusy,
    credential_lock,
    locked_elsewhere,
)


@pytest.fixture
def env(tmp_path: Path) -> Path:
    path = tmp_path / "site.env"
    path.write_text("SAGE200_REFRESH_TOKEN=one\n")
    return path


def test_the_lock_is_held_inside_the_block_only(env: Path) -> None:
    assert not locked_elsewhere(env)
    with credential_lock(env) as locked:
        assert locked.fd is not None
        assert locked_elsewhere(env)
        assert locked.read() == b"SAGE200_REFRESH_TOKEN=one\n"
    assert not locked_elsewhere(env)


def test_no_lock_file_is_left_beside_the_env_file(env: Path) -> None:
    with credential_lock(env):
        pass
    assert [p.name for p in env.parent.iterdir()] == ["site.env"]


def test_a_second_holder_waits_and_gives_up_with_credential_busy(env: Path) -> None:
    with (
        credential_lock(env),
        pytest.raises(CredentialBusy) as busy,
        credential_lock(env, wait_s=0.2),
    ):
        pass
    assert busy.value.path == env
    assert "another process has held the lock" in str(busy.value)


def test_on_wait_may_give_up_at_once(env: Path) -> None:
    class Stopped(Exception):
        pass

    def stop() -> None:
        raise Stopped

    with credential_lock(env), pytest.raises(Stopped), credential_lock(env, on_wait=stop):
        pass


def test_threads_of_one_process_take_turns(env: Path) -> None:
    """flock belongs to the open file, so two threads exclude each other (a fleet)."""
    inside = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with credential_lock(env):
            inside.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    assert inside.wait(30)
    with pytest.raises(CredentialBusy), credential_lock(env, wait_s=0.1):
        pass
    release.set()
    thread.join(30)
    with credential_lock(env, wait_s=5) as locked:
        assert locked.fd is not None


def test_a_waiter_follows_the_file_to_its_new_inode(env: Path) -> None:
    """The holder replaces the file (os.replace: a new inode) and lets go; the waiter must end
    up holding the lock on the file the name now leads to, and read its new content."""
    inside = threading.Event()
    seen: list[bytes] = []

    def waiter() -> None:
        inside.wait(30)
        with credential_lock(env, wait_s=30) as locked:
            assert locked.fd is not None
            assert os.fstat(locked.fd).st_ino == os.stat(env).st_ino
            seen.append(locked.read())

    thread = threading.Thread(target=waiter)
    with credential_lock(env):
        thread.start()
        inside.set()
        replacement = env.with_name("replacement")
        replacement.write_text("SAGE200_REFRESH_TOKEN=two\n")
        os.replace(replacement, env)
    thread.join(30)
    assert seen == [b"SAGE200_REFRESH_TOKEN=two\n"]


def test_a_read_only_file_is_still_locked(env: Path) -> None:
    env.chmod(0o400)
    with credential_lock(env) as locked:
        assert locked.fd is not None
        assert locked_elsewhere(env)


def test_a_symbolic_link_locks_the_real_file(env: Path) -> None:
    link = env.with_name("link.env")
    link.symlink_to(env)
    with credential_lock(link) as locked:
        assert locked.path == env
        assert locked_elsewhere(env)


def test_a_pipe_is_neither_opened_nor_locked(tmp_path: Path) -> None:
    """Opening a FIFO would block until a writer comes, and read it empty (D11)."""
    fifo = tmp_path / "env.fifo"
    os.mkfifo(fifo)
    with credential_lock(fifo, wait_s=0) as locked:
        assert locked.fd is None
        with pytest.raises(OSError, match="not a regular file"):
            locked.read()


def test_a_missing_file_is_not_locked(tmp_path: Path) -> None:
    with credential_lock(tmp_path / "missing.env") as locked:
        assert locked.fd is None
