"""Servers that trickle their answers (D10): the run ends, names the request, writes its report.

SAGE200_TIMEOUT_S bounds each wait for a byte; a server that sends one byte every quarter of a
second never lets it fire. Every request therefore has a wall-clock deadline (1.5 times the
timeout plus 1 s), and a whole run's requests a budget of eight deadlines (at least 60 s). The
bound here is the subprocess timeout: a run that hung would fail the test by running past it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sage200_doctor import catalogue
from sage200_doctor.config.settings import load_settings
from sage200_doctor.emulator import format_env_lines, running_emulator, scenario_config
from sage200_doctor.emulator.faults import FaultRule
from sage200_doctor.engine.results import Outcome
from sage200_doctor.engine.run import DiagnosticRun
from sage200_doctor.http import session as session_module
from sage200_doctor.report.json import validate_report
from tests.e2e.conftest import CliRun, run_cli
from tests.e2e.hostile_server import Request, Route, Trickle, hostile_server

pytestmark = pytest.mark.e2e

TIMEOUT_S = "1"  # the deadline is 2.5 s
BOUND_S = 60  # far past what the run needs, far short of what a hang would take


def run_against(routes: dict[str, Route], tmp_path: Path) -> CliRun:
    with hostile_server(routes) as server:
        env_file = tmp_path / "site.env"
        env_file.write_text(server.env_lines(SAGE200_TIMEOUT_S=TIMEOUT_S), encoding="utf-8")
        args = ["run", "--env", str(env_file), "--report-dir", str(tmp_path / "reports")]
        run = run_cli(args, cwd=tmp_path, timeout=BOUND_S)
    assert "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr
    assert validate_report(run.report) == []
    return run


def test_headers_trickled_by_the_token_endpoint(tmp_path: Path) -> None:
    run = run_against({"token": lambda request: Trickle("headers")}, tmp_path)
    refresh = run.check("token.refresh")
    assert refresh["outcome"] == "failed", run.stdout
    assert "POST /oauth/token on 127.0.0.1:" in refresh["summary"]
    assert "was still answering 2.5 s after it was sent" in refresh["summary"]
    assert run.report["root_cause"]["check"] == "token.refresh"
    assert run.code == 1


def test_a_body_trickled_by_a_data_call(tmp_path: Path) -> None:
    def customers(request: Request) -> Trickle | None:
        return Trickle("body") if request.authorized else None

    run = run_against({"customers": customers}, tmp_path)
    listed = run.check("customers.list")
    assert listed["outcome"] == "failed", run.stdout
    assert "GET /uk/sage200/accounts/v1/customers on 127.0.0.1:" in listed["summary"]
    assert "was still answering" in listed["summary"]
    assert run.code == 1


def test_chunks_trickled_by_the_api_host(tmp_path: Path) -> None:
    run = run_against({"api_root": lambda request: Trickle("chunked")}, tmp_path)
    api = run.check("network.api")
    assert api["outcome"] == "failed", run.stdout
    assert "GET /uk/sage200/accounts/v1/ on 127.0.0.1:" in api["summary"]
    assert run.code == 3


def test_the_emulators_trickle_fault_is_a_finding_too(tmp_path: Path) -> None:
    config = dataclasses.replace(
        scenario_config("healthy"), faults=(FaultRule("trickle", "api", r"/sites$"),)
    )
    with running_emulator(config) as emulator:
        env = {**emulator.env(), "SAGE200_TIMEOUT_S": TIMEOUT_S}
        (tmp_path / "site.env").write_text(format_env_lines(env), encoding="utf-8")
        run = run_cli(["run", "--env", str(tmp_path / "site.env")], cwd=tmp_path, timeout=BOUND_S)
        trickled = [entry for entry in emulator.request_log if entry.fault == "trickle"]
    assert trickled, "the fault was never served"
    root = run.report["root_cause"]
    assert root["check"] == "gateway.subscription_key", run.stdout
    assert "was still answering" in root["summary"]


def test_a_whole_run_stops_sending_once_its_budget_is_spent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Requests one at a time, every resource read trickled: each runs out its own deadline,
    # one after another. With a budget of two deadlines, the later ones are never sent.
    monkeypatch.setattr(session_module, "MIN_RUN_BUDGET_S", 0.0)
    monkeypatch.setattr(session_module, "RUN_BUDGET_DEADLINES", 2)
    known = {"discovery", "token", "api_root", "sites", "customers", "other"}

    def answer(request: Request) -> Trickle | None:
        return Trickle("body") if request.authorized else None

    with hostile_server({}) as server:
        server.routes.update({name: answer for name in _resource_routes() if name not in known})
        env_file = tmp_path / "site.env"
        env_file.write_text(
            server.env_lines(SAGE200_TIMEOUT_S=TIMEOUT_S, SAGE200_CONCURRENCY="1"),
            encoding="utf-8",
        )
        result = DiagnosticRun(load_settings(env_file, environ={})).run()
    resources = result.check("api.resources")
    assert resources.outcome in (Outcome.WARNING, Outcome.FAILED), resources
    assert "time budget of 5 s (2 request deadlines) ran out" in resources.details
    assert not [c.id for c in result.checks if c.outcome is Outcome.ERROR]


def _resource_routes() -> list[str]:
    """The first path segment of every resource api.resources reads (its route here)."""
    return sorted({entry.name.split("/")[0] for entry in catalogue.representatives()})
