"""`pytest --sage200-fleet FILE`: every environment's diagnosis, one item per environment and
check (`<env>::<check id>`), replaying the fleet engine's results.

The environments run side by side inside the engine (`engine/fleet.py`); pytest-xdist is not
needed and is switched off, so each environment is diagnosed once, in one place.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from sage200_doctor.config.fleet_file import load_fleet
from sage200_doctor.engine.fleet import FleetRun
from sage200_doctor.engine.results import CheckResult, Interruption, RunResult
from sage200_doctor.engine.signals import StopOnSignals
from sage200_doctor.errors import DoctorError
from sage200_doctor.pytest_plugin.adapter import run_options
from sage200_doctor.pytest_plugin.items import (
    SIGINT,
    check_items,
    keep_engine_order,
    keep_in_one_process,
    no_reseeding_during_the_run,
    per_test_time_limit,
    teststatus,
    use_as_collection,
    without_plugin_timeouts,
)


class FleetAdapter:
    """The hooks of a fleet run."""

    def __init__(self, config: pytest.Config, fleet: FleetRun) -> None:
        self.config = config
        self.fleet = fleet
        self.note = keep_in_one_process(config)
        no_reseeding_during_the_run(config)
        self.outcomes: dict[str, CheckResult] = {}
        self.by_node: dict[str, str] = {}
        self._signals = StopOnSignals(self.interrupt)
        self._started = False

    @classmethod
    def from_config(cls, config: pytest.Config) -> FleetAdapter:
        try:
            environments = load_fleet(Path(str(config.getoption("sage200_fleet"))))
            fleet = FleetRun(environments, run_options(config))
        except DoctorError as error:
            raise pytest.UsageError(str(error)) from None
        return cls(config, fleet)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> bool:
        keys = [(f"{env}::{check}", f"{env}::{check}") for env, check in self.fleet.specs]
        items: list[pytest.Item] = list(check_items(session, keys, self, brief=True))
        self.by_node = {item.nodeid: key for item, (key, _) in zip(items, keys, strict=True)}
        without_plugin_timeouts(session.config, items)
        return use_as_collection(session, items)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        keep_engine_order(items, self.by_node)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if session.config.option.collectonly:
            return
        self._signals.install()
        self._started = True
        budget = per_test_time_limit(session.config)
        for run in self.fleet.runs.values():
            run.options = dataclasses.replace(run.options, check_budget_s=budget)
        self.fleet.start()

    def result_of(self, key: str) -> CheckResult:
        result = self.fleet.result_of(key)
        self.outcomes[key] = result
        return result

    def interrupt(self, interruption: Interruption) -> None:
        self.fleet.interrupt(interruption)

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        result = self.outcomes.get(self.by_node.get(report.nodeid, ""))
        return teststatus(result.outcome if result else None, report)

    def finish(self) -> dict[str, RunResult] | None:
        return self.fleet.finish() if self._started else None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from sage200_doctor.report.fleet import worst_exit_code, write_fleet_reports

        self._signals.restore()
        if not self._started:
            return
        if session.exitstatus == pytest.ExitCode.INTERRUPTED:
            self.fleet.interrupt(SIGINT)
        results = self.fleet.finish()
        report_dir = self.config.getoption("sage200_report_dir")
        if report_dir:
            write_fleet_reports(results, Path(report_dir), self.fleet.redactor)
        session.exitstatus = worst_exit_code([r.exit_code for r in results.values()])

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from sage200_doctor.report.fleet import render_summary

        if self.note:
            terminalreporter.write_line(self.note)
        results = self.finish()
        if results is None:
            terminalreporter.write_line("sage200-doctor: checks listed; nothing was diagnosed.")
            return
        terminalreporter.write(self.fleet.redactor.safe_text(render_summary(results)) + "\n")
