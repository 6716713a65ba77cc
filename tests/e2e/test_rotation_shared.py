"""Runs that share a refresh token, and runs stopped mid-refresh (D4, D13).

Against the emulator's `rotating-refresh` (the presented refresh token is revoked on every
refresh) and `refresh-reuse-detection` (presenting one already rotated away revokes the whole
family, as Auth0 does): parallel runs on one env file take turns with it, a fleet refreshes a
shared credential once, and SIGTERM while the grant is in flight still saves the new token.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sage200_doctor.config.credential_lock import locked_elsewhere
from sage200_doctor.emulator import format_env_lines, running_emulator
from sage200_doctor.emulator.faults import FaultRule
from sage200_doctor.emulator.scenarios import scenario_config
from tests.e2e.conftest import CliRun, cli_environment, run_cli
from tests.e2e.rotation_support import (
    no_token_in_outputs,
    refresh_status,
    token_in,
    token_posts,
    write_env,
)

pytestmark = pytest.mark.e2e
ROTATING = ("rotating-refresh", "refresh-reuse-detection")
RUNS_AT_ONCE = 4


# --- D4: parallel runs on one env file ---------------------------------------------------------


@pytest.mark.parametrize("scenario", ROTATING)
def test_parallel_runs_on_one_env_file_all_pass_and_keep_a_working_token(
    scenario: str, tmp_path: Path
) -> None:
    """Two CI jobs on one runner, K of them: each takes the token in turn, none is refused."""
    with running_emulator(scenario) as emulator:
        env_file = write_env(tmp_path / "site.env", emulator)
        original = token_in(env_file)

        def one(index: int) -> CliRun:
            folder = tmp_path / f"job-{index}"
            folder.mkdir()
            args = ["run", "--env", str(env_file), "--only", "token.refresh"]
            return run_cli(args, cwd=folder, env={"HOME": str(folder)})

        with concurrent.futures.ThreadPoolExecutor(RUNS_AT_ONCE) as pool:
            runs = list(pool.map(one, range(RUNS_AT_ONCE)))
        outcomes = [(run.code, run.check("token.refresh")["outcome"]) for run in runs]
        assert outcomes == [(0, "passed")] * RUNS_AT_ONCE, [r.stdout for r in runs]
        assert token_posts(emulator) == RUNS_AT_ONCE  # one refresh each, in turn
        final = token_in(env_file)
        assert final != original
        for run in runs:
            no_token_in_outputs(run, final, original)
        assert refresh_status(emulator, final) == 200  # the family was never revoked


def test_a_refused_refresh_token_mentions_a_shared_credential(tmp_path: Path) -> None:
    """Runs on other machines cannot be locked out: the finding names that possible cause."""
    with running_emulator("refresh-revoked") as emulator:
        env_file = write_env(tmp_path / "site.env", emulator)
        run = run_cli(["run", "--env", str(env_file)], cwd=tmp_path)
    check = run.check("token.refresh")
    assert check["outcome"] == "failed"
    assert "invalid_grant" in check["summary"]
    assert "uses the same refresh token" in check["details"]
    assert "docs/ci.md" in check["details"]
    assert "was left beside the env file" not in check["details"]


def test_a_refused_refresh_token_points_at_a_write_a_kill_interrupted(tmp_path: Path) -> None:
    with running_emulator("refresh-revoked") as emulator:
        env_file = write_env(tmp_path / "site.env", emulator)
        left = tmp_path / ".site.env.k1ll3d00.tmp"
        left.write_text(env_file.read_text())
        run = run_cli(["run", "--env", str(env_file)], cwd=tmp_path)
    details = run.check("token.refresh")["details"]
    assert f"{left} was left beside the env file" in details
    assert "copy SAGE200_REFRESH_TOKEN from it" in details


# --- D4: a fleet whose environments share a credential -----------------------------------------


def fleet_run(folder: Path, tables: list[str]) -> CliRun:
    (folder / "fleet.toml").write_text("\n".join(tables))
    (folder / "home").mkdir()
    return run_cli(
        ["run", "--fleet", "fleet.toml", "-n", "2"], cwd=folder, env={"HOME": str(folder / "home")}
    )


def refresh_outcomes(run: CliRun) -> dict[str, str]:
    return {
        env["name"]: next(c for c in env["report"]["checks"] if c["id"] == "token.refresh")[
            "outcome"
        ]
        for env in run.report["environments"]
    }


def test_a_fleet_sharing_an_env_file_refreshes_once(tmp_path: Path) -> None:
    with running_emulator("refresh-reuse-detection") as emulator:
        env_file = write_env(tmp_path / "site.env", emulator)
        original = token_in(env_file)
        tables = [
            f'[[environment]]\nname = "company-{name}"\nenv_file = "site.env"\n'
            for name in ("a", "b", "c")
        ]
        run = fleet_run(tmp_path, tables)
        assert run.code == 0, run.stdout + run.stderr
        assert refresh_outcomes(run) == dict.fromkeys(
            ("company-a", "company-b", "company-c"), "passed"
        )
        assert token_posts(emulator) == 1
        final = token_in(env_file)
        assert final != original
        no_token_in_outputs(run, final, original)
        assert refresh_status(emulator, final) == 200


def test_a_fleet_sharing_inline_settings_refreshes_once(tmp_path: Path) -> None:
    """The same refresh token written into two environments' settings (no file to lock)."""
    with running_emulator("refresh-reuse-detection") as emulator:
        original = emulator.env()["SAGE200_REFRESH_TOKEN"]
        settings = "\n".join(
            f"{key} = {json.dumps(value)}" for key, value in emulator.env().items()
        )
        tables = [
            f'[[environment]]\nname = "company-{name}"\n[environment.settings]\n{settings}\n'
            for name in ("a", "b")
        ]
        run = fleet_run(tmp_path, tables)
        assert run.code == 0, run.stdout + run.stderr
        outcomes = refresh_outcomes(run)
        # One of them refreshed and saved the rotated token (a warning: it must go back into the
        # fleet file); the other used that grant.
        assert sorted(outcomes.values()) == ["passed", "warning"], outcomes
        assert token_posts(emulator) == 1
        saved = list((tmp_path / "home" / ".sage200-doctor").glob("rotated-*.env"))
        assert len(saved) == 1
        no_token_in_outputs(run, token_in(saved[0]), original)
        assert refresh_status(emulator, token_in(saved[0])) == 200


# --- D13: stopped while the grant is in flight ----------------------------------------------------


def test_sigterm_while_the_grant_is_in_flight_still_saves_the_rotated_token(
    tmp_path: Path,
) -> None:
    """The token endpoint answers slowly; SIGTERM arrives while the run holds the credential
    (the grant is on its way or about to be): the run waits for the answer, saves the new
    token, and ends with 143."""
    slow_token = FaultRule(kind="slow", face="identity", path=r"^/oauth/token$")
    config = dataclasses.replace(
        scenario_config("rotating-refresh"), faults=(slow_token,), slow_fault_s=3.0
    )
    with running_emulator(config) as emulator:
        env_file = tmp_path / "site.env"
        env_file.write_text(format_env_lines(emulator.env()))
        env_file.chmod(0o600)
        original = token_in(env_file)
        process = subprocess.Popen(
            [sys.executable, "-m", "sage200_doctor", "run", "--env", str(env_file)],
            cwd=tmp_path,
            env=cli_environment({"HOME": str(tmp_path)}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            holds = wait_until(lambda: locked_elsewhere(env_file), process)
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
        assert holds, "the run never took the credential lock"
        assert process.returncode == 143, stdout + stderr
        report = json.loads((tmp_path / "reports" / "report.json").read_text())
        assert report["verdict"] == "interrupted"
        refresh = next(c for c in report["checks"] if c["id"] == "token.refresh")
        # Stopped or not before its result, the check says where the new token went.
        assert f"the new one was saved to {env_file}" in refresh["summary"], refresh
        saved = token_in(env_file)
        assert saved != original
        assert saved not in stdout + stderr + json.dumps(report)
        assert refresh_status(emulator, original) == 403
        assert refresh_status(emulator, saved) == 200
        assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def wait_until(condition: object, process: subprocess.Popen[str], limit_s: float = 60) -> bool:
    """Poll `condition` until it holds, the process ends, or `limit_s` passes (no timing is
    asserted: the limit only keeps a broken run from hanging the suite)."""
    assert callable(condition)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            return True
        time.sleep(0.01)
    return False
