"""Malformed settings against the real CLI (D9): a configuration finding, never exit 5.

Each setting here once ended `sage200-doctor run` in exit 5, an INTERNALERROR or no report.json.
Now each is a `config.values` finding (exit 2) with report.json written and valid; a client that
still cannot be built at run time (a proxy variable the checks did not read) is a finding of the
first request (exit 3), never an internal error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sage200_doctor.report.json import validate_report
from tests.e2e.conftest import CliRun, run_cli

pytestmark = pytest.mark.e2e

BASE = (
    "SAGE200_CLIENT_ID=c\n"
    "SAGE200_CLIENT_SECRET=s3cr3t-value\n"
    "SAGE200_REFRESH_TOKEN=refresh-value-123\n"
    "SAGE200_TOKEN_URL=http://127.0.0.1:9/oauth/token\n"
    "SAGE200_API_BASE_URL=http://127.0.0.1:9/uk/sage200/accounts/v1/\n"
)


def run_with(tmp_path: Path, line: str = "", env: dict[str, str] | None = None) -> CliRun:
    env_file = tmp_path / "site.env"
    env_file.write_bytes((BASE + line + "\n").encode("utf-8"))
    args = ["run", "--env", str(env_file), "--report-dir", str(tmp_path / "reports")]
    run = run_cli([*args, "--only", "network.api"], cwd=tmp_path, env=env)
    output = run.stdout + run.stderr
    assert "Traceback" not in output, output
    assert "INTERNALERROR" not in output, output
    assert (tmp_path / "reports" / "report.json").is_file(), output
    assert validate_report(run.report) == []
    assert not [c["id"] for c in run.report["checks"] if c["outcome"] == "error"], output
    return run


def _empty_file(tmp_path: Path) -> str:
    (tmp_path / "empty.pem").write_bytes(b"")
    return str(tmp_path / "empty.pem")


def _not_pem(tmp_path: Path) -> str:
    (tmp_path / "notes.pem").write_text("root:x:0:0:root:/root:/bin/sh\n", encoding="utf-8")
    return str(tmp_path / "notes.pem")


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("SAGE200_API_BASE_URL=http://127.0.0.1:abc/", "SAGE200_API_BASE_URL"),
        ("SAGE200_API_BASE_URL=http://127.0.0.1:9:9/", "SAGE200_API_BASE_URL"),
        ('SAGE200_API_BASE_URL="http://127.0.0.1:9\t/"', "SAGE200_API_BASE_URL"),
        ("SAGE200_API_BASE_URL=http://127.0.0.1:9/\x7f/", "SAGE200_API_BASE_URL"),
        ("SAGE200_TOKEN_URL=http://127.0.0.1:9/\x00/token", "SAGE200_TOKEN_URL"),
        ("SAGE200_API_BASE_URL=http://[::1/", "SAGE200_API_BASE_URL"),
        ("SAGE200_TIMEOUT_S=1e10", "SAGE200_TIMEOUT_S"),
        ("SAGE200_TIMEOUT_S=nan", "SAGE200_TIMEOUT_S"),
        ("SAGE200_CA_BUNDLE=" + "A" * 5000, "SAGE200_CA_BUNDLE"),
    ],
)
def test_a_malformed_setting_is_a_configuration_finding(
    line: str, key: str, tmp_path: Path
) -> None:
    run = run_with(tmp_path, line)
    values = run.check("config.values")
    assert values["outcome"] == "failed", run.stdout
    assert key in values["details"]
    assert run.code == 2


@pytest.mark.parametrize("make", [_empty_file, _not_pem])
def test_a_ca_bundle_that_is_no_pem_file_is_a_configuration_finding(
    make: object, tmp_path: Path
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    run = run_with(tmp_path, f"SAGE200_CA_BUNDLE={path}")
    assert "SAGE200_CA_BUNDLE" in run.check("config.values")["details"]
    assert run.code == 2


@pytest.mark.parametrize(
    "proxy",
    ["http://proxy.invalid:abc", "socks5://user:pw-canary@127.0.0.1:1080", "http://[::1:3128"],
)
def test_a_proxy_no_client_can_use_is_a_configuration_finding(proxy: str, tmp_path: Path) -> None:
    run = run_with(tmp_path, env={"HTTPS_PROXY": proxy})
    values = run.check("config.values")
    assert "HTTPS_PROXY" in values["details"]
    assert (
        "pw-canary" not in run.stdout + run.stderr + (tmp_path / "reports/report.json").read_text()
    )
    assert run.code == 2


def test_the_proxy_variable_the_client_uses_is_the_one_judged(tmp_path: Path) -> None:
    # urllib (and so httpx) prefers the lower-case variable: a SOCKS proxy there, behind a
    # well-formed upper-case one, is what the client would use, so it is the finding.
    env = {"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "socks5://u:pw-canary@127.0.0.1:1"}
    run = run_with(tmp_path, env=env)
    values = run.check("config.values")
    assert values["outcome"] == "failed", run.stdout
    assert "https_proxy (in the environment) is a SOCKS proxy" in values["details"]
    assert "pw-canary" not in run.stdout + run.stderr
    assert run.code == 2

    upper_only_bad = {"HTTPS_PROXY": "socks5://u:pw-canary@127.0.0.1:1", "https_proxy": ""}
    assert run_with(tmp_path, env=upper_only_bad).code == 2
