"""Many environments at once: one `DiagnosticRun` per environment of a fleet file, in parallel.

A diagnosis spends its time waiting on the network, so environments run side by side on threads
(each with its own session, gating and redaction); the number at once is a setting, not the CPU
count. A big fleet is also split across processes, one per core (`fleet_shards.py`), since one
process runs Python on one core at a time. Each environment's result is decided by its own
engine, exactly as a single run's.

Environments may share a refresh token (one site, several companies): they share one
`SharedCredentials`, so the credential is refreshed once and a token already rotated away is
never presented (`config/shared_credentials.py`); environments sharing an env file also take
turns through its credential lock.
"""

from __future__ import annotations

import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path

from sage200_doctor.config.fleet_file import FleetEnvironment
from sage200_doctor.config.settings import LoadedSettings, load_settings, redactor_for
from sage200_doctor.config.shared_credentials import SharedCredentials
from sage200_doctor.engine.fleet_shards import (
    STOPPED,
    Shard,
    at_once_per_shard,
    shard_count,
    split,
    start_shard,
)
from sage200_doctor.engine.results import CheckResult, Interruption, RunResult
from sage200_doctor.engine.run import DiagnosticRun, RunOptions, select_checks
from sage200_doctor.http.oauth import TokenGrant
from sage200_doctor.redact import Redactor

DEFAULT_AT_ONCE = 16
"""Environments diagnosed at once per process: they mostly wait, so many more than cores."""
SHARD_WAIT_S = 3600.0
"""How long the controller waits for a shard's results (a shard's own runs have deadlines)."""
_NO_DEFAULT_ENV = Path("/nonexistent/sage200-doctor/.env")


def load_environment(env: FleetEnvironment) -> LoadedSettings:
    # The process environment is shared by every environment of the fleet, so it is not a layer
    # here: an environment's settings are its env file and its inline settings only.
    return load_settings(
        env.env_file, environ={}, overrides=env.settings, default_env_file=_NO_DEFAULT_ENV
    )


class FleetRun:
    """Every environment's diagnosis; keys of results are `<environment>::<check id>`.

    `processes`: shards on their own cores (`fleet_shards.py`); None chooses from the cores
    and the fleet's size, 1 keeps every environment in this process (needed to watch each
    check's result as it comes, as the pytest plugin does)."""

    def __init__(
        self,
        environments: list[FleetEnvironment],
        options: RunOptions | None = None,
        *,
        at_once: int | None = None,
        processes: int | None = 1,
    ) -> None:
        loaded = {env.name: load_environment(env) for env in environments}
        self.options = options
        self.redactor: Redactor = redactor_for(*(s.settings for s in loaded.values()))
        self.names = [env.name for env in environments]
        count = self._shards_wanted(len(environments), processes)
        shards = split(environments, loaded, count) if count > 1 else [environments]
        per_process = at_once_per_shard(at_once or DEFAULT_AT_ONCE * len(shards), len(shards))
        self.at_once = max(1, min(len(shards[0]), per_process))
        self._remote = shards[1:]
        self.shards: list[Shard] = []
        local = {env.name for env in shards[0]}
        self.runs = {
            name: DiagnosticRun(settings, options)
            for name, settings in loaded.items()
            if name in local
        }
        self.shared_credentials: SharedCredentials[TokenGrant] = SharedCredentials()
        for run in self.runs.values():
            run.diagnosis.shared_credentials = self.shared_credentials
        self._loaded = loaded
        self._environments = {env.name: env for env in environments}
        self._thread: threading.Thread | None = None
        self._results: dict[str, RunResult] | None = None
        self._stopped = False

    def _shards_wanted(self, environments: int, processes: int | None) -> int:
        if self.options is not None and self.options.transport is not None:
            return 1  # a test's transport lives in this process
        return shard_count(environments) if processes is None else max(1, processes)

    @property
    def specs(self) -> list[tuple[str, str]]:
        """(environment, check id) in the order a person reads them."""
        checks = [spec.id for spec in select_checks(self.options.only if self.options else ())]
        return [(name, check_id) for name in self.names for check_id in checks]

    def run(self) -> dict[str, RunResult]:
        self.shards = [
            start_shard(envs, self.options, self.at_once, target=shard_main)
            for envs in self._remote
        ]
        with ThreadPoolExecutor(self.at_once, thread_name_prefix="sage200-fleet") as pool:
            done = dict(
                zip(self.runs, pool.map(DiagnosticRun.run, self.runs.values()), strict=True)
            )
        for shard in self.shards:
            done.update(shard.collect(SHARD_WAIT_S, lambda: self.stopped))
        self._results = self._in_order(done)
        return self._results

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="sage200-fleet", daemon=True)
            self._thread.start()

    def result_of(self, key: str) -> CheckResult:
        name, _, check_id = key.partition("::")
        if name not in self.runs:  # diagnosed in another process: its result comes whole
            return self.finish()[name].check(check_id)
        # Each environment starts when a pool thread is free; until then its result waits.
        return self.runs[name].result_of(check_id)

    def wait(self) -> None:
        """Wait for every environment (in short slices, so Ctrl-C reaches the waiter)."""
        while self._thread is not None and self._thread.is_alive() and not self.stopped:
            self._thread.join(0.05)

    @property
    def stopped(self) -> bool:
        return self._stopped or any(run.stopped for run in self.runs.values())

    def interrupt(self, interruption: Interruption) -> None:
        self._stopped = True
        for run in self.runs.values():
            run.interrupt(interruption)
        for shard in self.shards:
            shard.interrupt()

    def finish(self) -> dict[str, RunResult]:
        """Every environment's result; a stopped fleet reports what each had finished."""
        if not self.stopped:
            self.wait()
        if self._results is not None:
            return self._results
        results = {name: run.finish() for name, run in self.runs.items()}
        for shard in self.shards:
            results.update(shard.collect(SHARD_WAIT_S, lambda: True))
        return self._in_order(results)

    def _in_order(self, results: dict[str, RunResult]) -> dict[str, RunResult]:
        """In the fleet file's order; a shard that could not report: its runs not diagnosed."""
        return {name: results.get(name) or self._not_diagnosed(name) for name in self.names}

    def _not_diagnosed(self, name: str) -> RunResult:
        run = DiagnosticRun(self._loaded[name], self.options)
        run.interrupt(STOPPED)
        return run.finish()


def shard_main(
    environments: list[FleetEnvironment],
    options: RunOptions | None,
    at_once: int,
    connection: Connection,
) -> None:
    """In the child: the shard's own fleet, on threads; its results sent back."""
    fleet = FleetRun(environments, options, at_once=at_once, processes=1)
    fleet.start()
    try:
        fleet.wait()
    except KeyboardInterrupt:
        fleet.interrupt(STOPPED)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second stop must not lose what is known
    connection.send(fleet.finish())
    connection.close()
