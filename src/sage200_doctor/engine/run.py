"""One diagnosis of one environment: every check in order, one `RunResult`.

This is the only place where outcomes, the root cause, the verdict, the exit code and baseline
acceptance are decided. The command line and the pytest plugin both start a `DiagnosticRun` and
present its results; nothing they do (reordering, deselecting, rerunning, distributing items)
can change what it decides.

The checks run on a thread of their own, so the thread that waits for them (the command line's
main thread, or pytest's) stays free to notice Ctrl-C, SIGTERM or a time limit and stop the run:
`interrupt` ends it at once, except for a refresh grant already on its way, whose rotated token
is saved first (see `control.py`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from sage200_doctor.config.settings import LoadedSettings
from sage200_doctor.engine.baseline import Baseline, apply_baseline
from sage200_doctor.engine.control import RunControl, RunInterrupted
from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.events import CheckFinished, CheckStarted, Observer, RunEvent, Waiting
from sage200_doctor.engine.registry import CheckSpec, all_checks, with_prerequisites
from sage200_doctor.engine.results import CheckResult, Interruption, Outcome, RunResult
from sage200_doctor.engine.runner import internal_error, run_check, send_ahead
from sage200_doctor.engine.warmup import Warmup
from sage200_doctor.errors import ExitCode, UsageError
from sage200_doctor.redact import Redactor, quiet_http_loggers

CRITICAL_GRACE_S = 5.0


def request_deadline(timeout_s: float) -> float:
    """The wall-clock limit of one request. SAGE200_TIMEOUT_S bounds each wait for a byte (a
    silent server is a read timeout); this bounds the whole exchange, so a server that trickles
    one byte at a time cannot hold a run for ever. Longer than the timeout, so a silent server
    is still reported as silent."""
    return timeout_s * 1.5 + 1.0


"""Beyond the request timeout, how long a stopped run waits to save a rotated refresh token."""


@dataclass(frozen=True)
class RunOptions:
    """How to run: which checks, what is accepted, where a rotated token goes."""

    only: tuple[str, ...] = ()
    baseline: Baseline | None = None
    save_rotated: Path | None = None
    check_budget_s: float | None = None
    """A per-check time limit (pytest-timeout's --timeout); exceeded, the run is interrupted."""
    transport: httpx.BaseTransport | None = field(default=None, compare=False)
    """For tests: the transport every request goes through."""
    today: date | None = None
    """For tests: the day baseline acceptances are judged on."""


def select_checks(only: tuple[str, ...]) -> list[CheckSpec]:
    """Every check, or the ones named and what they need, in run order (UsageError if unknown)."""
    specs = all_checks()
    if not only:
        return specs
    try:
        return with_prerequisites(list(only), specs)
    except KeyError as error:
        raise UsageError(f"--only names unknown check(s): {error.args[0]}") from None


class DiagnosticRun:
    """The engine: runs the checks, holds their results, decides the verdict once."""

    def __init__(
        self,
        loaded: LoadedSettings,
        options: RunOptions | None = None,
        *,
        observer: Observer | None = None,
    ) -> None:
        quiet_http_loggers()  # httpx logs full URLs at INFO; we log our own redacted lines
        self.loaded = loaded
        self.options = options or RunOptions()
        self.specs = select_checks(self.options.only)
        self.redactor: Redactor = loaded.settings.redactor()
        self.control = RunControl()
        self._observer = observer
        self._results: dict[str, CheckResult] = {}
        self._changed = threading.Condition()
        self._running: tuple[str, float] | None = None
        self._began = False
        self._finished = False
        self._sealed = False
        self._thread: threading.Thread | None = None
        self._result: RunResult | None = None
        self._finishing = threading.Lock()
        self.started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._started = time.perf_counter()
        self.diagnosis = self._new_diagnosis()

    def _new_diagnosis(self) -> Diagnosis:
        from sage200_doctor.http.session import Session, build_client

        settings = self.loaded.settings

        def client() -> httpx.Client:
            return build_client(
                timeout_s=settings.timeout_s,
                ca_bundle=settings.usable_ca_bundle,
                transport=self.options.transport,
            )

        session = Session(
            client,
            self.redactor,
            concurrency=settings.concurrency,
            deadline_s=request_deadline(settings.timeout_s),
            control=self.control,
        )
        session.on_wait = lambda seconds: self._notify(Waiting(seconds))
        return Diagnosis(
            self.loaded,
            session,
            self.redactor,
            save_rotated=self.options.save_rotated,
            control=self.control,
        )

    # --- running ----------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Run every check in this thread and return the result."""
        self._execute()
        return self.finish()

    def start(self) -> None:
        """Run the checks on a thread of their own; wait with `result_of` or `finish`."""
        with self._changed:
            if self._thread is not None or self._began:
                return
            self._thread = threading.Thread(
                target=self._execute, name="sage200-doctor-engine", daemon=True
            )
        self._thread.start()

    @property
    def started(self) -> bool:
        return self._began

    @property
    def stopped(self) -> bool:
        return self.control.stopped

    def _execute(self) -> None:
        with self._changed:
            if self._began:
                return  # already running (started elsewhere): one diagnosis per run
            self._began = True
            self._changed.notify_all()
        warmup: list[Warmup] = []
        sent_ahead: set[str] = set()

        def ahead() -> None:
            running = self._running[0] if self._running else None
            send_ahead(self.specs, self.diagnosis, self._results, sent_ahead, running=running)

        def waiting() -> None:
            ahead()
            if not warmup:  # the first wave is out: imports no longer delay a request
                warmup.append(Warmup(spec.id for spec in self.specs))

        # While a check waits for an answer, later checks send what each answer that arrives
        # meanwhile lets them build, the moment it arrives (only this thread does).
        self.diagnosis.session.before_waiting = waiting
        self.diagnosis.session.hook_thread = threading.current_thread()
        try:
            for spec in self.specs:
                if self.control.stopped:
                    break
                ahead()
                self._run_one(spec)
        except RunInterrupted:
            pass
        finally:
            for started in warmup:
                started.stop()
            with self._changed:
                self._running = None
                self._finished = True
                self._changed.notify_all()

    def _run_one(self, spec: CheckSpec) -> None:
        self._notify(CheckStarted(spec.id, spec.title))
        with self._changed:
            self._running = (spec.id, time.monotonic())
        try:
            result = run_check(spec, self.diagnosis, self._results)
        except RunInterrupted:
            raise
        except Exception as error:  # outside the check's own body: still a bug, still a result
            result = internal_error(spec, error, self.redactor)
        with self._changed:
            if self._sealed:
                raise RunInterrupted
            self._results[spec.id] = result
            self._running = None
            self._changed.notify_all()
        self._notify(CheckFinished(result))

    def _notify(self, event: RunEvent) -> None:
        if self._observer is not None:
            # Progress display only: a broken display never stops a diagnosis.
            with contextlib.suppress(Exception):
                self._observer(event)

    # --- waiting ----------------------------------------------------------------------------

    def result_of(self, check_id: str) -> CheckResult:
        """Wait for one check's result (the run is started elsewhere: `start`, `run` or a fleet's
        pool). Waits in short slices, so Ctrl-C and signals reach the waiting thread, and applies
        the per-check time limit."""
        with self._changed:
            while not self._settled(check_id):
                self._changed.wait(0.05)
                self._enforce_check_budget()
            if check_id in self._results and not self._sealed:
                return self._results[check_id]
        return self.finish().check(check_id)

    def wait(self) -> None:
        """Wait until every check has run or the run is stopped (a started run only)."""
        with self._changed:
            while self._under_way() and not (self._finished or self.control.stopped):
                self._changed.wait(0.05)
                self._enforce_check_budget()

    def _under_way(self) -> bool:
        """Started here (its thread may not have begun yet) or elsewhere (a fleet's pool)."""
        return self._began or self._thread is not None

    def _settled(self, check_id: str) -> bool:
        return check_id in self._results or self._finished or self.control.stopped

    def _enforce_check_budget(self) -> None:
        budget = self.options.check_budget_s
        if budget is None or self._running is None:
            return
        check_id, since = self._running
        if time.monotonic() - since > budget:
            self.interrupt(
                Interruption(
                    f"the per-test time limit of {budget:g} s (pytest-timeout) ran out "
                    f"while {check_id} was running",
                    exit_code=ExitCode.TIMED_OUT,
                    during=check_id,
                )
            )

    def interrupt(self, interruption: Interruption) -> None:
        """Stop the run: no new check or request; results so far are kept."""
        if interruption.during is None and self._running is not None:
            interruption = replace(interruption, during=self._running[0])
        self.control.interrupt(interruption)

    # --- the result -------------------------------------------------------------------------

    def finish(self) -> RunResult:
        """The run's one result (computed once). A stopped run first waits, bounded, for a
        refresh grant in flight and the write-back of its rotated token."""
        with self._finishing:
            if self._result is None:
                self._result = self._seal()
            return self._result

    def _seal(self) -> RunResult:
        if not self.control.stopped:
            self.wait()
        if self.control.stopped:  # before or while waiting: a grant in flight is still saved
            grace = request_deadline(self.loaded.settings.timeout_s) + CRITICAL_GRACE_S
            self.control.wait_for_critical(grace)
        with self._changed:
            self._sealed = True
            results = dict(self._results)
        self.diagnosis.session.close()
        return self._assemble(results)

    def _assemble(self, results: dict[str, CheckResult]) -> RunResult:
        interruption = self.control.interruption
        checks = [results.get(spec.id) or self._not_run(spec) for spec in self.specs]
        session = self.diagnosis.session
        result = RunResult(
            started_at=self.started_at,
            duration_s=round(time.perf_counter() - self._started, 3),
            environment=self.environment(),
            checks=checks,
            requests={
                "sent": session.request_count,
                "concurrency": self.loaded.settings.concurrency,
                "sent_ahead_unused": session.unused_ahead,
            },
            interruption=interruption if interruption and len(results) < len(self.specs) else None,
            selection=self.options.only,
        )
        baseline = self.options.baseline
        if baseline is not None:
            result = apply_baseline(result, baseline, self.options.today or date.today())
        return result

    def _not_run(self, spec: CheckSpec) -> CheckResult:
        interruption = self.control.interruption
        reason = interruption.reason if interruption else "the run ended before it"
        said = self.diagnosis.said_if_stopped.get(spec.id)
        return CheckResult(
            id=spec.id,
            order=spec.order,
            title=spec.title,
            outcome=Outcome.INTERRUPTED,
            summary=f"Not diagnosed: the run was stopped ({reason})."
            + (f" {said}" if said else ""),
        )

    def environment(self) -> dict[str, Any]:
        """Where the run pointed, redacted once: what every report shows as its environment."""
        summary = self.loaded.settings.environment_summary()
        summary["site_id"] = self.diagnosis.site_id or summary.get("site_id")
        summary["company_id"] = self.diagnosis.company_id or summary.get("company_id")
        redacted: dict[str, Any] = self.redactor.data(summary)
        return redacted
