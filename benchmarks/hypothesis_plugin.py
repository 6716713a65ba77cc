"""What hypothesis's pytest plugin costs an unrelated pytest run, and the workaround.

sage200-doctor needs hypothesis at run time (the conformance search), and hypothesis registers a
pytest plugin (`hypothesispytest`, entry point of the `pytest11` group) that pytest loads into
every run in the same environment, whether the tests use hypothesis or not. Measured here on a
tiny test directory of its own (3 tests that do not use hypothesis), `python -m pytest -q`, side
by side in the same loop (subjects in random order each round); each difference is the median of
the per-round differences:

- default: every installed plugin autoloaded (what a project sees after `pip install
  sage200-doctor` into its own virtual environment);
- `-p no:hypothesispytest`: the same run with hypothesis's plugin blocked (the workaround);
- `--disable-plugin-autoload`: no plugin at all, for scale.

`-X importtime` gives where the plugin's cost goes (hypothesis is imported by its plugin).

    python benchmarks/hypothesis_plugin.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
from pathlib import Path

from _common import isolated_pytest, machine, median_ms, scratch, spread, timed

TINY_TESTS = """\
def test_addition():
    assert 1 + 1 == 2


def test_text():
    assert "sage".upper() == "SAGE"


def test_list():
    assert [1, 2][::-1] == [2, 1]
"""
DEFAULT = "pytest -q (every plugin autoloaded)"
BLOCKED = "pytest -q -p no:hypothesispytest"
NONE = "pytest -q --disable-plugin-autoload"
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)")


def pytest_run(directory: Path, *extra: str) -> list[str]:
    return isolated_pytest(directory, *extra)


def hypothesis_loaded(directory: Path, *extra: str) -> bool:
    """Does this command line load hypothesis's plugin? (`--trace-config` lists plugins.)"""
    result = timed([*pytest_run(directory, *extra), "--trace-config"], cwd=directory)
    return "_hypothesis_pytestplugin" in result.stdout


def plugin_imports_ms(directory: Path) -> str:
    """One `-X importtime` run of the default subject: what hypothesis's plugin imports."""
    command = pytest_run(directory)
    result = timed([command[0], "-X", "importtime", *command[1:]], cwd=directory)
    totals: dict[str, int] = {}
    for match in map(IMPORT_LINE.match, result.stderr.splitlines()):
        if match and not match.group(3):
            root = match.group(4).split(".")[0]
            totals[root] = totals.get(root, 0) + int(match.group(2))
    parts = [
        f"{name} {totals[name] / 1000:.0f} ms"
        for name in ("_hypothesis_pytestplugin", "hypothesis")
        if name in totals
    ]
    return ", ".join(parts) or "hypothesis not imported"


def measure(
    subjects: dict[str, list[str]], directory: Path, repeat: int, seed: int
) -> dict[str, list[tuple[float, float]]]:
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in subjects}
    rng = random.Random(seed)
    for round_ in range(repeat + 1):  # round 0 warms caches and is not counted
        order = list(subjects)
        rng.shuffle(order)
        for name in order:
            result = timed(subjects[name], cwd=directory)
            if result.returncode != 0:
                sys.exit(
                    f"{name} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
                )
            if round_:
                samples[name].append((result.seconds, result.cpu))
        print(f"  round {round_}/{repeat} done", file=sys.stderr, flush=True)
    return samples


def difference(samples: dict[str, list[tuple[float, float]]], a: str, b: str, index: int) -> str:
    deltas = [(x[index] - y[index]) * 1000 for x, y in zip(samples[a], samples[b], strict=True)]
    low, _, high = statistics.quantiles(deltas, n=4)
    return f"{statistics.median(deltas):+7.0f} ms (quartiles {low:+.0f} .. {high:+.0f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="measured rounds (default 15)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    print(f"hypothesis's pytest plugin; {machine()}")
    with scratch("hypothesis-plugin") as tmp:
        directory = Path(tmp)
        (directory / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (directory / "test_tiny.py").write_text(TINY_TESTS, encoding="utf-8")
        loaded = hypothesis_loaded(directory)
        blocked = not hypothesis_loaded(directory, "-p", "no:hypothesispytest")
        print(
            f"hypothesis's plugin loaded by default: {loaded}; blocked by -p no:hypothesispytest: {blocked}"
        )
        subjects = {
            DEFAULT: pytest_run(directory),
            BLOCKED: pytest_run(directory, "-p", "no:hypothesispytest"),
            NONE: pytest_run(directory, "--disable-plugin-autoload"),
        }
        samples = measure(subjects, directory, args.repeat, args.seed)
        imports = plugin_imports_ms(directory)
    print(f"\n{'subject':<40} {'wall ms median (min-max)':<26} cpu ms median, {args.repeat} rounds")
    for name in subjects:
        walls = [wall for wall, _ in samples[name]]
        cpus = [cpu for _, cpu in samples[name]]
        print(f"{name:<40} {spread(walls):<26} {median_ms(cpus):6.0f}")
    print("\nmedian of per-round differences          wall                            cpu")
    for label, a, b in (
        ("hypothesis's plugin (default - blocked)", DEFAULT, BLOCKED),
        ("every plugin (default - none)          ", DEFAULT, NONE),
    ):
        print(f"  {label} {difference(samples, a, b, 0)}  {difference(samples, a, b, 1)}")
    print(f"  imports in the default run (-X importtime, one run): {imports}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
