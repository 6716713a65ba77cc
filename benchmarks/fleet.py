"""Fleet runs: one `sage200-doctor run --fleet FILE` over 1, 10 and 50 environments.

All environments point at one emulator in its own process (`--latency-ms 100`, scenario
healthy). Each environment gets its own env file with the same access token, minted once by
this script: the emulator rotates refresh tokens, so 50 environments cannot share one refresh
token, and the refresh grant is one request of ~50 per environment. token.refresh is therefore
skipped in these runs; every other check runs as in a single-site run.

For each size: wall time (median of interleaved rounds), peak resident memory of the whole
process tree (the controller plus its pytest-xdist workers, sampled every 20 ms), the exit code,
and the ratio to the one-environment fleet. Workers are the command's default:
min(environments, CPUs). Figures are printed; nothing is asserted.

    python benchmarks/fleet.py [--repeat 3] [--sizes 1,10,50] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _common import (
    DEFAULT_LATENCY_MS,
    child_environment,
    children_cpu,
    doctor_command,
    emulator,
    machine,
    scratch,
)

TARGET_RATIO = 6.0  # issue 21 (issue 8 asked for 4)
SAMPLE_EVERY_S = 0.02


def mint_access_token(env: dict[str, str]) -> str:
    """One refresh grant, as the doctor would send it; the new refresh token is not needed."""
    answer = httpx.post(
        env["SAGE200_TOKEN_URL"],
        data={"grant_type": "refresh_token", "refresh_token": env["SAGE200_REFRESH_TOKEN"]},
        auth=(env["SAGE200_CLIENT_ID"], env["SAGE200_CLIENT_SECRET"]),
        timeout=30,
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def write_fleet(folder: Path, env: dict[str, str], token: str, size: int) -> Path:
    """`size` env files (0600: they hold secrets) and the fleet file naming them."""
    folder.mkdir()
    settings = {k: v for k, v in env.items() if k != "SAGE200_REFRESH_TOKEN"}
    settings["SAGE200_ACCESS_TOKEN"] = token
    text = "".join(f"{key}={json.dumps(value)}\n" for key, value in settings.items())
    tables = []
    for number in range(size):
        name = f"site-{number:02d}"
        path = folder / f"{name}.env"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        tables.append(f'[[environment]]\nname = "{name}"\nenv_file = "{path.name}"\n')
    fleet = folder / "fleet.toml"
    fleet.write_text("\n".join(tables), encoding="utf-8")
    return fleet


def _tree_rss_kib(root: int) -> int:
    """Resident memory of `root` and every descendant, from /proc (KiB)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text(encoding="utf-8")
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        parents[pid] = int(fields.get("PPid", "0").strip() or 0)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    return sum(rss.get(pid, 0) for pid in tree)


def _emulator_cpu_s(pid: int) -> float:
    """User + system CPU of the emulator process so far (/proc/PID/stat, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Measured:
    wall: list[float] = field(default_factory=list)
    doctor_cpu: list[float] = field(default_factory=list)
    emulator_cpu: list[float] = field(default_factory=list)
    peak_mib: list[float] = field(default_factory=list)
    exit_codes: set[int] = field(default_factory=set)
    verdicts: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class FleetRun:
    wall: float
    doctor_cpu: float
    """CPU seconds of the controller and its workers (they are waited for, so counted)."""
    peak_mib: float
    code: int
    verdicts: str


def run_fleet(fleet: Path, workers: int | None) -> FleetRun:
    """One fleet run: wall and CPU time, peak MiB of the process tree, exit code, verdicts."""
    report_dir = fleet.parent / "reports"
    cpu_before = children_cpu()
    command = [*doctor_command(), "run", "--fleet", str(fleet), "--report-dir", str(report_dir)]
    if workers is not None:
        command += ["-n", str(workers)]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=fleet.parent,
        env=child_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_kib(process.pid))
            stop.wait(SAMPLE_EVERY_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = process.wait()
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    verdicts = sorted({entry["report"]["verdict"] for entry in report["environments"]})
    cpu = children_cpu() - cpu_before
    return FleetRun(elapsed, cpu, peak / 1024, code, ",".join(verdicts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--latency-ms", type=int, default=DEFAULT_LATENCY_MS)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--workers", type=int, help="pass -n N to every run (default: the command's own default)"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"fleet runs; {machine()}")
    print(
        f"one emulator process (healthy, --latency-ms {args.latency_ms}) behind every environment; "
        f"{args.repeat} measured rounds (+1 warm-up), sizes shuffled each round; workers: "
        + (str(args.workers) if args.workers is not None else "the default of run --fleet")
    )
    measured = {size: Measured() for size in sizes}
    with emulator("healthy", latency_ms=args.latency_ms) as running, scratch("fleet") as work:
        token = mint_access_token(running.env)
        fleets = {
            size: write_fleet(Path(work) / f"fleet-{size}", running.env, token, size)
            for size in sizes
        }
        rng = random.Random(args.seed)
        for round_ in range(args.repeat + 1):
            order = list(sizes)
            rng.shuffle(order)
            for size in order:
                serving_before = _emulator_cpu_s(running.process.pid)
                done = run_fleet(fleets[size], args.workers)
                serving = _emulator_cpu_s(running.process.pid) - serving_before
                if round_ == 0:
                    continue
                entry = measured[size]
                entry.wall.append(done.wall)
                entry.doctor_cpu.append(done.doctor_cpu)
                entry.emulator_cpu.append(serving)
                entry.peak_mib.append(done.peak_mib)
                entry.exit_codes.add(done.code)
                entry.verdicts.add(done.verdicts)
            print(f"  round {round_}/{args.repeat} done", file=sys.stderr, flush=True)
    one = statistics.median(measured[sizes[0]].wall)
    print(
        f"\n{'environments':>12} {'exit':>5} {'verdicts':>9} {'wall s median (min-max)':>26} "
        f"{'per env s':>9} {'doctor CPU s':>12} {'emulator CPU s':>14} {'peak MiB':>9} "
        f"{'x ' + str(sizes[0]) + ' env':>9}"
    )
    for size in sizes:
        entry = measured[size]
        wall = statistics.median(entry.wall)
        print(
            f"{size:>12} {'/'.join(map(str, sorted(entry.exit_codes))):>5} "
            f"{'/'.join(sorted(entry.verdicts)):>9} "
            f"{wall:>10.2f} ({min(entry.wall):.2f}-{max(entry.wall):.2f})      "
            f"{wall / size:>9.2f} {statistics.median(entry.doctor_cpu):>12.2f} "
            f"{statistics.median(entry.emulator_cpu):>14.2f} {max(entry.peak_mib):>9.0f} "
            f"{wall / one:>9.2f}"
        )
    largest = sizes[-1]
    ratio = statistics.median(measured[largest].wall) / one
    cores = len(os.sched_getaffinity(0))
    busy = statistics.median(measured[largest].doctor_cpu) + statistics.median(
        measured[largest].emulator_cpu
    )
    print(
        f"\n{largest} environments need {busy:.1f} s of CPU (doctor + emulator) on {cores} "
        f"cores: at least {busy / cores:.1f} s of wall time however the work is spread."
    )
    print(
        f"target: {largest} environments in at most {TARGET_RATIO:g} x the wall time of "
        f"{sizes[0]}: {ratio:.2f} -> {'met' if ratio <= TARGET_RATIO else 'not met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
