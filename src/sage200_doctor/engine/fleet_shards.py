"""Big fleets on every core: environments split into shards, each shard a process of its own.

Threads make a fleet's waiting overlap, but one Python process runs Python code on one core at a
time (the GIL), and each environment costs some CPU (judging answers, drawing the generated
queries, redacting evidence). So a fleet with enough environments is split into one shard per
usable core; the first runs in this process, the others each in a child process started with
`spawn` (no fork of a threaded process), each a `FleetRun` of its own on threads. Environments
that share a credential stay in one shard, so their shared refresh grant is still sent once.

A child sends back its `RunResult`s (redacted already) through a pipe. Stopping the fleet sends
each child SIGINT, which stops its runs as Ctrl-C would; it still sends what it had.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from sage200_doctor.config.fleet_file import FleetEnvironment
from sage200_doctor.config.settings import LoadedSettings
from sage200_doctor.engine.results import Interruption, RunResult
from sage200_doctor.errors import ExitCode

if TYPE_CHECKING:
    from sage200_doctor.engine.run import RunOptions

ENVIRONMENTS_PER_SHARD = 4
"""Fewer environments than this per core are not worth a child process (~0.4 s of start-up
against ~0.3 s of CPU per environment)."""


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def shard_count(environments: int, cores: int | None = None) -> int:
    """One shard per core, as long as each gets ENVIRONMENTS_PER_SHARD environments."""
    cores = usable_cores() if cores is None else cores
    return max(1, min(cores, environments // ENVIRONMENTS_PER_SHARD))


def credential_of(name: str, loaded: LoadedSettings) -> tuple[str, ...]:
    """What environments must share a shard for: the same refresh token or env file."""
    settings = loaded.settings
    if settings.refresh_token is None:
        return ("own", name)
    token = settings.refresh_token.reveal().strip()
    return ("refresh", settings.token_url.strip(), token)


def split(
    environments: list[FleetEnvironment], loaded: dict[str, LoadedSettings], count: int
) -> list[list[FleetEnvironment]]:
    """`count` shards of about equal size; environments sharing a credential or an env file
    land together (largest groups first, each to the smallest shard)."""
    groups: dict[tuple[str, ...], list[FleetEnvironment]] = {}
    by_file: dict[Any, tuple[str, ...]] = {}
    for env in environments:
        key = credential_of(env.name, loaded[env.name])
        if env.env_file is not None:
            key = by_file.setdefault(env.env_file.resolve(), key)
        groups.setdefault(key, []).append(env)
    shards: list[list[FleetEnvironment]] = [[] for _ in range(count)]
    for group in sorted(groups.values(), key=len, reverse=True):
        min(shards, key=len).extend(group)
    order = {env.name: n for n, env in enumerate(environments)}
    return [sorted(s, key=lambda e: order[e.name]) for s in shards if s]


def at_once_per_shard(at_once: int, shards: int) -> int:
    return max(1, math.ceil(at_once / shards))


@dataclass
class Shard:
    """A child process diagnosing some of the fleet's environments."""

    names: list[str]
    process: Any
    connection: Connection
    results: dict[str, RunResult] | None = field(default=None)

    def collect(self, timeout_s: float, stopped: Callable[[], bool]) -> dict[str, RunResult]:
        """The child's results, waited for in short slices (None arrived: an empty dict)."""
        deadline = time.monotonic() + timeout_s
        while self.results is None and time.monotonic() < deadline:
            if self.connection.poll(0.05):
                try:
                    self.results = self.connection.recv()
                except (EOFError, OSError):
                    self.results = {}
            elif not self.process.is_alive() and not self.connection.poll(0):
                self.results = {}
            elif stopped():
                deadline = min(deadline, time.monotonic() + 30)
        self.process.join(1)
        return self.results or {}

    def interrupt(self) -> None:
        if self.process.is_alive() and self.process.pid is not None:
            os.kill(self.process.pid, signal.SIGINT)


ShardMain = Callable[[list[FleetEnvironment], "RunOptions | None", int, Connection], None]
"""What the child runs (`engine.fleet.shard_main`): its own fleet, its results sent back."""


def start_shard(
    environments: list[FleetEnvironment],
    options: RunOptions | None,
    at_once: int,
    *,
    target: ShardMain,
) -> Shard:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe(duplex=False)
    process = context.Process(
        target=target,
        args=(environments, options, at_once, theirs),
        name="sage200-fleet-shard",
        daemon=True,
    )
    process.start()
    theirs.close()
    return Shard([env.name for env in environments], process, ours)


STOPPED = Interruption("the fleet was stopped (Ctrl-C or SIGTERM)", exit_code=ExitCode.INTERRUPTED)
