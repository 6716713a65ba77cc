"""`pytest --sage200-env FILE`: one diagnosis, presented as one pytest item per check.

The engine (`DiagnosticRun`) starts when pytest starts running items and decides everything;
the items replay its results. The session's exit status is the engine's exit code, so a
deselected, reordered or rerun item can never turn a failing set-up into a pass.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from sage200_doctor.config.settings import load_settings
from sage200_doctor.engine.baseline import load_baseline
from sage200_doctor.engine.results import CheckResult, Interruption, RunResult
from sage200_doctor.engine.run import DiagnosticRun, RunOptions
from sage200_doctor.engine.signals import StopOnSignals
from sage200_doctor.errors import DoctorError
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


def overrides(pairs: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise pytest.UsageError(f"--sage200-set expects KEY=VALUE, got {key!r}")
        result[key.strip()] = value
    return result


def run_options(config: pytest.Config) -> RunOptions:
    baseline = config.getoption("sage200_baseline")
    rotated = config.getoption("sage200_save_rotated")
    return RunOptions(
        only=tuple(config.getoption("sage200_only")),
        baseline=load_baseline(Path(baseline)) if baseline else None,
        save_rotated=Path(rotated) if rotated else None,
    )


class DiagnosisAdapter:
    """The hooks of an active single-environment run."""

    def __init__(self, config: pytest.Config, run: DiagnosticRun) -> None:
        self.config = config
        self.run = run
        self.note = keep_in_one_process(config)
        no_reseeding_during_the_run(config)
        self.outcomes: dict[str, CheckResult] = {}
        self.by_node: dict[str, str] = {}
        self._signals = StopOnSignals(self.interrupt)
        self._started = False
        if config.pluginmanager.hasplugin("html") or config.pluginmanager.hasplugin(
            "pytest_html.plugin"
        ):
            from sage200_doctor.pytest_plugin.html_hooks import HtmlHooks

            hooks = HtmlHooks(self.finish, self._result_of_item, run.redactor)
            config.pluginmanager.register(hooks, "sage200-doctor-html")

    def _result_of_item(self, item: pytest.Item) -> CheckResult | None:
        return self.outcomes.get(self.by_node.get(item.nodeid, ""))

    @classmethod
    def from_config(cls, config: pytest.Config) -> DiagnosisAdapter:
        env = config.getoption("sage200_env")
        try:
            loaded = load_settings(
                Path(env) if env else None, overrides=overrides(config.getoption("sage200_set"))
            )
            run = DiagnosticRun(loaded, run_options(config))
        except DoctorError as error:
            raise pytest.UsageError(str(error)) from None
        return cls(config, run)

    # --- collection and running -------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> bool:
        # The diagnostics replace test collection: `pytest --sage200-env FILE` runs the checks,
        # not whatever tests happen to lie in the current directory.
        keys = [(spec.id, spec.id) for spec in self.run.specs]
        items: list[pytest.Item] = list(check_items(session, keys, self, brief=False))
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
        # Read now: pytest-timeout sets its timeout in a pytest_configure that runs after ours.
        budget = per_test_time_limit(session.config)
        self.run.options = dataclasses.replace(self.run.options, check_budget_s=budget)
        self.run.start()

    def result_of(self, key: str) -> CheckResult:
        result = self.run.result_of(key)
        self.outcomes[key] = result
        return result

    def interrupt(self, interruption: Interruption) -> None:
        self.run.interrupt(interruption)

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        result = self.outcomes.get(self.by_node.get(report.nodeid, ""))
        return teststatus(result.outcome if result else None, report)

    # --- the end ----------------------------------------------------------------------------

    def finish(self) -> RunResult | None:
        """The engine's result; None when no diagnosis ran (--collect-only)."""
        return self.run.finish() if self._started else None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._signals.restore()
        if not self._started:
            return
        if session.exitstatus == pytest.ExitCode.INTERRUPTED:
            self.run.interrupt(SIGINT)  # no-op when the item already named the signal
        result = self.run.finish()
        self._write_reports(result)
        session.exitstatus = result.exit_code

    def _write_reports(self, result: RunResult) -> None:
        from sage200_doctor.report.files import write_json, write_run_reports

        json_path = self.config.getoption("sage200_json")
        report_dir = self.config.getoption("sage200_report_dir")
        if json_path:
            write_json(result, Path(json_path), self.run.redactor)
        if report_dir:
            write_run_reports(result, Path(report_dir), self.run.redactor)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from sage200_doctor.report.terminal import render_summary

        if self.note:
            terminalreporter.write_line(self.note)
        result = self.finish()
        if result is None:
            count = len(self.run.specs)
            terminalreporter.write_line(
                f"sage200-doctor: {count} checks listed; nothing was diagnosed (--collect-only)."
            )
            return
        color = bool(getattr(terminalreporter, "hasmarkup", False))
        quiet = bool(self.config.getoption("sage200_quiet_summary"))
        text = render_summary(result, color=color, quiet=quiet)
        terminalreporter.write(self.run.redactor.safe_text(text) + "\n")
