"""Requests sent at once change how long a run waits, never what it finds.

Against a real emulator over real HTTP: a run with the default concurrency and one that sends
one request at a time make the same requests per check and reach the same findings; on a
healthy site nothing is sent that no check uses; where a failure makes requests sent ahead
moot, report.json lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sage200_doctor.emulator import RunningEmulator, format_env_lines, running_emulator
from tests.e2e.conftest import CliRun

pytestmark = pytest.mark.e2e


def _run(
    doctor: Callable[..., CliRun], emulator: RunningEmulator, env_file: Path, concurrency: int
) -> tuple[CliRun, int]:
    before = len(emulator.request_log)
    env_file.write_text(format_env_lines(emulator.env()) + "\n", encoding="utf-8")
    run = doctor(
        "run",
        "--env",
        str(env_file),
        "--report-dir",
        str(env_file.parent / f"reports-{concurrency}"),
        env={"SAGE200_CONCURRENCY": str(concurrency)},
    )
    return run, len(emulator.request_log) - before


def _requests_by_check(report: dict[str, Any]) -> dict[str, list[str]]:
    return {
        check["id"]: [f"{e['request']['method']} {e['request']['url']}" for e in check["evidence"]]
        for check in report["checks"]
    }


def _findings(report: dict[str, Any]) -> list[tuple[str, str, str, list[str]]]:
    return [(c["id"], c["outcome"], c["summary"], c["guidance"]) for c in report["checks"]]


@pytest.mark.parametrize("scenario", ["healthy", "filter-and-as-or", "customers-forbidden"])
def test_sending_at_once_finds_exactly_what_one_at_a_time_finds(
    scenario: str, tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    with running_emulator(scenario) as emulator:
        one, _ = _run(doctor, emulator, tmp_path / "one.env", 1)
        many, _ = _run(doctor, emulator, tmp_path / "many.env", 8)
    assert (one.code, many.code) in ((0, 0), (1, 1)), one.stdout + many.stdout
    assert _findings(many.report) == _findings(one.report)
    assert _requests_by_check(many.report) == _requests_by_check(one.report)
    assert one.report["requests"]["concurrency"] == 1
    assert one.report["requests"]["sent_ahead_unused"] == []


def test_a_healthy_run_sends_nothing_it_does_not_use(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    with running_emulator("healthy") as emulator:
        run, served = _run(doctor, emulator, tmp_path / "site.env", 8)
    evidence = sum(len(check["evidence"]) for check in run.report["checks"])
    assert run.code == 0, run.stdout
    assert run.report["requests"] == {"sent": evidence, "concurrency": 8, "sent_ahead_unused": []}
    assert served == evidence


def test_requests_a_failure_made_moot_are_listed(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    with running_emulator("customers-forbidden") as emulator:
        run, served = _run(doctor, emulator, tmp_path / "site.env", 8)
    assert run.report["root_cause"]["check"] == "customers.list"
    unused = run.report["requests"]["sent_ahead_unused"]
    evidence = sum(len(check["evidence"]) for check in run.report["checks"])
    assert unused, "the $filter and sample GETs were sent ahead of customers.list"
    assert all(line.startswith("GET ") and "/customers" in line for line in unused)
    assert served == evidence + len(unused) == run.report["requests"]["sent"]
