"""The promises of CONTRACT §7 and the 'never break' rules, proven over real HTTP.

- A run sends nothing but GET to the API and nothing but the refresh grant to Sage ID.
- A rotated refresh token is never lost: the env file holds a working one afterwards.
- An internal error is an `error` outcome with exit 5 and a valid report.json.
- Bad configuration is a finding (exit 2) or a usage error (exit 4), never a traceback.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from dotenv import dotenv_values

from sage200_doctor.emulator import SCENARIOS, RunningEmulator, format_env_lines, running_emulator
from tests.e2e.conftest import CliRun, run_cli

pytestmark = pytest.mark.e2e
UNREACHABLE = {"proxy-error-page"}


def _write_env(path: Path, emulator: RunningEmulator, *, mode: int = 0o600) -> Path:
    path.write_text(format_env_lines(emulator.env()) + "\n", encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_run_only_reads(scenario: str, tmp_path: Path, doctor: Callable[..., CliRun]) -> None:
    with running_emulator(scenario) as emulator:
        run = doctor("run", "--env", str(_write_env(tmp_path / "site.env", emulator)))
        log = emulator.request_log
    # proxy-error-page: the gateway is never reached (exit 3), but what was asked is still GET.
    assert run.code in ((0, 1, 3) if scenario in UNREACHABLE else (0, 1)), run.stdout + run.stderr
    api = [(entry.method, entry.path) for entry in log if entry.face in ("gateway", "api")]
    identity = [(entry.method, entry.path) for entry in log if entry.face == "identity"]
    assert api, "the run reached the API"
    assert {method for method, _ in api} == {"GET"}, api
    writes = [(method, path) for method, path in identity if method != "GET"]
    assert {path for _, path in writes} <= {"/oauth/token"}, writes
    assert {method for method, _ in writes} <= {"POST"}


def _refresh(emulator: RunningEmulator, refresh_token: str) -> httpx.Response:
    env = emulator.env()
    return httpx.post(
        env["SAGE200_TOKEN_URL"],
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(env["SAGE200_CLIENT_ID"], env["SAGE200_CLIENT_SECRET"]),
    )


def test_a_rotated_refresh_token_is_written_back_and_works(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    with running_emulator("rotating-refresh") as emulator:
        env_file = _write_env(tmp_path / "site.env", emulator, mode=0o640)
        original = emulator.env()["SAGE200_REFRESH_TOKEN"]
        run = doctor("run", "--env", str(env_file))
        assert run.code == 0, run.stdout
        saved = dotenv_values(env_file)["SAGE200_REFRESH_TOKEN"]
        assert saved
        assert saved != original
        backup = env_file.with_name(env_file.name + ".bak")
        assert dotenv_values(backup)["SAGE200_REFRESH_TOKEN"] == original
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o640  # permissions preserved
        assert (
            _refresh(emulator, original).json()["error"] == "invalid_grant"
        )  # the old one is dead
        assert _refresh(emulator, saved).status_code == 200  # the saved one works
    assert saved not in run.stdout + run.stderr + (tmp_path / "reports" / "report.json").read_text()


def test_two_runs_at_once_leave_a_working_token(tmp_path: Path) -> None:
    with running_emulator("rotating-refresh") as emulator:
        env_file = _write_env(tmp_path / "site.env", emulator)
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            runs = list(
                pool.map(
                    lambda d: run_cli(["run", "--env", str(env_file)], cwd=tmp_path / d), ["a", "b"]
                )
            )
        assert any(run.code == 0 for run in runs), [run.stdout for run in runs]
        saved = dotenv_values(env_file)["SAGE200_REFRESH_TOKEN"]
        assert saved
        assert _refresh(emulator, saved).status_code == 200


def test_a_rotated_token_from_the_environment_goes_to_save_rotated(tmp_path: Path) -> None:
    with running_emulator("rotating-refresh") as emulator:
        target = tmp_path / "rotated.env"
        run = run_cli(["run", "--save-rotated", str(target)], cwd=tmp_path, env=emulator.env())
        assert run.code == 0, run.stdout
        saved = dotenv_values(target)["SAGE200_REFRESH_TOKEN"]
        assert saved
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert _refresh(emulator, saved).status_code == 200
        assert str(target) in run.check("token.refresh")["summary"]


def test_an_internal_error_is_an_error_outcome_with_exit_5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sage200_doctor.commands import main
    from sage200_doctor.engine import registry

    spec = {s.id: s for s in registry.all_checks()}["sites.list"]

    def broken(run: object) -> str:
        raise RuntimeError("simulated bug")

    monkeypatch.setitem(
        registry._REGISTRY, "sites.list", dataclasses.replace(spec, function=broken)
    )
    code = main(["demo", "--report-dir", str(tmp_path)])
    output = capsys.readouterr()
    assert code == 5
    report = json.loads((tmp_path / "report.json").read_text())
    outcomes = {check["id"]: check for check in report["checks"]}
    assert report["verdict"] == "internal-error"
    assert outcomes["sites.list"]["outcome"] == "error"
    assert "report it" in outcomes["sites.list"]["summary"]
    assert outcomes["sites.selection"]["outcome"] == "blocked"
    assert outcomes["token.scope"]["outcome"] == "passed"  # the rest still ran
    assert "Traceback" not in output.out + output.err


@pytest.mark.parametrize(
    ("content", "expected_code", "needle"),
    [
        (
            b"\xef\xbb\xbfSAGE200_ACCESS_TOKEN=abcdefghijklmnopq\r\nSAGE200_SITE_ID=not-a-guid\r\n",
            2,
            "SAGE200_SITE_ID",
        ),
        (b"export SAGE200_ACCESS_TOKEN='Bearer abcdefghijklmnopq'\n", 2, "starts with 'Bearer'"),
        ("SAGE200_ACCESS_TOKEN=“abcdefghijklmnopq”\n".encode(), 2, "typographic quotes"),
        (b"SAGE200_ACCESS_TOKEN=abc\xff\xfedefghijkl\n", 2, "UTF-8"),
        (b"SAGE200_ACESS_TOKEN=abcdefghijklmnopq\n", 2, "SAGE200_ACCESS_TOKEN"),
        (
            b"SAGE200_ACCESS_TOKEN=abcdefghijklmnopq\nSAGE200_EDITION=enterprise\n",
            2,
            "SAGE200_EDITION",
        ),
    ],
)
def test_bad_configuration_is_a_finding(
    tmp_path: Path, doctor: Callable[..., CliRun], content: bytes, expected_code: int, needle: str
) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_bytes(content)
    run = doctor("run", "--env", str(env_file))
    assert "Traceback" not in run.stdout + run.stderr
    assert run.code == expected_code, run.stdout
    text = json.dumps(run.report)
    assert needle in text
    assert "abcdefghijklmnopq" not in text + run.stdout + run.stderr


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_an_unreadable_env_file_is_a_usage_error(
    tmp_path: Path, doctor: Callable[..., CliRun], kind: str
) -> None:
    target = tmp_path / "site.env"
    if kind == "directory":
        target.mkdir()
    run = doctor("run", "--env", str(target))
    assert run.code == 4
    assert "Traceback" not in run.stdout + run.stderr
    assert "site.env" in run.stderr


def test_bad_flags_are_a_usage_error(doctor: Callable[..., CliRun]) -> None:
    assert doctor("run", "--no-such-flag").code == 4
    assert doctor("demo", "--scenario", "helthy").code == 4
    assert doctor("run", "--only", "sites.lst", "--env", os.devnull).code == 4


def test_a_client_secret_with_reserved_characters_authenticates_by_basic(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    from sage200_doctor.emulator.scenarios import with_settings

    config = with_settings(
        "healthy", client_secret="s3cr+t%25:/=é x"
    )  # RFC 6749 form-encoding matters here
    with running_emulator(config) as emulator:
        run = doctor("run", "--env", str(_write_env(tmp_path / "site.env", emulator)))
    assert run.code == 0, run.stdout
    assert run.check("token.refresh")["outcome"] == "passed"
