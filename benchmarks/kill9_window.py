"""How often SIGKILL right after Sage ID rotated the refresh token loses it (D13).

The emulator (`rotating-refresh`, in this process) logs the refresh grant before the last byte of
its answer leaves; `--after-ms` later the real CLI (`run --only token.refresh`) is killed with
SIGKILL, then the env file's token is tried. A token that no longer works was lost: the run was
killed between Sage ID rotating it and the new one being renamed into the env file. Nothing can
wait out SIGKILL (at 0 ms the answer has not even reached the client), so the figures show how
wide that window is, not a pass/fail.

    python benchmarks/kill9_window.py [--kills 20] [--after-ms 0 1 2 5 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from dotenv import dotenv_values

from sage200_doctor.emulator import RunningEmulator, format_env_lines, running_emulator

KEY = "SAGE200_REFRESH_TOKEN"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--after-ms", type=float, nargs="+", default=[0, 1, 2, 5, 10])
    args = parser.parse_args()
    for after_ms in args.after_ms:
        lost, strays = _series(args.kills, after_ms / 1000)
        print(
            f"SIGKILL {after_ms:g} ms after the rotated token was sent: lost {lost} of "
            f"{args.kills} (temporary files left: {strays})"
        )


def _series(kills: int, after_s: float) -> tuple[int, int]:
    folder = Path(tempfile.mkdtemp(prefix="sage200-kill9-"))
    env_file = folder / "site.env"
    done = lost = strays = 0
    while done < kills:
        # A lost token cannot be replaced without a sign-in: a fresh emulator instead.
        with running_emulator("rotating-refresh") as emulator:
            env_file.write_text(format_env_lines(emulator.env()))
            env_file.chmod(0o600)
            while done < kills:
                done += 1
                strays += _kill_after_rotation(emulator, env_file, folder, after_s)
                if not _still_works(emulator, env_file):
                    lost += 1
                    break
    return lost, strays


def _kill_after_rotation(
    emulator: RunningEmulator, env_file: Path, folder: Path, after_s: float
) -> int:
    posts = _posts(emulator)
    reports = str(folder / "reports")
    command = ["run", "--env", str(env_file), "--report-dir", reports, "--only", "token.refresh"]
    process = subprocess.Popen(
        [sys.executable, "-m", "sage200_doctor", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(folder)},
    )
    while process.poll() is None and _posts(emulator) == posts:
        time.sleep(0.0002)
    sent = time.perf_counter()
    while time.perf_counter() - sent < after_s:
        pass  # a busy wait: sleep() is too coarse for a millisecond
    process.send_signal(signal.SIGKILL)
    process.wait()
    stray = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    for path in stray:
        path.unlink()
    return int(bool(stray))


def _posts(emulator: RunningEmulator) -> int:
    return sum(1 for entry in emulator.request_log if entry.method == "POST")


def _still_works(emulator: RunningEmulator, env_file: Path) -> bool:
    """Try the env file's token; when it works, put the token this spent in its place."""
    env = emulator.env()
    token = dotenv_values(env_file, interpolate=False).get(KEY)
    answer = httpx.post(
        env["SAGE200_TOKEN_URL"],
        data={"grant_type": "refresh_token", "refresh_token": token or ""},
        auth=(env["SAGE200_CLIENT_ID"], env["SAGE200_CLIENT_SECRET"]),
    )
    if answer.status_code != 200:
        return False
    env_file.write_text(format_env_lines({**env, KEY: answer.json()["refresh_token"]}))
    return True


if __name__ == "__main__":
    main()
