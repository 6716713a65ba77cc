"""A rotated refresh token is never lost (CONTRACT §7), wherever it cannot go back (D3, D11, D12).

Each test makes the situation for real: the CLI runs as a user that file permissions bind (this
user, or nobody when the suite runs as root), against the emulator's `rotating-refresh`
scenario, which revokes the presented refresh token on every refresh. Whatever cannot be
written, the run ends with a warning on token.refresh that names the private file the new token
went to, never an internal error, and that file holds a token that works.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sage200_doctor.emulator import RunningEmulator, running_emulator
from tests.e2e.conftest import CliRun, cli_environment, run_cli
from tests.e2e.rotation_support import (
    OtherUser,
    no_token_in_outputs,
    other_user_in,
    refresh_status,
    token_in,
    write_env,
)

pytestmark = pytest.mark.e2e
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (file owners, mounts)")


@pytest.fixture
def other_user(tmp_path: Path) -> Iterator[OtherUser]:
    yield from other_user_in(tmp_path)


def saved_elsewhere(run: CliRun, folder: Path, pattern: str) -> Path:
    """The one file the rotated token went to, after checking what the run said about it."""
    assert "Traceback" not in run.stdout + run.stderr
    assert run.code == 0, run.stdout + run.stderr
    check = run.check("token.refresh")
    assert check["outcome"] == "warning", check
    assert "guide.config" in {entry["id"] for entry in check["guidance"]}
    files = sorted(folder.glob(pattern))
    assert len(files) == 1, (files, check["summary"])
    assert str(files[0]) in check["summary"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    return files[0]


def assert_works_and_never_shown(
    run: CliRun, emulator: RunningEmulator, saved: Path, original: str
) -> None:
    token = token_in(saved)
    assert token
    assert token != original
    no_token_in_outputs(run, token, original)
    assert refresh_status(emulator, original) == 403  # rotated away ...
    assert refresh_status(emulator, token) == 200  # ... and the saved one works


def run_on(user: OtherUser, env_file: Path, *extra: str) -> CliRun:
    reports = user.folder("reports")
    return user.run(["run", "--env", str(env_file), "--report-dir", str(reports), *extra])


# --- D3: the env file cannot be rewritten ------------------------------------------------------


def test_a_read_only_folder_sends_the_token_to_the_home_folder(other_user: OtherUser) -> None:
    with running_emulator("rotating-refresh") as emulator:
        folder = other_user.folder("mounted-secret")
        env_file = other_user.own(write_env(folder / "site.env", emulator))
        other_user.seal(folder)
        original = emulator.env()["SAGE200_REFRESH_TOKEN"]
        run = run_on(other_user, env_file)
        saved = saved_elsewhere(run, other_user.home / ".sage200-doctor", "rotated-*.env")
        assert f"{env_file} could not be updated" in run.check("token.refresh")["summary"]
        assert token_in(env_file) == original  # left as it was
        assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
        assert_works_and_never_shown(run, emulator, saved, original)


def test_a_symlink_into_a_read_only_folder_gets_a_file_beside_the_link(
    other_user: OtherUser,
) -> None:
    with running_emulator("rotating-refresh") as emulator:
        secrets = other_user.folder("secrets")
        real = other_user.own(write_env(secrets / "sage.env", emulator))
        other_user.seal(secrets)
        work = other_user.folder("work")
        link = work / "site.env"
        link.symlink_to(real)
        original = emulator.env()["SAGE200_REFRESH_TOKEN"]
        run = run_on(other_user, link)
        saved = saved_elsewhere(run, work, "site.env.rotated-*")
        assert link.is_symlink()
        assert_works_and_never_shown(run, emulator, saved, original)


@as_root
def test_a_root_owned_env_file_in_the_users_folder_keeps_its_owner(
    other_user: OtherUser,
) -> None:
    with running_emulator("rotating-refresh") as emulator:
        folder = other_user.folder("project")
        env_file = write_env(folder / "site.env", emulator, mode=0o644)  # root's, readable
        original = emulator.env()["SAGE200_REFRESH_TOKEN"]
        run = run_on(other_user, env_file)
        saved = saved_elsewhere(run, folder, "site.env.rotated-*")
        assert env_file.stat().st_uid == 0
        assert token_in(env_file) == original
        assert not (folder / "site.env.bak").exists()
        assert saved.stat().st_uid == other_user.uid
        assert_works_and_never_shown(run, emulator, saved, original)


@as_root
def test_a_full_disk_sends_the_token_home(other_user: OtherUser) -> None:
    full = other_user.folder("full")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(full)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr!r}")
    try:
        other_user.own(full)
        with running_emulator("rotating-refresh") as emulator:
            env_file = other_user.own(write_env(full / "site.env", emulator))
            fill_up(full / "filler")
            original = emulator.env()["SAGE200_REFRESH_TOKEN"]
            run = run_on(other_user, env_file)
            saved = saved_elsewhere(run, other_user.home / ".sage200-doctor", "rotated-*.env")
            assert "no space left on device" in run.check("token.refresh")["summary"]
            assert token_in(env_file) == original
            assert_works_and_never_shown(run, emulator, saved, original)
    finally:
        subprocess.run(["umount", "-l", str(full)], check=False)


def fill_up(path: Path) -> None:
    """Write to `path` until the file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(OSError, match="No space left"):
            _write_for_ever(fd)
    finally:
        os.close(fd)


def _write_for_ever(fd: int) -> None:
    while True:
        os.write(fd, b"x" * 4096)


# --- D3: the token came from the environment ----------------------------------------------------


def test_environment_variables_and_an_unwritable_home_use_a_private_temp_folder(
    other_user: OtherUser,
) -> None:
    with running_emulator("rotating-refresh") as emulator:
        reports = other_user.folder("reports")
        original = emulator.env()["SAGE200_REFRESH_TOKEN"]
        run = other_user.run(
            ["run", "--report-dir", str(reports)],
            env={**emulator.env(), "HOME": "/nonexistent"},
        )
        folder = other_user.workdir / "tmp" / f"sage200-doctor-{other_user.uid}"
        saved = saved_elsewhere(run, folder, "rotated-*.env")
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        summary = run.check("token.refresh")["summary"]
        assert "came from the environment variable SAGE200_REFRESH_TOKEN" in summary
        assert_works_and_never_shown(run, emulator, saved, original)


def test_save_rotated_naming_a_folder_puts_the_token_in_a_file_inside(
    other_user: OtherUser,
) -> None:
    with running_emulator("rotating-refresh") as emulator:
        reports, keep = other_user.folder("reports"), other_user.folder("keep")
        original = emulator.env()["SAGE200_REFRESH_TOKEN"]
        run = other_user.run(
            ["run", "--report-dir", str(reports), "--save-rotated", str(keep)],
            env=emulator.env(),
        )
        saved = saved_elsewhere(run, keep, "rotated-*.env")
        assert_works_and_never_shown(run, emulator, saved, original)


# --- D11: settings from a pipe -----------------------------------------------------------------


def run_from_pipe(content: str, tmp_path: Path, home: Path) -> CliRun:
    """`sage200-doctor run --env <(cat FILE)`: the settings come from a pipe, read once."""
    read_end, write_end = os.pipe()
    os.write(write_end, content.encode())
    os.close(write_end)
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "sage200_doctor", "run", "--env", f"/dev/fd/{read_end}"],
            cwd=tmp_path,
            env=cli_environment({"HOME": str(home)}),
            pass_fds=(read_end,),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(read_end)
    return CliRun(completed.returncode, completed.stdout, completed.stderr, tmp_path / "reports")


def test_settings_from_a_pipe_are_read_once(tmp_path: Path) -> None:
    with running_emulator("healthy") as emulator:
        env_file = write_env(tmp_path / "site.env", emulator)
        run = run_from_pipe(env_file.read_text(), tmp_path, tmp_path / "home")
    assert run.code == 0, run.stdout + run.stderr
    assert run.check("config.complete")["outcome"] == "passed"
    assert run.check("token.refresh")["outcome"] == "passed"


def test_a_token_rotated_from_a_pipe_goes_to_a_private_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with running_emulator("rotating-refresh") as emulator:
        env_file = write_env(tmp_path / "site.env", emulator)
        original = emulator.env()["SAGE200_REFRESH_TOKEN"]
        run = run_from_pipe(env_file.read_text(), tmp_path, home)
        saved = saved_elsewhere(run, home / ".sage200-doctor", "rotated-*.env")
        assert "it is a pipe" in run.check("token.refresh")["summary"]
        assert_works_and_never_shown(run, emulator, saved, original)


# --- D12: a run as root, hard links, planted links -----------------------------------------------


def test_hard_links_all_get_the_rotated_token(tmp_path: Path) -> None:
    with running_emulator("rotating-refresh") as emulator:
        env_file = write_env(tmp_path / "site.env", emulator, mode=0o640)
        link = tmp_path / "deploy.env"
        os.link(env_file, link)
        run = run_cli(["run", "--env", str(env_file), "--only", "token.refresh"], cwd=tmp_path)
        assert run.code == 0, run.stdout + run.stderr
        assert run.check("token.refresh")["outcome"] == "passed"
        assert env_file.stat().st_nlink == 2
        assert token_in(link) == token_in(env_file) != emulator.env()["SAGE200_REFRESH_TOKEN"]
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o640
        assert refresh_status(emulator, token_in(link)) == 200


@as_root
def test_a_run_as_root_leaves_the_env_file_to_its_owner(tmp_path: Path) -> None:
    with running_emulator("rotating-refresh") as emulator:
        env_file = write_env(tmp_path / "site.env", emulator)
        os.chown(env_file, 65534, 65534)
        run = run_cli(["run", "--env", str(env_file), "--only", "token.refresh"], cwd=tmp_path)
        assert run.code == 0, run.stdout + run.stderr
        info = env_file.stat()
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (65534, 65534, 0o600)
        backup = tmp_path / "site.env.bak"
        assert (backup.stat().st_uid, backup.stat().st_gid) == (65534, 65534)
        assert refresh_status(emulator, token_in(env_file)) == 200


def test_reports_replace_links_planted_where_they_go(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    reports = tmp_path / "reports"
    reports.mkdir()
    planted = [reports / name for name in ("report.json", "report.html", "junit.xml")]
    planted.append(tmp_path / "bundle.zip")
    for path in planted:
        path.symlink_to(victim)
    with running_emulator("rotating-refresh") as emulator:
        env_file = write_env(tmp_path / "site.env", emulator)
        run = run_cli(["run", "--env", str(env_file), "--bundle", "bundle.zip"], cwd=tmp_path)
    assert run.code == 0, run.stdout + run.stderr
    assert victim.read_text() == "keep me"
    for path in planted:
        assert not path.is_symlink()
        assert path.is_file()
