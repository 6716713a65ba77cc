"""The CI recipes install sage200-doctor from the repository (it is not on a package index), and
their diagnosis tolerates a missing baseline: it says so, runs without one, keeps the reports.

The recipes' own shell scripts are run with a stand-in `sage200-doctor` on PATH that records its
arguments, with and without `.sage200/baseline.toml`."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sage200_doctor import __version__
from tests.unit.test_ci_recipes import load, mappings, scripts

WHEEL = f".sage200/sage200_doctor-{__version__}-py3-none-any.whl"
MISSING = "No .sage200/baseline.toml: running without accepted findings"


def install_lines(name: str) -> list[str]:
    return [
        line.strip()
        for text in scripts(load(name))
        for line in text.splitlines()
        if "pip install" in line
    ]


def doctor_package(name: str) -> str:
    values = [m["DOCTOR_PACKAGE"] for m in mappings(load(name)) if "DOCTOR_PACKAGE" in m]
    assert len(values) == 1, values
    return str(values[0])


@pytest.mark.parametrize("name", ["github", "gitlab"])
def test_every_install_is_from_the_repository_never_a_package_index(name: str) -> None:
    lines = install_lines(name)
    assert lines
    assert all(line == 'python -m pip install "$DOCTOR_PACKAGE"' for line in lines), lines
    assert doctor_package(name) == WHEEL  # the wheel of this version: renew it on release


def test_github_checks_out_the_repository_before_installing() -> None:
    for job in load("github")["jobs"].values():
        uses = [str(step.get("uses", "")) for step in job["steps"]]
        runs = [str(step.get("run", "")) for step in job["steps"]]
        installs = next(i for i, run in enumerate(runs) if "pip install" in run)
        checkout = next(i for i, use in enumerate(uses) if use.startswith("actions/checkout"))
        assert checkout < installs


def diagnose_script(name: str) -> str:
    data: Any = load(name)
    if name == "github":
        steps = data["jobs"]["diagnose"]["steps"]
        return str(next(step["run"] for step in steps if step.get("name") == "Diagnose"))
    return "\n".join(data["diagnose"]["script"])


def run_script(script: str, directory: Path) -> tuple[str, list[str]]:
    """Run `script` with a stand-in sage200-doctor; (its output, the argument lines it got)."""
    bin_dir = directory / "bin"
    bin_dir.mkdir()
    calls = directory / "calls.txt"
    stand_in = bin_dir / "sage200-doctor"
    stand_in.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nmkdir -p reports/run\n', "utf-8")
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IXUSR)
    done = subprocess.run(
        ["sh", "-e", "-c", script],
        cwd=directory,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout + done.stderr, calls.read_text("utf-8").splitlines()


@pytest.mark.parametrize("name", ["github", "gitlab"])
def test_a_missing_baseline_is_said_and_the_run_goes_on(name: str, tmp_path: Path) -> None:
    output, calls = run_script(diagnose_script(name), tmp_path)
    assert MISSING in output
    assert calls == ["run --report-dir reports/run --quiet"]
    assert (tmp_path / "reports" / "run").is_dir()  # there are reports to keep


@pytest.mark.parametrize("name", ["github", "gitlab"])
def test_a_baseline_that_is_there_is_used(name: str, tmp_path: Path) -> None:
    (tmp_path / ".sage200").mkdir()
    (tmp_path / ".sage200" / "baseline.toml").write_text("", encoding="utf-8")
    output, calls = run_script(diagnose_script(name), tmp_path)
    assert MISSING not in output
    assert calls == ["run --report-dir reports/run --baseline .sage200/baseline.toml --quiet"]
