"""Start-up cost: what the plugin adds to an unrelated `pytest --collect-only`, and `checks`.

The plugin is loaded into every pytest run on the machine (pytest11 entry point), so its cost
there must stay small (target: under 150 ms). Measured on a tiny test directory of its own, side
by side in the same loop (subjects in random order each round); each figure is the median of
the per-round differences:

- plugin, isolated: `--disable-plugin-autoload -p sage200_doctor.pytest_plugin.plugin` vs `--disable-plugin-autoload`
  (a quiet baseline, so a few milliseconds are resolvable);
- plugin, everything installed: default autoload vs `-p no:sage200_doctor`;
- install footprint: default autoload vs also blocking the pytest plugins of the packages that
  `pip install sage200-doctor` brings in (its required dependencies, found from their metadata):
  what installing the tool costs every other pytest run on the machine.

`-X importtime` gives the import cost of the plugin module itself.

    python benchmarks/startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
from importlib.metadata import PackageNotFoundError, distribution, entry_points
from pathlib import Path

from _common import (
    doctor_command,
    isolated_pytest,
    machine,
    median_ms,
    python_bare,
    scratch,
    spread,
    timed,
)
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

TARGET_MS = 150.0
TINY_TESTS = """\
def test_addition():
    assert 1 + 1 == 2


def test_text():
    assert "sage".upper() == "SAGE"


class TestGroup:
    def test_member(self):
        assert [1, 2][::-1] == [2, 1]
"""
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)")
QUIET_WITH = "collect-only, no autoload, -p plugin"
QUIET_WITHOUT = "collect-only, no autoload"
FULL_WITH = "collect-only, autoload (plugin loaded)"
FULL_WITHOUT = "collect-only, autoload, -p no:sage200_doctor"
FOOTPRINT = "collect-only, autoload, no sage200-doctor deps"
BARE = "python -c pass"
CHECKS = "sage200-doctor checks"


def pytest_command(directory: Path, *extra: str) -> list[str]:
    return isolated_pytest(directory, "--collect-only", *extra)


def installed_with_us() -> set[str]:
    """sage200-doctor and every distribution its required dependencies pull in (no extras)."""
    seen: set[str] = set()
    pending = ["sage200-doctor"]
    while pending:
        name = canonicalize_name(pending.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return seen


def plugins_from(distributions: set[str]) -> list[str]:
    """The pytest11 plugin names those distributions register."""
    return sorted(
        point.name
        for point in entry_points(group="pytest11")
        if point.dist is not None and canonicalize_name(point.dist.name) in distributions
    )


def plugin_is_loaded(directory: Path, *extra: str) -> bool:
    result = timed([*pytest_command(directory, *extra), "--help"], cwd=directory)
    return "--sage200-env" in result.stdout


def plugin_import_ms(rounds: int) -> float:
    """Median import time of sage200_doctor and its plugin module (pytest already imported)."""
    samples: list[float] = []
    for _ in range(rounds):
        result = timed(
            [
                sys.executable,
                "-X",
                "importtime",
                "-c",
                "import pytest, sage200_doctor.pytest_plugin.plugin",
            ]
        )
        micros = sum(
            int(match.group(2))
            for match in map(IMPORT_LINE.match, result.stderr.splitlines())
            if match and not match.group(3) and match.group(4).startswith("sage200_doctor")
        )
        samples.append(micros / 1000)
    return statistics.median(samples)


def imports_by_package(command: list[str], directory: Path, top: int = 8) -> str:
    """One `-X importtime` run of `command`: the packages whose imports cost the most."""
    result = timed([command[0], "-X", "importtime", *command[1:]], cwd=directory)
    by_root: dict[str, int] = {}
    for match in map(IMPORT_LINE.match, result.stderr.splitlines()):
        if match and not match.group(3):
            root = match.group(4).split(".")[0]
            by_root[root] = by_root.get(root, 0) + int(match.group(2))
    total = sum(by_root.values()) / 1000
    ranked = sorted(by_root.items(), key=lambda item: -item[1])[:top]
    return f"{total:.0f} ms of imports; " + ", ".join(f"{n} {m / 1000:.0f}" for n, m in ranked)


def subjects_for(directory: Path, ours: list[str]) -> dict[str, list[str]]:
    blocked = [arg for name in ours for arg in ("-p", f"no:{name}")]
    return {
        QUIET_WITH: pytest_command(
            directory, "--disable-plugin-autoload", "-p", "sage200_doctor.pytest_plugin.plugin"
        ),
        QUIET_WITHOUT: pytest_command(directory, "--disable-plugin-autoload"),
        FULL_WITH: pytest_command(directory),
        FULL_WITHOUT: pytest_command(directory, "-p", "no:sage200_doctor"),
        FOOTPRINT: pytest_command(directory, *blocked),
        BARE: python_bare(),
        "sage200-doctor --version": [*doctor_command(), "--version"],
        CHECKS: [*doctor_command(), "checks"],
    }


Samples = dict[str, list[float]]


def measure(
    subjects: dict[str, list[str]], directory: Path, repeat: int, seed: int
) -> tuple[Samples, Samples]:
    """Wall and CPU seconds per subject, one sample per round."""
    walls: Samples = {name: [] for name in subjects}
    cpus: Samples = {name: [] for name in subjects}
    rng = random.Random(seed)
    sys.stdout.flush()
    for round_ in range(repeat + 1):  # round 0 warms caches and is not counted
        order = list(subjects)
        rng.shuffle(order)
        for name in order:
            result = timed(subjects[name], cwd=directory)
            if result.returncode != 0:
                sys.exit(f"startup: {name} failed (exit {result.returncode}):\n{result.stderr}")
            if round_:
                walls[name].append(result.seconds)
                cpus[name].append(result.cpu)
        print(f"  round {round_}/{repeat} done", file=sys.stderr, flush=True)
    return walls, cpus


def deltas_ms(samples: Samples, with_: str, without: str) -> list[float]:
    return [(a - b) * 1000 for a, b in zip(samples[with_], samples[without], strict=True)]


def difference(samples: Samples, with_: str, without: str) -> str:
    deltas = deltas_ms(samples, with_, without)
    low, _, high = statistics.quantiles(deltas, n=4)
    return f"{statistics.median(deltas):+8.1f} ms (quartiles {low:+.1f} .. {high:+.1f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="measured rounds (default 15)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    print(f"start-up; {machine()}")
    ours = plugins_from(installed_with_us() - {"pytest", "pluggy"})
    print(
        f"pytest plugins that come with sage200-doctor's required dependencies: {', '.join(ours)}"
    )
    with scratch("startup") as tmp:
        directory = Path(tmp)
        (directory / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (directory / "test_tiny.py").write_text(TINY_TESTS, encoding="utf-8")
        print(
            f"plugin loaded by default: {plugin_is_loaded(directory)}; "
            f"by -p under --disable-plugin-autoload: "
            f"{plugin_is_loaded(directory, '--disable-plugin-autoload', '-p', 'sage200_doctor.pytest_plugin.plugin')}; "
            f"blocked by -p no:sage200_doctor: "
            f"{not plugin_is_loaded(directory, '-p', 'no:sage200_doctor')}"
        )
        subjects = subjects_for(directory, ours)
        walls, cpus = measure(subjects, directory, args.repeat, args.seed)
        footprint = imports_by_package(subjects[FULL_WITH], directory)
    imported = plugin_import_ms(11)
    print(f"\n{'subject':<48} {'wall ms median (min-max)':<26} cpu ms median, {args.repeat} rounds")
    for name in subjects:
        print(f"{name:<48} {spread(walls[name]):<26} {median_ms(cpus[name]):6.0f}")
    print("\nmedian of per-round differences       wall                              cpu")
    for label, with_, without in (
        ("plugin, isolated            ", QUIET_WITH, QUIET_WITHOUT),
        ("plugin, everything installed", FULL_WITH, FULL_WITHOUT),
        ("install footprint           ", FULL_WITH, FOOTPRINT),
    ):
        print(f"  {label} {difference(walls, with_, without)}  {difference(cpus, with_, without)}")
    print(
        f"  where the footprint goes (-X importtime, one run, by top-level package, ms): {footprint}"
    )
    print(
        f"  import of sage200_doctor.pytest_plugin.plugin (-X importtime, median of 11): {imported:.1f} ms"
    )
    isolated = statistics.median(deltas_ms(walls, QUIET_WITH, QUIET_WITHOUT))
    isolated_cpu = statistics.median(deltas_ms(cpus, QUIET_WITH, QUIET_WITHOUT))
    verdict = "met" if max(isolated, isolated_cpu, imported) < TARGET_MS else "NOT met"
    print(f"target: the plugin adds under {TARGET_MS:.0f} ms -> {verdict}")
    print(
        f"{CHECKS}: {median_ms(walls[CHECKS]):.0f} ms median "
        f"({median_ms(cpus[CHECKS]):.0f} ms CPU), "
        f"{median_ms(walls[CHECKS]) / median_ms(walls[BARE]):.1f}x {BARE}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
