"""The diagnostic suite as pytest sees it: one item per check, run in order, gated by the runner.

`DoctorRun` is one run's state (settings, session, results); `DoctorHooks` are the pytest hooks
that are registered only when the plugin is active.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sage200_doctor.diagnosis import Diagnosis
from sage200_doctor.http.session import Session, build_client
from sage200_doctor.redact import Redactor, add_url_credentials, quiet_http_loggers
from sage200_doctor.registry import CheckSpec, all_checks, with_prerequisites
from sage200_doctor.results import CheckResult, Outcome, RunResult
from sage200_doctor.runner import run_check, send_ahead
from sage200_doctor.settings import LoadedSettings, Settings, UsageError, load_settings
from sage200_doctor.warmup import Warmup

SECRET_FIELDS = (
    "client_secret",
    "access_token",
    "authorization",
    "refresh_token",
    "subscription_key",
)


def redactor_for(*environments: Settings) -> Redactor:
    """A redactor that knows every configured secret of these environments, and the Basic
    pair that encodes each client secret."""
    redactor = Redactor()
    for settings in environments:
        add_url_credentials(redactor, settings.raw.values(), environ=os.environ)
        for name in SECRET_FIELDS:
            redactor.add(name, getattr(settings, name))
        if settings.client_id and settings.client_secret:
            redactor.add_basic_credentials(
                settings.client_id.strip(), settings.client_secret.reveal().strip()
            )
    return redactor


def _overrides(pairs: list[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise pytest.UsageError(f"--sage200-set expects KEY=VALUE, got {key!r}")
        overrides[key.strip()] = value
    return overrides


class DoctorRun:
    """One diagnostic run's state, shared by the hooks and the items."""

    def __init__(
        self,
        loaded: LoadedSettings,
        specs: list[CheckSpec],
        *,
        json_path: Path | None,
        save_rotated: Path | None,
        quiet: bool,
    ) -> None:
        quiet_http_loggers()  # httpx logs full URLs at INFO; we log our own redacted lines
        self.redactor = redactor_for(loaded.settings)
        settings = loaded.settings
        client = build_client(
            timeout_s=settings.timeout_s, ca_bundle=_usable_ca(settings.ca_bundle)
        )
        self.diagnosis = Diagnosis(
            loaded,
            Session(client, self.redactor, concurrency=settings.concurrency),
            self.redactor,
            save_rotated=save_rotated,
        )
        self.specs = specs
        self._warmup = Warmup(spec.id for spec in specs)
        self.results: dict[str, CheckResult] = {}
        self._sent_ahead: set[str] = set()
        self._running: str | None = None
        # While a check waits for an answer, later checks may send what the answers that
        # arrived meanwhile let them build.
        self.diagnosis.session.before_waiting = self._send_ahead
        self.json_path = json_path
        self.quiet = quiet
        self.started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._started = time.perf_counter()
        self.result: RunResult | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> DoctorRun:
        env = config.getoption("sage200_env")
        try:
            loaded = load_settings(
                Path(env) if env else None, overrides=_overrides(config.getoption("sage200_set"))
            )
        except UsageError as error:
            raise pytest.UsageError(str(error)) from None
        specs = all_checks()
        only: list[str] = config.getoption("sage200_only")
        if only:
            try:
                specs = with_prerequisites(only, specs)
            except KeyError as error:
                raise pytest.UsageError(f"--only names unknown check(s): {error.args[0]}") from None
        json_value = config.getoption("sage200_json")
        rotated = config.getoption("sage200_save_rotated")
        return cls(
            loaded,
            specs,
            json_path=Path(json_value) if json_value else None,
            save_rotated=Path(rotated) if rotated else None,
            quiet=bool(config.getoption("sage200_quiet_summary")),
        )

    def run(self, spec: CheckSpec) -> CheckResult:
        # Before each check, whatever later checks can already send goes out, so that their
        # answers arrive while this one runs.
        self._send_ahead()
        self._running = spec.id
        result = run_check(spec, self.diagnosis, self.results)
        self._running = None
        self.results[spec.id] = result
        return result

    def _send_ahead(self) -> None:
        send_ahead(
            self.specs, self.diagnosis, self.results, self._sent_ahead, running=self._running
        )

    def finish(self) -> RunResult:
        if self.result is None:
            session = self.diagnosis.session
            session.close()
            self._warmup.stop()
            ordered = [self.results[s.id] for s in self.specs if s.id in self.results]
            self.result = RunResult(
                started_at=self.started_at,
                duration_s=round(time.perf_counter() - self._started, 3),
                environment=self.environment(),
                checks=ordered,
                requests={
                    "sent": session.request_count,
                    "concurrency": self.diagnosis.settings.concurrency,
                    "sent_ahead_unused": session.unused_ahead,
                },
            )
        return self.result

    def environment(self) -> dict[str, Any]:
        settings = self.diagnosis.settings
        summary: dict[str, Any] = {
            "edition": settings.edition,
            "api_base_url": settings.api_base_url,
            "token_url": settings.token_url,
            "site_id": self.diagnosis.site_id or settings.site_id,
            "company_id": self.diagnosis.company_id or settings.company_id,
        }
        return {key: self.redactor.data(value) for key, value in summary.items()}


def _usable_ca(path: str | None) -> str | None:
    # A CA bundle that does not exist is reported by config.values; the client still verifies
    # TLS with the default roots meanwhile (verification is never switched off).
    return path if path and Path(path).is_file() else None


class DiagnosticFailure(Exception):
    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.summary)
        self.result = result


def report_to_pytest(item: pytest.Item, result: CheckResult) -> None:
    """How a check's result becomes a pytest outcome, for one check and for a fleet's alike.

    The outcome and guidance travel as user properties (JUnit, the teststatus hook); failed and
    error checks fail the item, blocked and skipped ones skip it."""
    item.user_properties.append(("outcome", result.outcome.value))
    item.user_properties.extend(("guidance", gid) for gid in result.guidance_ids)
    if result.outcome in (Outcome.FAILED, Outcome.ERROR):
        raise DiagnosticFailure(result)
    if result.outcome is Outcome.BLOCKED:
        pytest.skip(f"blocked by {result.blocked_by}")
    if result.outcome is Outcome.SKIPPED:
        pytest.skip(result.summary)


def describe_failure(
    excinfo: pytest.ExceptionInfo[BaseException], *, prefix: str = "", brief: bool = False
) -> str | None:
    """A failed check as pytest shows it (no traceback); None for any other exception."""
    if not isinstance(excinfo.value, DiagnosticFailure):
        return None
    result = excinfo.value.result
    lines = [f"{prefix}{result.id}: {result.summary}"]
    if not brief and result.details:
        lines.append(result.details)
    if not brief and result.guidance_ids:
        lines.append("guidance: " + ", ".join(result.guidance_ids))
    return "\n".join(lines)


class CheckItem(pytest.Item):
    """One check, as a pytest test item named by the check id."""

    def __init__(self, *, spec: CheckSpec, run: DoctorRun, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.doctor = run

    def runtest(self) -> None:
        report_to_pytest(self, self.doctor.run(self.spec))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return describe_failure(excinfo) or str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.spec.id}: {self.spec.title}"


class DiagnosticSuite(pytest.Collector):
    def __init__(self, *, run: DoctorRun, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.doctor = run

    def collect(self) -> Iterator[CheckItem]:
        for spec in self.doctor.specs:
            yield CheckItem.from_parent(self, name=spec.id, spec=spec, run=self.doctor)


CATEGORIES = {
    Outcome.PASSED: ("passed", "", "PASSED"),
    Outcome.WARNING: ("warned", "", "WARNING"),
    Outcome.FAILED: ("failed", "", "FAILED"),
    Outcome.BLOCKED: ("blocked", "", "BLOCKED"),
    Outcome.SKIPPED: ("skipped", "", "SKIPPED"),
    Outcome.ERROR: ("error", "", "ERROR"),
}


def use_as_collection(session: pytest.Session, items: list[pytest.Item]) -> bool:
    """Make `items` the session's whole collection, still honouring -k/-m and other plugins."""
    config = session.config
    config.hook.pytest_collection_modifyitems(session=session, config=config, items=items)
    session.items = items
    session.testscollected = len(items)
    config.hook.pytest_collection_finish(session=session)
    return True


def doctor_teststatus(report: pytest.TestReport) -> tuple[str, str, str] | None:
    """Our outcomes as pytest categories (no progress letters: the summary says it all)."""
    outcome = dict(report.user_properties).get("outcome") if report.when == "call" else None
    if outcome is None:
        return ("", "", "") if report.passed and report.when != "call" else None
    return CATEGORIES[Outcome(str(outcome))]


class DoctorHooks:
    """The hooks of an active diagnostic run."""

    def __init__(self, run: DoctorRun) -> None:
        self.run = run

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> bool:
        # The diagnostics replace test collection: `pytest --sage200-env FILE` runs the checks,
        # not whatever tests happen to lie in the current directory.
        suite = DiagnosticSuite.from_parent(session, name="sage200-doctor", run=self.run)
        return use_as_collection(session, list(suite.collect()))

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        return doctor_teststatus(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        result = self.run.finish()
        if self.run.json_path is not None:
            from sage200_doctor.report.json import write_report

            write_report(result, self.run.json_path, self.run.redactor)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from sage200_doctor.report.terminal import render_summary

        result = self.run.finish()
        color = bool(getattr(terminalreporter, "hasmarkup", False))
        text = render_summary(result, color=color, quiet=self.run.quiet)
        terminalreporter.write(self.run.redactor.safe_text(text) + "\n")
