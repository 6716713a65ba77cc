"""`sage200-doctor emulate` serves, and its printed lines work with plain curl (issue 2)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv import dotenv_values

from tests.e2e.conftest import cli_environment, run_cli

pytestmark = pytest.mark.e2e


@pytest.fixture
def emulate(tmp_path: Path) -> Iterator[dict[str, str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sage200_doctor",
            "emulate",
            "--scenario",
            "healthy",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_environment(),
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("SAGE200_CUSTOMER_REFERENCE="):
                break
        env_file = tmp_path / "emulator.env"
        env_file.write_text("".join(lines), encoding="utf-8")
        values = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
        values["__file__"] = str(env_file)
        yield values
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    assert process.returncode == 0


def _curl(*args: str) -> str:
    return subprocess.run(
        ["curl", "-s", "--fail-with-body", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_plain_curl_with_the_printed_values_reads_sites_and_filters_a_customer(
    emulate: dict[str, str],
) -> None:
    env = emulate
    token_answer = _curl(
        "-u",
        f"{env['SAGE200_CLIENT_ID']}:{env['SAGE200_CLIENT_SECRET']}",
        "-d",
        "grant_type=refresh_token",
        "--data-urlencode",
        f"refresh_token={env['SAGE200_REFRESH_TOKEN']}",
        env["SAGE200_TOKEN_URL"],
    )
    token = json.loads(token_answer)["access_token"]
    headers = [
        "-H",
        f"Authorization: Bearer {token}",
        "-H",
        f"ocp-apim-subscription-key: {env['SAGE200_SUBSCRIPTION_KEY']}",
    ]
    sites = json.loads(_curl(*headers, env["SAGE200_API_BASE_URL"] + "sites"))
    assert {
        "site_id": env["SAGE200_SITE_ID"],
        "company_id": int(env["SAGE200_COMPANY_ID"]),
    }.items() <= sites[0].items()
    company = [
        "-H",
        f"X-Site: {env['SAGE200_SITE_ID']}",
        "-H",
        f"X-Company: {env['SAGE200_COMPANY_ID']}",
    ]
    found = json.loads(
        _curl(
            "-G",
            *headers,
            *company,
            "--data-urlencode",
            "$filter=reference eq 'A1D001'",
            env["SAGE200_API_BASE_URL"] + "customers",
        )
    )
    assert [(c["reference"], c["name"]) for c in found] == [("A1D001", "A1 Design Services")]


def test_run_against_a_separate_emulator_process_passes(
    emulate: dict[str, str], tmp_path: Path
) -> None:
    run = run_cli(["run", "--env", emulate["__file__"]], cwd=tmp_path)
    assert run.code == 0, run.stdout
    assert run.report["verdict"] == "pass"
