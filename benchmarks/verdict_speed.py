"""A verdict at the speed of the network: every figure of issue 21 from one interleaved loop.

Subjects, each run once per round in a random order (so a busy neighbour hits all alike):

- `python -c pass` (the interpreter's start) and `run --only config.complete` (no request: the
  fixed cost, CPU time is the figure);
- `sage200-doctor run` on each scenario (healthy, no-offline-access, customers-forbidden) at
  each latency (100 and 500 ms: one round trip to Sage's cloud, and a Professional site through
  its tunnel), each against its own emulator process;
- Newman running the manual Postman workflow (benchmarks/postman/) on healthy and
  customers-forbidden at each latency, when Node.js is there (`--no-newman` leaves it out).

For each run of the doctor the emulator's own log (`GET /_emulator/requests`: arrival and answer
time of every request) gives the **waves**: a request's wave is one more than that of the latest
answer that had left before it arrived (`sage200_doctor.emulator.waves`). The **floor** is the
run's data chain (time_to_verdict.py `chains`: the longest run of requests each built from the
answer before) x latency + `python -c pass`. Figures are medians; ratios are of medians taken in
the same loop, with the per-round range. Nothing is asserted.

    python benchmarks/verdict_speed.py [--repeat 7] [--latencies 100,500] [--no-newman]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
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
from time_to_verdict import chains

from sage200_doctor.emulator.waves import count_waves, from_json, wave_sizes

SCENARIOS = ("healthy", "no-offline-access", "customers-forbidden")
NEWMAN_SCENARIOS = ("healthy", "customers-forbidden")
TARGETS = {100: 2.5, 500: 1.3}
NEWMAN_TARGET = 0.8
FIXED_CPU_TARGET_S = 0.3
BEFORE = "before: "
BARE = "python -c pass"
FIXED = "run --only config.complete"


@dataclass
class Subject:
    name: str
    command: list[str]
    running: Emulator | None = None
    report: Path | None = None
    newman: bool = False
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    exits: set[int] = field(default_factory=set)
    waves: list[int] = field(default_factory=list)
    sizes: list[list[int]] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    last_report: dict[str, Any] | None = None


def new_entries(running: Emulator, since: int) -> tuple[list[dict[str, Any]], int]:
    log = running.request_log()
    return log[since:], len(log)


def measure(subjects: list[Subject], repeat: int, seed: int) -> None:
    seen = {id(s.running): len(s.running.request_log()) for s in subjects if s.running}
    rng = random.Random(seed)
    for round_ in range(repeat + 1):  # round 0 warms caches and is not counted
        order = list(subjects)
        rng.shuffle(order)
        for subject in order:
            result = timed(subject.command)
            entries: list[dict[str, Any]] = []
            if subject.running is not None:
                entries, seen[id(subject.running)] = new_entries(
                    subject.running, seen[id(subject.running)]
                )
            if round_ == 0:
                continue
            subject.wall.append(result.seconds)
            subject.cpu.append(result.cpu)
            subject.exits.add(result.returncode)
            if subject.running is not None:
                logged = [e for e in from_json(entries) if e.face != "emulator"]
                subject.waves.append(count_waves(logged))
                subject.sizes.append(wave_sizes(logged))
                subject.requests.append(len(logged))
            if subject.report is not None:
                subject.last_report = json.loads(subject.report.read_text(encoding="utf-8"))
        print(f"  round {round_}/{repeat} done", file=sys.stderr, flush=True)


def doctor_subject(
    running: Emulator, workdir: Path, latency: int, *, doctor: list[str], label: str = ""
) -> Subject:
    name = f"{label}{running.scenario} @{latency}"
    slug = f"{label.strip(': ')}{running.scenario}-{latency}"
    env_file = running.write_env_file(workdir, name=slug)
    reports = workdir / f"reports-{slug}"
    command = [*doctor, "run", "--env", str(env_file), "-q", "--report-dir", str(reports)]
    return Subject(name, command, running, reports / "report.json")


def newman_subject(newman: list[str], running: Emulator, workdir: Path, latency: int) -> Subject:
    from postman_vs_doctor import COLLECTION, write_postman_environment

    folder = workdir / f"postman-{latency}"
    folder.mkdir(exist_ok=True)
    environment = write_postman_environment(running, folder)
    command = [*newman, "run", str(COLLECTION), "-e", str(environment), "--color", "off"]
    return Subject(f"newman {running.scenario} @{latency}", command, running, newman=True)


def _one(values: list[int]) -> str:
    distinct = sorted(set(values))
    return str(distinct[0]) if len(distinct) == 1 else "/".join(map(str, distinct))


def report(subjects: list[Subject], latencies: list[int]) -> None:
    by_name = {s.name: s for s in subjects}
    bare = median_ms(by_name[BARE].wall)
    fixed = by_name[FIXED]
    print(f"\n{BARE:<34} {spread(by_name[BARE].wall)} ms wall")
    print(
        f"{FIXED:<34} {spread(fixed.wall)} ms wall, CPU {median_ms(fixed.cpu):.0f} ms "
        f"(target <= {FIXED_CPU_TARGET_S * 1000:.0f} ms of CPU)\n"
    )
    header = (
        f"{'subject':<34} {'exit':>4} {'wall ms median (min-max)':<24} {'CPU ms':>6} "
        f"{'requests':>8} {'waves':>5} {'wave sizes':<16} {'chain':>5} {'floor ms':>8} "
        f"{'wall/floor':>10} {'target':>6}"
    )
    print(header)
    print("-" * len(header))
    for subject in subjects:
        if subject.running is None or subject.newman:
            continue
        assert subject.last_report is not None
        latency = subject.running.latency_ms
        found = chains(subject.last_report, subject.running.env)
        floor = found.data * latency + bare
        wall = median_ms(subject.wall)
        sizes = "+".join(map(str, subject.sizes[-1]))
        print(
            f"{subject.name:<34} {_one(sorted(subject.exits)):>4} {spread(subject.wall):<24} "
            f"{median_ms(subject.cpu):6.0f} {_one(subject.requests):>8} {_one(subject.waves):>5} "
            f"{sizes:<16} {found.data:>5} {floor:8.0f} {wall / floor:10.2f} "
            f"{TARGETS.get(latency, float('nan')):6.1f}"
        )
    befores = [s for s in subjects if s.name.startswith(BEFORE)]
    if befores:
        print(f"\n{'after / before':<34} {'after ms':>8} {'before ms':>9} {'ratio':>6}")
        for old in befores:
            new = by_name[old.name.removeprefix(BEFORE)]
            print(
                f"{new.name:<34} {median_ms(new.wall):8.0f} {median_ms(old.wall):9.0f} "
                f"{median_ms(new.wall) / median_ms(old.wall):6.2f}"
            )
    newmen = [s for s in subjects if s.newman]
    if not newmen:
        return
    print(f"\n{'ours / Newman':<34} {'ours ms':>8} {'newman ms':>9} {'ratio':>6} per-round")
    for theirs in newmen:
        assert theirs.running is not None
        for label in ("", *([BEFORE] if befores else [])):
            ours = by_name[f"{label}{theirs.running.scenario} @{theirs.running.latency_ms}"]
            _versus(ours, theirs)
    print(f"target at 500 ms: ours/Newman <= {NEWMAN_TARGET}")


def _versus(ours: Subject, theirs: Subject) -> None:
    paired = sorted(a / b for a, b in zip(ours.wall, theirs.wall, strict=True))
    print(
        f"{ours.name:<34} {median_ms(ours.wall):8.0f} {median_ms(theirs.wall):9.0f} "
        f"{median_ms(ours.wall) / median_ms(theirs.wall):6.2f} "
        f"{paired[0]:.2f}..{paired[-1]:.2f}  (Newman: exit {_one(sorted(theirs.exits))}, "
        f"{_one(theirs.requests)} requests, {_one(theirs.waves)} waves)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="measured rounds (default 7)")
    parser.add_argument("--latencies", default="100,500")
    parser.add_argument("--scenario", action="append", help="default: " + ", ".join(SCENARIOS))
    parser.add_argument("--no-newman", action="store_true")
    parser.add_argument(
        "--before",
        metavar="COMMAND",
        help="another sage200-doctor to measure in the same loop (e.g. an older build's "
        "console script); its subjects are labelled 'before:'",
    )
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    latencies = [int(value) for value in args.latencies.split(",")]
    scenarios = args.scenario or list(SCENARIOS)
    newman: list[str] = []
    if not args.no_newman:
        from postman_vs_doctor import ensure_newman

        newman = ensure_newman()
    print(f"verdict speed; {machine()}")
    print(
        f"latencies {latencies} ms, one emulator process per scenario and latency; "
        f"{args.repeat} measured rounds (+1 warm-up), subjects shuffled each round"
    )
    with contextlib.ExitStack() as stack, scratch("speed") as tmp:
        workdir = Path(tmp)
        subjects = [Subject(BARE, python_bare())]
        for latency in latencies:
            for scenario in scenarios:
                running = stack.enter_context(emulator(scenario, latency_ms=latency))
                subjects.append(doctor_subject(running, workdir, latency, doctor=doctor_command()))
                if args.before:
                    before = [args.before]
                    subjects.append(
                        doctor_subject(running, workdir, latency, doctor=before, label=BEFORE)
                    )
                if newman and scenario in NEWMAN_SCENARIOS:
                    subjects.append(newman_subject(newman, running, workdir, latency))
        first = subjects[1].command[subjects[1].command.index("--env") + 1]  # first doctor's
        fixed = [*doctor_command(), "run", "--env", first, "--only", "config.complete", "-q"]
        subjects.append(Subject(FIXED, [*fixed, "--report-dir", str(workdir / "fixed")]))
        measure(subjects, args.repeat, args.seed)
        report(subjects, latencies)
    print(f"\ntargets: wall/floor <= {TARGETS}; ours/Newman <= {NEWMAN_TARGET} at 500 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
