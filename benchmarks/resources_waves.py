"""What api.resources adds to a healthy run: at most one wave of requests, even with a list.

api.resources sends one `GET {resource}?$top=1` per resource. Its GETs are declared `ahead`: they
go out, all at once, as soon as the token and the configured X-Site/X-Company are known, while
earlier checks still wait for their own answers. So reading 8 or 11 resources should cost at most
one more round trip, not one per resource. Two ways of counting, on the same runs:

- **Waves**, from the emulator's own record of when each request arrived (`running_emulator(...,
  record=FILE.har)`, HAR `startedDateTime` to the millisecond). With every answer delayed by
  `--latency-ms` (default 300), a request that needs an earlier answer cannot arrive sooner than
  one latency after it; requests sent together arrive within milliseconds. Sorted by arrival, a
  gap of more than half the latency starts a new wave.
- **Time**: the wall time of the same runs; the difference to the run without api.resources,
  divided by the latency, is the number of round trips it added (noisy; the waves are exact).

Subjects, interleaved in random order each round, each against a fresh emulator (healthy
scenario, in this process; the doctor runs in its own process):

- without api.resources: `run --only` every other check (what the run would be without it);
- default: `run` (one representative resource per module, 11 GETs);
- SAGE200_RESOURCES: `run` with 8 resources listed (the go-live gate).

    python benchmarks/resources_waves.py [--repeat 5] [--latency-ms 300]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
from datetime import datetime
from pathlib import Path

from _common import doctor_command, machine, scratch, spread, timed

from sage200_doctor.emulator import format_env_lines, running_emulator
from sage200_doctor.engine.registry import all_checks

LISTED = "sop_orders,products,nominal_codes,pop_orders,suppliers,banks,price_bands,currencies"
WITHOUT = "without api.resources"
DEFAULT = "default (one per module)"
WITH_LIST = "SAGE200_RESOURCES (8 listed)"


def arrivals(har: Path) -> list[float]:
    """When each request reached the emulator, in seconds, sorted."""
    entries = json.loads(har.read_text(encoding="utf-8"))["log"]["entries"]
    return sorted(datetime.fromisoformat(e["startedDateTime"]).timestamp() for e in entries)


def waves(times: list[float], latency_s: float) -> int:
    """Requests that arrive more than half a latency after the one before start a new wave."""
    if not times:
        return 0
    return 1 + sum(1 for a, b in itertools.pairwise(times) if b - a > latency_s / 2)


def one_run(name: str, workdir: Path, latency_ms: int, round_: int) -> tuple[float, int, int, int]:
    """(wall seconds, waves, requests, exit code) of one subject against a fresh emulator."""
    har = workdir / f"{name[:7]}-{round_}.har".replace(" ", "_")
    with running_emulator("healthy", latency_ms=latency_ms, record=har) as emulator:
        env = emulator.env()
        if name == WITH_LIST:
            env["SAGE200_RESOURCES"] = LISTED
        env_file = workdir / "site.env"
        env_file.write_text(format_env_lines(env) + "\n", encoding="utf-8")
        command = [*doctor_command(), "run", "--env", str(env_file), "-q"]
        command += ["--report-dir", str(workdir / "reports")]
        if name == WITHOUT:
            others = [spec.id for spec in all_checks() if spec.id != "api.resources"]
            command += ["--only", *others]
        result = timed(command, cwd=workdir)
    times = arrivals(har)
    return result.seconds, waves(times, latency_ms / 1000), len(times), result.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="measured rounds (default 5)")
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    print(f"api.resources waves; {machine()}")
    print(
        f"emulator in this process, --latency-ms {args.latency_ms}; {args.repeat} rounds (+1 warm-up)"
    )
    names = [WITHOUT, DEFAULT, WITH_LIST]
    samples: dict[str, list[tuple[float, int, int, int]]] = {name: [] for name in names}
    rng = random.Random(args.seed)
    with scratch("waves") as tmp:
        for round_ in range(args.repeat + 1):
            order = list(names)
            rng.shuffle(order)
            for name in order:
                sample = one_run(name, Path(tmp), args.latency_ms, round_)
                if round_:
                    samples[name].append(sample)
            print(f"  round {round_}/{args.repeat} done", file=sys.stderr, flush=True)
    base_wall = statistics.median(s[0] for s in samples[WITHOUT])
    base_waves = statistics.median(s[1] for s in samples[WITHOUT])
    print(
        f"\n{'subject':<30} {'wall ms median (min-max)':<26} {'waves':<8} {'requests':<9} exit  added"
    )
    for name in names:
        runs = samples[name]
        walls = [s[0] for s in runs]
        wave = statistics.median(s[1] for s in runs)
        counts = sorted({s[2] for s in runs})
        codes = sorted({s[3] for s in runs})
        trips = (statistics.median(walls) - base_wall) / (args.latency_ms / 1000)
        added = f"{wave - base_waves:+.0f} waves, {trips:+.1f} round trips by time"
        print(
            f"{name:<30} {spread(walls):<26} {wave:<8.0f} {'/'.join(map(str, counts)):<9} "
            f"{'/'.join(map(str, codes)):<5} {added}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
