"""The fleet as pytest sees it: one item per environment and check, named `<env>::<check id>`.

Every item carries an `xdist_group` marker named after its environment, so with
`--dist loadgroup` an environment's checks run in order on one worker, sharing one `DoctorRun`
(created lazily, so its token is refreshed once). Each item attaches its redacted `CheckResult`
as JSON to `user_properties`, which xdist sends to the controller; the controller rebuilds one
`RunResult` per environment in `pytest_runtest_logreport`. Without xdist the same hooks run in
one process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sage200_doctor.config.settings import LoadedSettings, UsageError, load_settings
from sage200_doctor.engine.registry import CheckSpec, all_checks, with_prerequisites
from sage200_doctor.engine.results import CheckResult, Outcome, RunResult
from sage200_doctor.fleet import (
    FleetEnvironment,
    FleetError,
    build_fleet_report,
    load_fleet,
    render_summary,
    result_from_json,
    result_to_json,
    worst_exit_code,
)
from sage200_doctor.redact import Redactor
from sage200_doctor.suite import (
    DoctorRun,
    describe_failure,
    doctor_teststatus,
    redactor_for,
    report_to_pytest,
    use_as_collection,
)

RESULT_PROPERTY = "sage200_result"
ENVIRONMENT_PROPERTY = "sage200_environment"
_NO_DEFAULT_ENV = Path("/nonexistent/sage200-doctor/.env")


def load_environment(env: FleetEnvironment) -> LoadedSettings:
    # The process environment is shared by every environment of the fleet, so it is not a layer
    # here: an environment's settings are its env file and its inline settings only.
    return load_settings(
        env.env_file, environ={}, overrides=env.settings, default_env_file=_NO_DEFAULT_ENV
    )


class FleetHooks:
    """The hooks of a fleet run, on the controller and on every xdist worker."""

    def __init__(self, config: pytest.Config) -> None:
        path = Path(str(config.getoption("sage200_fleet")))
        try:
            self.environments = load_fleet(path)
            self.loaded = {env.name: load_environment(env) for env in self.environments}
        except (FleetError, UsageError) as error:
            raise pytest.UsageError(str(error)) from None
        self.specs = all_checks()
        only: list[str] = config.getoption("sage200_only")
        if only:
            try:
                self.specs = with_prerequisites(only, self.specs)
            except KeyError as error:
                raise pytest.UsageError(f"--only names unknown check(s): {error.args[0]}") from None
        json_value = config.getoption("sage200_json")
        self.json_path = Path(json_value) if json_value else None
        self.is_worker = hasattr(config, "workerinput")
        self.redactor = self._fleet_redactor()
        self.runs: dict[str, DoctorRun] = {}  # worker side, created lazily
        self.results: dict[str, dict[str, CheckResult]] = {e.name: {} for e in self.environments}
        self.summaries: dict[str, dict[str, Any]] = {}
        self.started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._started = time.perf_counter()
        self.merged: dict[str, RunResult] | None = None

    def _fleet_redactor(self) -> Redactor:
        """One redactor that knows every environment's secrets."""
        return redactor_for(*(loaded.settings for loaded in self.loaded.values()))

    def doctor_for(self, name: str) -> DoctorRun:
        if name not in self.runs:
            self.runs[name] = DoctorRun(
                self.loaded[name], self.specs, json_path=None, save_rotated=None, quiet=True
            )
        return self.runs[name]

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> bool:
        items: list[pytest.Item] = []
        for env in self.environments:
            suite = FleetSuite.from_parent(
                session, name=env.name, nodeid=env.name, hooks=self, environment=env.name
            )
            items.extend(suite.collect())
        return use_as_collection(session, items)

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        return doctor_teststatus(report)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker or report.when != "call":
            return
        properties = dict(report.user_properties)
        text = properties.get(RESULT_PROPERTY)
        if not isinstance(text, str):
            return
        name = str(properties[ENVIRONMENT_PROPERTY])
        result = result_from_json(text)
        self.results[name][result.id] = result
        summary = properties.get("sage200_summary")
        if isinstance(summary, str):
            self.summaries[name] = json.loads(summary)

    def finish(self) -> dict[str, RunResult]:
        if self.merged is None:
            duration = round(time.perf_counter() - self._started, 3)
            self.merged = {}
            for env in self.environments:
                results = self.results[env.name]
                self.merged[env.name] = RunResult(
                    started_at=self.started_at,
                    duration_s=duration,
                    environment=self.redactor.data(self.summaries.get(env.name, {})),
                    checks=[results.get(s.id) or _lost(s) for s in self.specs],
                )
        return self.merged

    @property
    def exit_code(self) -> int:
        return worst_exit_code([result.exit_code for result in self.finish().values()])

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        for run in self.runs.values():
            run.diagnosis.session.close()
        if self.is_worker:
            return
        if self.json_path is not None:
            from sage200_doctor.fleet import write_outputs

            write_outputs(build_fleet_report(self.finish(), self.redactor), self.json_path)

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # pytest's junitxml has written its file by now: one testsuite per environment.
        xml_path = getattr(config.option, "xmlpath", None)
        if not self.is_worker and xml_path and Path(xml_path).is_file():
            from sage200_doctor.fleet import split_junit_by_environment

            split_junit_by_environment(Path(xml_path))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        text = render_summary(self.finish())
        terminalreporter.write(self.redactor.safe_text(text) + "\n")


def _lost(spec: CheckSpec) -> CheckResult:
    """A check whose result never reached the controller (a worker crashed, the run was
    interrupted): an error, so the environment can never pass by omission."""
    return CheckResult(
        id=spec.id,
        order=spec.order,
        title=spec.title,
        outcome=Outcome.ERROR,
        summary="No result came back from the pytest-xdist worker that ran this check.",
    )


class FleetItem(pytest.Item):
    """One check of one environment."""

    def __init__(self, *, spec: CheckSpec, hooks: FleetHooks, environment: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.spec = spec
        self.hooks = hooks
        self.environment = environment
        self.add_marker(pytest.mark.xdist_group(name=environment))

    def runtest(self) -> None:
        doctor = self.hooks.doctor_for(self.environment)
        result = doctor.run(self.spec)
        # Before the outcome is raised: the controller rebuilds the environment's report
        # from these, whatever the outcome.
        self.user_properties.append((ENVIRONMENT_PROPERTY, self.environment))
        self.user_properties.append(
            (RESULT_PROPERTY, doctor.redactor.safe_text(result_to_json(result)))
        )
        self.user_properties.append(
            ("sage200_summary", doctor.redactor.safe_text(json.dumps(doctor.environment())))
        )
        report_to_pytest(self, result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        brief = describe_failure(excinfo, prefix=f"{self.environment}::", brief=True)
        return brief or str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.environment}::{self.spec.id}"


class FleetSuite(pytest.Collector):
    def __init__(self, *, hooks: FleetHooks, environment: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hooks = hooks
        self.environment = environment

    def collect(self) -> Iterator[FleetItem]:
        # `--dist loadgroup` schedules by the "@group" suffix of a node id. pytest-xdist adds it
        # by assigning `item._nodeid`, which pytest 9.2 no longer reads, so it is set here.
        suffix = f"@{self.environment}" if getattr(self.config.option, "loadgroup", False) else ""
        for spec in self.hooks.specs:
            yield FleetItem.from_parent(
                self,
                name=spec.id,
                nodeid=f"{self.environment}::{spec.id}{suffix}",
                spec=spec,
                hooks=self.hooks,
                environment=self.environment,
            )
