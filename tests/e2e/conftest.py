"""End-to-end helpers: the real CLI in a subprocess, against a real emulator on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str
    report_dir: Path

    @property
    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.report_dir / "report.json").read_text(encoding="utf-8")
        )
        return data

    def check(self, check_id: str) -> dict[str, Any]:
        for entry in self.report["checks"]:
            if entry["id"] == check_id:
                return dict(entry)
        raise KeyError(check_id)


def cli_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without any SAGE200_* leaking in, plus `extra`."""
    # Neither SAGE200_* settings nor proxy settings of the machine may leak into a test run.
    proxies = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"}
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SAGE200_") and k.upper() not in proxies
    }
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def run_cli(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> CliRun:
    completed = subprocess.run(
        [sys.executable, "-m", "sage200_doctor", *args],
        cwd=cwd,
        env=cli_environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    report_dir = cwd / "reports"
    if "--report-dir" in args:
        report_dir = Path(args[args.index("--report-dir") + 1])
    return CliRun(completed.returncode, completed.stdout, completed.stderr, report_dir)


@pytest.fixture
def doctor(tmp_path: Path) -> Callable[..., CliRun]:
    """Run `sage200-doctor ARGS…` in a fresh directory; reports land in tmp_path/reports."""

    def invoke(*args: str, env: dict[str, str] | None = None) -> CliRun:
        return run_cli(list(args), cwd=tmp_path, env=env)

    return invoke
