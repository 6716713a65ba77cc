"""Helpers for the rotated-refresh-token tests: env files, the token endpoint, other users."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from dotenv import dotenv_values

from sage200_doctor.emulator import RunningEmulator, format_env_lines
from tests.e2e.conftest import CliRun, cli_environment

KEY = "SAGE200_REFRESH_TOKEN"
NOBODY = 65534


def write_env(path: Path, emulator: RunningEmulator, *, mode: int = 0o600) -> Path:
    path.write_text(format_env_lines(emulator.env()) + "\n", encoding="utf-8")
    path.chmod(mode)
    return path


def token_in(path: Path) -> str | None:
    return dotenv_values(path, interpolate=False).get(KEY)


def refresh_status(emulator: RunningEmulator, refresh_token: str | None) -> int:
    """What the emulator answers to `refresh_token` now (200: it still works). Spends it."""
    env = emulator.env()
    response = httpx.post(
        env["SAGE200_TOKEN_URL"],
        data={"grant_type": "refresh_token", "refresh_token": refresh_token or ""},
        auth=(env["SAGE200_CLIENT_ID"], env["SAGE200_CLIENT_SECRET"]),
    )
    return response.status_code


def token_posts(emulator: RunningEmulator) -> int:
    return sum(1 for r in emulator.request_log if (r.method, r.path) == ("POST", "/oauth/token"))


def no_token_in_outputs(run: CliRun, *tokens: str | None) -> None:
    texts = [run.stdout, run.stderr]
    texts += [p.read_text(errors="replace") for p in run.report_dir.rglob("*") if p.is_file()]
    for token in tokens:
        assert token
        for text in texts:
            assert token not in text


@dataclass
class OtherUser:
    """Runs the CLI as a user that file permissions bind: this one when it is not root, else
    nobody (via setpriv), in a folder that user can reach."""

    workdir: Path
    uid: int
    gid: int
    prefix: list[str] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return self.workdir / "home"

    def own(self, path: Path) -> Path:
        if self.prefix:
            os.chown(path, self.uid, self.gid)
        return path

    def folder(self, name: str) -> Path:
        """A folder the user can enter and write in (`seal` takes the writing away)."""
        path = self.workdir / name
        path.mkdir(mode=0o755)
        path.chmod(0o755)
        return self.own(path)

    def seal(self, path: Path) -> Path:
        """The user may no longer write in the folder `path` (root owns it, or mode 0555)."""
        if self.prefix:
            os.chown(path, 0, 0)
            path.chmod(0o755)
        else:
            path.chmod(0o555)  # not root: the mode binds us
        return path

    def run(self, args: list[str], *, env: dict[str, str] | None = None) -> CliRun:
        import subprocess

        extra = {"HOME": str(self.home), "TMPDIR": str(self.workdir / "tmp"), **(env or {})}
        completed = subprocess.run(
            [*self.prefix, sys.executable, "-m", "sage200_doctor", *args],
            cwd=self.workdir,
            env=cli_environment(extra),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        report_dir = Path(args[args.index("--report-dir") + 1])
        return CliRun(completed.returncode, completed.stdout, completed.stderr, report_dir)


def other_user_in(tmp_path: Path) -> Iterator[OtherUser]:
    """The body of an `other_user` fixture (yield from it)."""
    if os.geteuid() != 0:
        user = OtherUser(tmp_path, os.getuid(), os.getgid())
        for name in ("home", "tmp"):
            user.folder(name)
        yield user
        for path in tmp_path.rglob("*"):  # let pytest clean up what was made read-only
            if path.is_dir() and not path.is_symlink():
                path.chmod(stat.S_IMODE(path.stat().st_mode) | 0o700)
        return
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot run as another user")
    # pytest's own temporary folders are private to root: make one nobody can reach.
    workdir = Path(tempfile.mkdtemp(prefix="sage200-other-user-"))
    workdir.chmod(0o755)
    user = OtherUser(
        workdir,
        NOBODY,
        NOBODY,
        [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"],
    )
    for name in ("home", "tmp"):
        user.folder(name)
    yield user
    shutil.rmtree(workdir, ignore_errors=True)
