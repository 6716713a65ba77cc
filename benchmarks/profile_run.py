"""Where one `sage200-doctor run` spends its time: imports (-X importtime) and a cProfile run.

Against the healthy emulator in its own process with the same latency as time_to_verdict.py.
The profiler slows Python code down, so its figures are for attribution, not for wall times.

    python benchmarks/profile_run.py [--latency-ms 100] [--scenario healthy] [--top 15]
"""

from __future__ import annotations

import argparse
import io
import pstats
import re
import sys
from collections import defaultdict
from pathlib import Path

from _common import DEFAULT_LATENCY_MS, emulator, machine, scratch, timed

IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)")
# (bucket, file suffix, function): cumulative time of these functions in the profile.
BUCKETS = (
    ("every import (overlaps the rest)", "<frozen importlib._bootstrap>", "_find_and_load"),
    ("pytest config and plugin set-up", "_pytest/config/__init__.py", "_prepareconfig"),
    ("pytest_configure hooks (DoctorRun)", "_pytest/config/__init__.py", "_do_configure"),
    ("  TLS context (certifi roots)", "sage200_doctor/http/session.py", "tls_context"),
    ("checks, run_check (incl. HTTP)", "sage200_doctor/runner.py", "run_check"),
    ("  HTTP round trips (_send_once)", "sage200_doctor/http/session.py", "_send_once"),
    ("    evidence recording (_record)", "sage200_doctor/http/session.py", "_record"),
    ("pytest-html report", "pytest_html/basereport.py", "pytest_sessionfinish"),
    ("junit.xml", "_pytest/junitxml.py", "pytest_sessionfinish"),
    ("report.json", "sage200_doctor/report/json.py", "write_report"),
    ("terminal summary", "sage200_doctor/report/terminal.py", "render_summary"),
)


def run_command(env_file: Path, report_dir: Path) -> list[str]:
    return [
        "-m",
        "sage200_doctor",
        "run",
        "--env",
        str(env_file),
        "--report-dir",
        str(report_dir),
    ]


def import_profile(env_file: Path, workdir: Path, top: int) -> None:
    result = timed([sys.executable, "-X", "importtime", *run_command(env_file, workdir / "imp")])
    by_root: dict[str, int] = defaultdict(int)
    total = 0
    for line in result.stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if match and not match.group(3):  # a top-level import: its cumulative covers the rest
            cumulative = int(match.group(2))
            total += cumulative
            by_root[match.group(4).split(".")[0]] += cumulative
    print(
        f"\n-X importtime: {total / 1000:.0f} ms of imports in a {result.seconds * 1000:.0f} ms run"
    )
    print("(cumulative, by top-level package first imported at top level; a package pulled in")
    print(" by another is counted under the one that imported it first)")
    for name, micros in sorted(by_root.items(), key=lambda item: -item[1])[:top]:
        print(f"  {micros / 1000:7.1f} ms  {name}")


def cprofile(env_file: Path, workdir: Path, top: int) -> None:
    output = workdir / "run.prof"
    result = timed(
        [
            sys.executable,
            "-m",
            "cProfile",
            "-o",
            str(output),
            *run_command(env_file, workdir / "prof"),
        ]
    )
    stats = pstats.Stats(str(output))
    entries = stats.stats  # type: ignore[attr-defined]  # documented by pstats, untyped
    total = max(ct for _cc, _nc, _tt, ct, _callers in entries.values())
    print(
        f"\ncProfile: {total * 1000:.0f} ms profiled ({result.seconds * 1000:.0f} ms wall under the profiler)"
    )
    for label, suffix, function in BUCKETS:
        seconds = sum(
            ct
            for (filename, _line, name), (_cc, _nc, _tt, ct, _callers) in entries.items()
            if name == function and filename.replace("\\", "/").endswith(suffix)
        )
        print(f"  {seconds * 1000:7.0f} ms  {seconds / total:5.1%}  {label}")
    buffer = io.StringIO()
    pstats.Stats(str(output), stream=buffer).sort_stats("tottime").print_stats(top)
    print(f"\ntop {top} functions by own time:")
    print("\n".join(line for line in buffer.getvalue().splitlines()[6:] if line.strip()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=DEFAULT_LATENCY_MS)
    parser.add_argument("--scenario", default="healthy")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    print(f"profile of one run; {machine()}")
    print(f"scenario {args.scenario}, emulator in its own process, --latency-ms {args.latency_ms}")
    with emulator(args.scenario, latency_ms=args.latency_ms) as running, scratch("prof") as tmp:
        workdir = Path(tmp)
        env_file = running.write_env_file(workdir)
        timed([sys.executable, *run_command(env_file, workdir / "warm")])  # warm caches
        import_profile(env_file, workdir, args.top)
        cprofile(env_file, workdir, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
