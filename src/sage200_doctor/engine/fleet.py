"""Many environments at once: one `DiagnosticRun` per environment of a fleet file, in parallel.

A diagnosis spends its time waiting on the network, so environments run side by side on threads
(each with its own session, gating and redaction); the number at once is a setting, not the CPU
count. Each environment's result is decided by its own engine, exactly as a single run's.

Environments may share a refresh token (one site, several companies): they share one
`SharedCredentials`, so the credential is refreshed once and a token already rotated away is
never presented (`config/shared_credentials.py`); environments sharing an env file also take
turns through its credential lock.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sage200_doctor.config.fleet_file import FleetEnvironment
from sage200_doctor.config.settings import LoadedSettings, load_settings, redactor_for
from sage200_doctor.config.shared_credentials import SharedCredentials
from sage200_doctor.engine.results import CheckResult, Interruption, RunResult
from sage200_doctor.engine.run import DiagnosticRun, RunOptions
from sage200_doctor.http.oauth import TokenGrant
from sage200_doctor.redact import Redactor

DEFAULT_AT_ONCE = 16
_NO_DEFAULT_ENV = Path("/nonexistent/sage200-doctor/.env")


def load_environment(env: FleetEnvironment) -> LoadedSettings:
    # The process environment is shared by every environment of the fleet, so it is not a layer
    # here: an environment's settings are its env file and its inline settings only.
    return load_settings(
        env.env_file, environ={}, overrides=env.settings, default_env_file=_NO_DEFAULT_ENV
    )


class FleetRun:
    """Every environment's diagnosis; keys of results are `<environment>::<check id>`."""

    def __init__(
        self,
        environments: list[FleetEnvironment],
        options: RunOptions | None = None,
        *,
        at_once: int | None = None,
    ) -> None:
        loaded = {env.name: load_environment(env) for env in environments}
        self.runs = {name: DiagnosticRun(settings, options) for name, settings in loaded.items()}
        self.shared_credentials: SharedCredentials[TokenGrant] = SharedCredentials()
        for run in self.runs.values():
            run.diagnosis.shared_credentials = self.shared_credentials
        self.redactor: Redactor = redactor_for(*(s.settings for s in loaded.values()))
        self.at_once = max(1, min(len(self.runs), at_once or DEFAULT_AT_ONCE))
        self._thread: threading.Thread | None = None
        self._results: dict[str, RunResult] | None = None

    @property
    def specs(self) -> list[tuple[str, str]]:
        """(environment, check id) in the order a person reads them."""
        return [(name, spec.id) for name, run in self.runs.items() for spec in run.specs]

    def run(self) -> dict[str, RunResult]:
        with ThreadPoolExecutor(self.at_once, thread_name_prefix="sage200-fleet") as pool:
            done = dict(
                zip(self.runs, pool.map(DiagnosticRun.run, self.runs.values()), strict=True)
            )
        self._results = done
        return done

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="sage200-fleet", daemon=True)
            self._thread.start()

    def result_of(self, key: str) -> CheckResult:
        name, _, check_id = key.partition("::")
        # Each environment starts when a pool thread is free; until then its result waits.
        return self.runs[name].result_of(check_id)

    def wait(self) -> None:
        """Wait for every environment (in short slices, so Ctrl-C reaches the waiter)."""
        while self._thread is not None and self._thread.is_alive() and not self.stopped:
            self._thread.join(0.05)

    @property
    def stopped(self) -> bool:
        return any(run.stopped for run in self.runs.values())

    def interrupt(self, interruption: Interruption) -> None:
        for run in self.runs.values():
            run.interrupt(interruption)

    def finish(self) -> dict[str, RunResult]:
        """Every environment's result; a stopped fleet reports what each had finished."""
        if not self.stopped:
            self.wait()
        return {name: run.finish() for name, run in self.runs.items()}
