"""customers.query_conformance against a company with 100 000 customers.

The emulator runs in its own process with the company's customer count set; the check runs
through the real CLI (`run --only customers.query_conformance`, which brings its prerequisites)
in another. Printed per company size: the check's requests, its own time and the whole run's
wall time, and the peak RSS of the doctor process (from wait4) next to the emulator's. The
doctor's memory must not grow with the company: it holds a 50-customer sample and pages of ids.

    python benchmarks/conformance_large_site.py [--customers 300 100000] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import child_environment, doctor_command, machine, scratch

CHECK = "customers.query_conformance"
# The emulator child: a healthy company with N customers; it prints its env lines, then READY.
EMULATOR = """
import sys
from sage200_doctor.emulator import EmulatorConfig, format_env_lines, serve_forever

def ready(emulator):
    print(format_env_lines(emulator.env()), end="")
    print("READY", flush=True)

serve_forever(
    EmulatorConfig(scenario="large-site", customer_count=int(sys.argv[1])),
    latency_ms=int(sys.argv[2]),
    on_ready=ready,
)
"""


@dataclass(frozen=True)
class Figures:
    customers: int
    requests: int
    check_s: float
    run_s: float
    exit_code: int
    doctor_rss_mb: float
    emulator_rss_mb: float
    outcome: str


def _start_emulator(customers: int, latency_ms: int) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", EMULATOR, str(customers), str(latency_ms)],
        stdout=subprocess.PIPE,
        text=True,
        env=child_environment(),
    )
    stream = process.stdout
    assert stream is not None
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    env_lines: list[str] = []
    while True:
        line = lines.get(timeout=60)
        if line.strip() == "READY":
            return process, "".join(env_lines)
        env_lines.append(line)


def _wait(process: subprocess.Popen[Any]) -> tuple[int, float]:
    """Exit code and peak RSS in MiB of one child, from wait4 (Linux reports KiB)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss / 1024


def measure(customers: int, latency_ms: int, workdir: Path) -> Figures:
    emulator, env_text = _start_emulator(customers, latency_ms)
    try:
        env_file = workdir / f"large-{customers}.env"
        env_file.write_text(env_text, encoding="utf-8")
        env_file.chmod(0o600)
        reports = workdir / f"reports-{customers}"
        command = [*doctor_command(), "run", "--env", str(env_file), "--only", CHECK]
        started = time.perf_counter()
        doctor = subprocess.Popen(
            [*command, "--report-dir", str(reports)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=child_environment(),
        )
        code, doctor_rss = _wait(doctor)
        run_s = time.perf_counter() - started
    finally:
        emulator.send_signal(signal.SIGTERM)
        _, emulator_rss = _wait(emulator)
    report = json.loads((reports / "report.json").read_text(encoding="utf-8"))
    check = next(c for c in report["checks"] if c["id"] == CHECK)
    return Figures(
        customers=customers,
        requests=len(check["evidence"]),
        check_s=check["duration_ms"] / 1000,
        run_s=run_s,
        exit_code=code,
        doctor_rss_mb=doctor_rss,
        emulator_rss_mb=emulator_rss,
        outcome=check["outcome"],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[300, 100_000])
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()
    print(f"# {machine()}")
    print(f"# latency {args.latency_ms} ms per request; {CHECK} via `run --only`")
    print(
        f"{'customers':>10} {'outcome':>8} {'requests':>9} {'check s':>8} {'run s':>7} "
        f"{'doctor peak RSS':>16} {'emulator peak RSS':>18}"
    )
    with scratch("conformance") as directory:
        for customers in args.customers:
            f = measure(customers, args.latency_ms, Path(directory))
            print(
                f"{f.customers:>10} {f.outcome:>8} {f.requests:>9} {f.check_s:>8.2f} "
                f"{f.run_s:>7.2f} {f.doctor_rss_mb:>12.1f} MiB {f.emulator_rss_mb:>14.1f} MiB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
