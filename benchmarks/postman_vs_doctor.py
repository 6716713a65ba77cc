"""Ours vs the manual Postman workflow: `sage200-doctor run` vs Newman running the same steps.

Both run against the same emulator (its own process, same latency), side by side in the same
loop, subjects shuffled every round. The collection is benchmarks/postman/; its variables come
from a Postman environment file generated from the emulator's env lines, written to a private
temporary directory (it holds secrets) and deleted at the end. Newman is installed from the npm
registry into benchmarks/node_modules on first use (pinned in benchmarks/package.json).

    python benchmarks/postman_vs_doctor.py [--repeat 7] [--latency-ms 100] [--scenario NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    BENCHMARKS,
    DEFAULT_LATENCY_MS,
    Emulator,
    doctor_command,
    emulator,
    machine,
    median_ms,
    python_bare,
    scratch,
    spread,
    timed,
)

SCENARIOS = ("healthy", "customers-forbidden")
COLLECTION = BENCHMARKS / "postman" / "sage200.postman_collection.json"
NEWMAN = BENCHMARKS / "node_modules" / "newman" / "bin" / "newman.js"
TARGET = 1.0
# Postman variable <- SAGE200_* setting; `True` marks a secret (type "secret" in Postman).
VARIABLES = {
    "baseUrl": ("SAGE200_API_BASE_URL", False),
    "tokenUrl": ("SAGE200_TOKEN_URL", False),
    "clientId": ("SAGE200_CLIENT_ID", False),
    "clientSecret": ("SAGE200_CLIENT_SECRET", True),
    "refreshToken": ("SAGE200_REFRESH_TOKEN", True),
    "subscriptionKey": ("SAGE200_SUBSCRIPTION_KEY", True),
    "siteId": ("SAGE200_SITE_ID", False),
    "companyId": ("SAGE200_COMPANY_ID", False),
    "customerReference": ("SAGE200_CUSTOMER_REFERENCE", False),
}


def ensure_newman() -> list[str]:
    """`node .../newman.js`, installing the pinned Newman from the npm registry if missing."""
    node = shutil.which("node")
    if node is None:
        sys.exit(
            "postman_vs_doctor: Node.js (node, npm) is needed to run Newman; install it first."
        )
    if not NEWMAN.is_file():
        npm = shutil.which("npm")
        if npm is None:
            sys.exit(
                "postman_vs_doctor: npm is needed to install Newman (benchmarks/package.json)."
            )
        print("installing Newman into benchmarks/node_modules (npm install) ...", file=sys.stderr)
        subprocess.run(
            [npm, "install", "--no-package-lock", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=BENCHMARKS,
            check=True,
        )
    return [node, str(NEWMAN)]


def write_postman_environment(running: Emulator, directory: Path) -> Path:
    """A Postman environment file with the emulator's settings, 0600 in a private directory."""
    values = [
        {
            "key": name,
            "value": running.env.get(setting, ""),
            "type": "secret" if secret else "default",
            "enabled": True,
        }
        for name, (setting, secret) in VARIABLES.items()
    ]
    document = {
        "id": str(uuid.uuid4()),
        "name": f"sage200-doctor emulator ({running.scenario}), generated",
        "values": values,
        "_postman_variable_scope": "environment",
    }
    path = directory / f"{running.scenario}.postman_environment.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        json.dump(document, stream)
    return path


@dataclass
class Side:
    """One tool on one scenario: how to run it, and what it did."""

    label: str
    command: list[str]
    running: Emulator | None = None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    served: list[int] = field(default_factory=list)
    exit_codes: set[int] = field(default_factory=set)


def newman_inspection(newman: list[str], environment: Path, workdir: Path) -> dict[str, Any]:
    """One untimed Newman run with the JSON reporter: how many requests and assertions."""
    export = workdir / f"newman-{environment.stem}.json"
    subprocess.run(
        [
            *newman,
            "run",
            str(COLLECTION),
            "-e",
            str(environment),
            "--reporters",
            "json",
            "--reporter-json-export",
            str(export),
        ],
        capture_output=True,
        check=False,
    )
    stats: dict[str, Any] = json.loads(export.read_text(encoding="utf-8"))["run"]["stats"]
    export.unlink()  # it holds the requests as sent, tokens included
    return stats


def doctor_inspection(report_dir: Path) -> tuple[int, int]:
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    checks = [c for c in report["checks"] if c["outcome"] not in ("blocked", "skipped")]
    return len(checks), sum(len(c["evidence"]) for c in report["checks"])


def measure(sides: list[Side], repeat: int, seed: int) -> None:
    # Both tools of a scenario share its emulator: count from where the last subject left it.
    served = {id(s.running): s.running.served_count() for s in sides if s.running}
    rng = random.Random(seed)
    sys.stdout.flush()
    for round_ in range(repeat + 1):  # round 0 warms caches and is not counted
        order = list(sides)
        rng.shuffle(order)
        for side in order:
            result = timed(side.command)
            if side.running is not None:
                count = side.running.served_count()
                if round_:
                    side.served.append(count - served[id(side.running)])
                served[id(side.running)] = count
            if round_:
                side.wall.append(result.seconds)
                side.cpu.append(result.cpu)
                side.exit_codes.add(result.returncode)
        print(f"  round {round_}/{repeat} done", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="measured rounds (default 7)")
    parser.add_argument("--latency-ms", type=int, default=DEFAULT_LATENCY_MS)
    parser.add_argument("--scenario", action="append", help="default: " + ", ".join(SCENARIOS))
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    scenarios = args.scenario or list(SCENARIOS)
    newman = ensure_newman()
    version = subprocess.run([*newman, "--version"], capture_output=True, text=True).stdout.strip()
    node = subprocess.run([newman[0], "--version"], capture_output=True, text=True).stdout.strip()
    print(f"postman vs doctor; {machine()}; Node {node}, Newman {version}")
    print(
        f"emulator: separate process per scenario, --latency-ms {args.latency_ms}; "
        f"{args.repeat} measured rounds (+1 warm-up), subjects shuffled each round"
    )
    with contextlib.ExitStack() as stack, scratch("postman") as tmp:
        workdir = Path(tmp)
        sides = [
            Side("python -c pass", python_bare()),
            Side("node -e 0", [newman[0], "-e", "0"]),
            Side("newman --version (start-up)", [*newman, "--version"]),
        ]
        pairs: dict[str, tuple[Side, Side, dict[str, Any], tuple[int, int]]] = {}
        for name in scenarios:
            running = stack.enter_context(emulator(name, latency_ms=args.latency_ms))
            env_file = running.write_env_file(workdir)
            environment = write_postman_environment(running, workdir)
            report_dir = workdir / f"reports-{name}"
            ours = Side(
                f"sage200-doctor run ({name})",
                [*doctor_command(), "run", "--env", str(env_file), "--report-dir", str(report_dir)],
                running,
            )
            theirs = Side(
                f"newman run ({name})",
                [*newman, "run", str(COLLECTION), "-e", str(environment), "--color", "off"],
                running,
            )
            sides += [ours, theirs]
            stats = newman_inspection(newman, environment, workdir)
            pairs[name] = (ours, theirs, stats, (0, 0))
        measure(sides, args.repeat, args.seed)
        for name, (ours, theirs, stats, _) in pairs.items():
            pairs[name] = (ours, theirs, stats, doctor_inspection(workdir / f"reports-{name}"))
    print()
    for side in sides:
        served = f"  requests {sorted(set(side.served))}" if side.served else ""
        print(
            f"{side.label:<42} {spread(side.wall)} ms wall, {median_ms(side.cpu):5.0f} ms CPU, "
            f"exit {sorted(side.exit_codes)}{served}"
        )
    print(
        f"\n{'scenario':<22} {'ours ms':>8} {'newman ms':>10} {'ours/newman':>12}  what each checked"
    )
    for name, (ours, theirs, stats, (checks_run, exchanges)) in pairs.items():
        ratio = median_ms(ours.wall) / median_ms(theirs.wall)
        paired = sorted(a / b for a, b in zip(ours.wall, theirs.wall, strict=True))
        assertions = stats["assertions"]
        print(
            f"{name:<22} {median_ms(ours.wall):8.0f} {median_ms(theirs.wall):10.0f} "
            f"{ratio:12.2f}  ours: {checks_run} checks run, {exchanges} requests; Newman: "
            f"{stats['requests']['total']} requests, {assertions['total']} assertions "
            f"({assertions['failed']} failed)"
        )
        print(f"{'':<22} per-round ratios {min(paired):.2f}..{max(paired):.2f}")
    print(f"\ntarget: ours/newman < {TARGET} while checking more")
    return 0


if __name__ == "__main__":
    sys.exit(main())
