"""`run --fleet FILE`: twenty emulators with mixed scenarios, one invocation, one merged report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from sage200_doctor.emulator import format_env_lines, running_emulator
from sage200_doctor.report.json import validate_report
from tests.e2e.conftest import CliRun, run_cli
from tests.e2e.test_scenarios import EXPECTED

pytestmark = pytest.mark.e2e

# 20 environments: five share a missing key, the rest mixed.
FLEET = [
    *(("key-missing", f"shop-{n}") for n in range(5)),
    *(("healthy", f"healthy-{n}") for n in range(4)),
    ("token-expired", "expired"),
    ("no-offline-access", "no-offline"),
    ("refresh-revoked", "revoked"),
    ("bad-client-secret", "bad-secret"),
    ("no-space-bearer", "bearer"),
    ("sites-empty", "sites-empty"),
    ("site-not-listed", "site-missing"),
    ("customers-forbidden", "forbidden"),
    ("key-invalid", "key-invalid"),
    ("schema-drift", "drift"),
    ("rotating-refresh", "rotating"),
]


@pytest.fixture(scope="module")
def fleet_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CliRun, list[str]]]:
    folder = tmp_path_factory.mktemp("fleet")
    secrets: list[str] = []
    tables: list[str] = []
    variables: dict[str, str] = {}
    with ExitStack() as stack:
        for index, (scenario, name) in enumerate(FLEET):
            env = stack.enter_context(running_emulator(scenario)).env()
            secrets += [v for k, v in env.items() if k.endswith(SECRET_SUFFIXES) and len(v) > 8]
            if index % 2 == 0:
                # Half from env files (relative to the TOML's folder) ...
                (folder / f"{name}.env").write_text(format_env_lines(env) + "\n")
                tables.append(f'[[environment]]\nname = "{name}"\nenv_file = "{name}.env"\n')
                continue
            # ... half inline, with the client secret read from an environment variable.
            lines = [f'[[environment]]\nname = "{name}"\n[environment.settings]']
            for key, value in env.items():
                if key == "SAGE200_CLIENT_SECRET":
                    variables[f"FLEET_SECRET_{index}"] = value
                    lines.append(f'{key} = {{ env = "FLEET_SECRET_{index}" }}')
                else:
                    lines.append(f"{key} = {json.dumps(value)}")
            tables.append("\n".join(lines) + "\n")
        # One more environment nobody answers for: unreachable, the worst verdict of the fleet.
        tables.append(OFFLINE)
        (folder / "fleet.toml").write_text("\n".join(tables))
        run = run_cli(
            ["run", "--fleet", "fleet.toml", "-n", "2"], cwd=folder, env=variables, timeout=300
        )
        yield run, secrets


OFFLINE = """[[environment]]
name = "offline"
[environment.settings]
SAGE200_EDITION = "professional"
SAGE200_API_BASE_URL = "http://127.0.0.1:9/uk/sage200extra/accounts/v1/"
SAGE200_TOKEN_URL = "http://127.0.0.1:9/oauth/token"
SAGE200_ACCESS_TOKEN = "offline-access-token-not-a-jwt-0123456789"
"""
SECRET_SUFFIXES = ("_SECRET", "_TOKEN", "_KEY", "_AUTHORIZATION")


def _environment(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in report["environments"] if e["name"] == name)


def test_every_environment_gets_its_scenario_verdict(fleet_run: tuple[CliRun, list[str]]) -> None:
    run, _ = fleet_run
    assert "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr
    report = run.report
    assert report["schema"] == "sage200-doctor/fleet@1"
    assert [e["name"] for e in report["environments"]] == [n for _, n in FLEET] + ["offline"]
    for scenario, name in FLEET:
        code, verdict, root, _ = EXPECTED[scenario]
        env = _environment(report, name)
        assert env["verdict"] == verdict, (name, env["root_cause"])
        assert env["exit_code"] == code
        assert (env["root_cause"] or {}).get("check") == root
        assert validate_report(env["report"]) == [], name
    assert _environment(report, "offline")["verdict"] == "unreachable"


def test_the_fleet_exits_with_its_worst_environment(fleet_run: tuple[CliRun, list[str]]) -> None:
    run, _ = fleet_run
    assert run.code == 3 == run.report["exit_code"]  # unreachable beats fail


def test_shared_root_causes_are_clustered(fleet_run: tuple[CliRun, list[str]]) -> None:
    run, _ = fleet_run
    clusters = {c["check"]: c for c in run.report["clusters"]}
    key = clusters["gateway.subscription_key"]
    assert key["count"] == 6  # five key-missing and one key-invalid
    assert key["of"] == len(FLEET) + 1
    assert set(key["environments"]) == {f"shop-{n}" for n in range(5)} | {"key-invalid"}
    assert "gateway.subscription_key failed on 6 of 21: one shared cause" in run.stdout
    assert clusters["token.refresh"]["count"] == 2
    assert run.report["clusters"][0]["check"] == "gateway.subscription_key"  # widest first


def test_item_names_and_junit_carry_the_environment(fleet_run: tuple[CliRun, list[str]]) -> None:
    run, _ = fleet_run
    junit = (run.report_dir / "junit.xml").read_text()
    assert 'classname="shop-0" name="gateway.subscription_key"' in junit
    assert junit.count("<testcase ") == 21 * len(run.report["environments"][0]["report"]["checks"])
    suites = ET.fromstring(junit).findall("testsuite")
    assert len(suites) == 21  # one testsuite per environment
    shop0 = next(suite for suite in suites if suite.get("name") == "shop-0")
    assert shop0.get("tests") == str(len(run.report["environments"][0]["report"]["checks"]))
    assert shop0.get("failures") == "1"  # the root cause; dependents are skipped (blocked)
    page = (run.report_dir / "fleet.html").read_text()
    assert '<a href="environments/shop-3.html">shop-3</a>' in page
    assert (run.report_dir / "environments" / "shop-3.html").is_file()
    assert "gateway.subscription_key" in page


def test_no_secret_reaches_any_output(fleet_run: tuple[CliRun, list[str]]) -> None:
    run, secrets = fleet_run
    assert len(secrets) > 40
    outputs = [run.stdout, run.stderr]
    outputs += [p.read_text() for p in run.report_dir.rglob("*") if p.is_file()]
    for secret in secrets:
        for text in outputs:
            assert secret not in text


def test_every_problem_in_a_bad_fleet_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "fleet.toml").write_text(
        '[[environment]]\nname = "a"\nenv_file = "missing.env"\n'
        '[[environment]]\nname = "a"\n[environment.settings]\n'
        'SAGE200_CLIENT_SECRET = { env = "NOT_SET_ANYWHERE" }\n'
    )
    run = run_cli(["run", "--fleet", "fleet.toml"], cwd=tmp_path)
    assert run.code == 4
    assert "missing.env" in run.stderr
    assert "used twice" in run.stderr
    assert "NOT_SET_ANYWHERE" in run.stderr


def test_one_environment_at_a_time_gives_the_same_verdicts(tmp_path: Path) -> None:
    with running_emulator("healthy") as healthy, running_emulator("token-expired") as expired:
        for name, emulator in (("one", healthy), ("two", expired)):
            (tmp_path / f"{name}.env").write_text(format_env_lines(emulator.env()) + "\n")
        (tmp_path / "fleet.toml").write_text(
            '[[environment]]\nname = "one"\nenv_file = "one.env"\n'
            '[[environment]]\nname = "two"\nenv_file = "two.env"\n'
        )
        run = run_cli(["run", "--fleet", "fleet.toml", "-n", "0"], cwd=tmp_path)
    assert run.code == 1, run.stdout + run.stderr
    verdicts = {e["name"]: e["verdict"] for e in run.report["environments"]}
    assert verdicts == {"one": "pass", "two": "fail"}
    assert "token.claims failed on 1 of 2: this environment only" in run.stdout
