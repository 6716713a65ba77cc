"""Big fleets use every core: environments split into shard processes, same verdicts, credentials
that environments share kept in one shard."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

import pytest

from sage200_doctor.config.fleet_file import FleetEnvironment
from sage200_doctor.emulator import format_env_lines, running_emulator
from sage200_doctor.engine.fleet import DEFAULT_AT_ONCE, FleetRun, load_environment
from sage200_doctor.engine.fleet_shards import shard_count, split

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("environments", "cores", "shards"),
    [(1, 2, 1), (3, 2, 1), (8, 2, 2), (50, 2, 2), (50, 8, 8), (10, 8, 2), (50, 1, 1)],
)
def test_one_shard_per_core_when_each_gets_enough_environments(
    environments: int, cores: int, shards: int
) -> None:
    assert shard_count(environments, cores) == shards


def _env(folder: Path, name: str, settings: dict[str, str]) -> FleetEnvironment:
    path = folder / f"{name}.env"
    path.write_text(format_env_lines(settings) + "\n", encoding="utf-8")
    return FleetEnvironment(name, path)


def test_environments_sharing_a_credential_stay_together(tmp_path: Path) -> None:
    with running_emulator("healthy") as one, running_emulator("healthy") as other:
        shared, own = one.env(), other.env()
    envs = [_env(tmp_path, f"shared-{n}", shared) for n in range(3)]
    envs += [_env(tmp_path, f"own-{n}", {**own, "SAGE200_COMPANY_ID": str(n)}) for n in range(5)]
    envs.append(FleetEnvironment("same-file", envs[0].env_file))
    loaded = {env.name: load_environment(env) for env in envs}
    shards = split(envs, loaded, 2)
    holding = [next(n for n, s in enumerate(shards) if e in s) for e in envs]
    assert len({holding[n] for n in (0, 1, 2, 8)}) == 1  # one credential, one env file
    assert sorted(len(shard) for shard in shards) == [4, 5]
    assert sum(map(len, shards)) == len(envs)


def test_workers_are_sized_for_waiting_not_for_cores(tmp_path: Path) -> None:
    with running_emulator("healthy") as emulator:
        env = emulator.env()
    token = env["SAGE200_REFRESH_TOKEN"]
    envs = [
        _env(tmp_path, f"site-{n}", {**env, "SAGE200_REFRESH_TOKEN": f"{token}{n}"})
        for n in range(40)
    ]
    assert FleetRun(envs, processes=1).at_once == DEFAULT_AT_ONCE
    fleet = FleetRun(envs, processes=2)
    assert fleet.at_once == DEFAULT_AT_ONCE  # per process: 32 at once on two cores
    assert len(fleet.runs) == 20  # the other 20 go to the child process


def test_a_sharded_fleet_finds_what_one_process_finds(tmp_path: Path) -> None:
    scenarios = ["healthy", "customers-forbidden", "no-offline-access", "key-missing"] * 2
    with ExitStack() as stack:
        envs = [
            _env(tmp_path, f"env-{n}", stack.enter_context(running_emulator(scenario)).env())
            for n, scenario in enumerate(scenarios)
        ]
        sharded = FleetRun(envs, processes=2)
        apart = sharded.run()
        together = FleetRun(envs, processes=1).run()
    assert [shard.process.pid for shard in sharded.shards] != [os.getpid()]
    assert len(sharded.shards) == 1
    assert len(sharded.runs) == 4
    assert list(apart) == [env.name for env in envs]
    summary = {n: (r.verdict, [(c.id, c.outcome) for c in r.checks]) for n, r in apart.items()}
    assert summary == {
        n: (r.verdict, [(c.id, c.outcome) for c in r.checks]) for n, r in together.items()
    }
