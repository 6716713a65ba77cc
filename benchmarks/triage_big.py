"""The whole `sage200-doctor triage` command on a big capture: wall time, CPU and peak RSS.

Generates the same ~200 MB, 50,000-entry Chrome-shaped capture as `har_big.py` (every tenth entry
a token request, the rest GET customers answered with JSON; 2 % of them 401) in a private
temporary directory, then runs `sage200-doctor triage FILE -q --report-dir DIR` in a child
process and prints its wall time, CPU time and peak RSS (from wait4), next to `--help` (the
interpreter and the command line alone). The target: peak RSS under 300 MiB for the 200 MB
capture, whatever its size: triage keeps bounded evidence, never the exchanges.

    python benchmarks/triage_big.py [--entries 50000] [--target-mb 200] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import child_environment, doctor_command, machine, scratch
from har_big import _entries, write_har


def run_child(args: list[str]) -> tuple[int, float, float, float]:
    """(exit code, wall s, CPU s, peak RSS MiB) of one `sage200-doctor` child."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [*doctor_command(), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=child_environment(),
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--target-mb", type=float, default=200)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"# {machine()}")
    _, wall, cpu, rss = run_child(["--help"])
    print(f"# `sage200-doctor --help`: {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {rss:.1f} MiB")
    with scratch("triage") as directory:
        path = Path(directory) / "big.har"
        started = time.perf_counter()
        body_chars = max(200, int(args.target_mb * 1e6 / args.entries) - 2200)
        write_har(path, _entries(args.entries, body_chars))
        made = time.perf_counter() - started
        reports = Path(directory) / "reports"
        rounds = [
            run_child(["triage", str(path), "-q", "--report-dir", str(reports)])
            for _ in range(args.repeat)
        ]
        report = json.loads((reports / "report.json").read_text(encoding="utf-8"))
        size = path.stat().st_size / 1e6
    code = rounds[-1][0]
    root = (report.get("root_cause") or {}).get("check")
    print(f"{'file MB':>8} {'entries':>8} {'exit':>4} {'wall s':>7} {'CPU s':>6} {'peak RSS':>11}")
    print(
        f"{size:>8.1f} {args.entries:>8,} {code:>4} {statistics.median(r[1] for r in rounds):>7.2f} "
        f"{statistics.median(r[2] for r in rounds):>6.2f} "
        f"{max(r[3] for r in rounds):>7.1f} MiB  (generated in {made:.1f} s; root cause {root})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
