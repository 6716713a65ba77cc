"""Time to verdict: `sage200-doctor run --env FILE` against the emulator in its own process.

For each scenario: the wall time of a run (median over repeated runs, every subject interleaved
in random order in the same loop), the HTTP requests it made (counted by the emulator's own
request log and by the report's evidence), and the floor:

    floor = (round trips that must happen one after another) x latency + `python -c pass`

The round trips are counted from the requests the run really made (report.json evidence) and
what each one is built from (`data_dependencies`): a request depends on an earlier one only if
it needs that answer (the jwks URI comes from the discovery document, the customer id from the
$filter answer, the minted access token from the refresh grant). The longest such chain is the
floor; the "gated" chain also keeps today's rule that a check starts only after its
prerequisites passed, with independent checks and independent requests running concurrently.

The doctor itself sends requests that need no earlier answer at once (`SAGE200_CONCURRENCY`,
default 16); `--concurrency 1,32` adds subjects with those widths (1: one request at a time).

    python benchmarks/time_to_verdict.py [--repeat 7] [--latency-ms 100] [--scenario NAME ...]
                                         [--concurrency 1,16]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import httpx
from _common import (
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

SCENARIOS = ("healthy", "no-offline-access", "customers-forbidden")
WIDTH = " concurrency="
TARGET = 1.3
BARE = "python -c pass"
FIXED = "run, no requests"


@dataclass(frozen=True)
class Request:
    """One exchange from report.json, in the order the run sent it."""

    index: int
    check: str
    method: str
    path: str
    query: str
    headers: frozenset[str]
    status: int | None
    generated_from: int = 1 << 30
    """Index of the first generated conformance query (from the check's facts)."""
    generated_count: int = 0
    capability_end: int = -1
    """Index of the conformance check's last paging probe: the end of its capability phase."""

    def label(self) -> str:
        where = self.path.rsplit("/accounts/v1/", 1)[-1] if "/accounts/v1/" in self.path else ""
        name = where or self.path
        return f"{self.method} {name}" + (f"?{self.query}" if self.query else "")


def requests_of(report: dict[str, Any]) -> list[Request]:
    requests: list[Request] = []
    for check in report["checks"]:
        generated = _GENERATED.match(str((check.get("facts") or {}).get("generated queries", "")))
        count = int(generated.group(1)) if generated else 0
        # The generated queries are the last `count` requests of the check, but for the smallest
        # wrong query sent once more at the very end when one was found.
        again = 1 if check["id"] == CONFORMANCE and check["outcome"] == "failed" and count else 0
        first_generated = len(requests) + len(check["evidence"]) - count - again
        paging = [
            len(requests) + number
            for number, exchange in enumerate(check["evidence"])
            if _is_paging_query(unquote_plus(urlsplit(exchange["request"]["url"]).query))
        ]
        for exchange in check["evidence"]:
            url = urlsplit(exchange["request"]["url"])
            requests.append(
                Request(
                    index=len(requests),
                    check=check["id"],
                    method=exchange["request"]["method"],
                    path=url.path,
                    query=unquote_plus(url.query),
                    headers=frozenset(h.lower() for h in exchange["request"]["headers"]),
                    status=exchange["response"]["status"],
                    generated_from=first_generated if count else 1 << 30,
                    generated_count=count + again,
                    capability_end=paging[-1] if paging else -1,
                )
            )
    return requests


def data_dependencies(
    request: Request, earlier: list[Request], env: dict[str, str]
) -> list[Request]:
    """The earlier requests whose answers this request is built from (see checks/*.py)."""
    same_check = [r for r in earlier if r.check == request.check]
    previous = earlier[-1] if earlier else None
    # A 429 retry (http/session.py) and the other-edition probe after a 404
    # (checks/sites.py `_explain_not_found`) exist only because of the answer before them.
    if previous and previous.status == 429 and previous.path == request.path:
        return [previous]
    api_path = urlsplit(env.get("SAGE200_API_BASE_URL", "")).path
    if "/uk/" in request.path and api_path and not request.path.startswith(api_path):
        return same_check[-1:]
    if request.path.endswith("/.well-known/openid-configuration"):
        return []  # network.identity: from settings alone
    if request.check == "token.claims":
        # jwks_uri is read from the discovery document (token._verify_signature).
        return [r for r in earlier if r.path.endswith("/.well-known/openid-configuration")][-1:]
    if request.method == "POST":
        # The second refresh (the other client-auth method) is sent only after invalid_client.
        return [r for r in same_check if r.method == "POST"][-1:]
    if request.check == CONFORMANCE and same_check:
        return _conformance_dependencies(request, same_check)
    return _api_dependencies(request, earlier, same_check, env)


CONFORMANCE = "customers.query_conformance"
_GENERATED = re.compile(r"^(\d+) sent")


def _conformance_dependencies(request: Request, same_check: list[Request]) -> list[Request]:
    """checks/conformance.py: the sample first; the bounds and capability probes are built from
    the sample; the documented examples and the generated queries from what the capability
    probes found (string rules, operators, functions, paging); a shrunk query from the one
    before it. Phases are told apart by the report: the last paging probe ends the capability
    phase, and the facts say how many queries were generated."""
    sample = same_check[:1]
    if request.capability_end < 0 or request.index <= request.capability_end:
        return [] if _needs_only_token(request) else sample
    capability = [r for r in same_check[1:] if r.index <= request.capability_end]
    if request.index >= request.generated_from:
        shrinking = request.index > request.generated_from + request.generated_count - 1
        return same_check[-1:] if shrinking else capability
    return capability


def _is_paging_query(query: str) -> bool:
    return "$orderby=id asc" in query and "$skip=" in query and "$filter=" not in query


def _needs_only_token(request: Request) -> bool:
    # $count, the $select/$top limits and $skip without $orderby use no value of the sample.
    return "$filter=" not in request.query and "$orderby=" not in request.query


def _api_dependencies(
    request: Request, earlier: list[Request], same_check: list[Request], env: dict[str, str]
) -> list[Request]:
    deps: list[Request] = []
    supplied_header_try = (
        request.check == "header.authorization"
        and "SAGE200_AUTHORIZATION" in env
        and not same_check
    )
    minted = [r for r in earlier if r.method == "POST" and r.status == 200]
    if "authorization" in request.headers and minted and not supplied_header_try:
        deps.append(minted[-1])  # the access token minted by token.refresh
    if "x-site" in request.headers and not (
        env.get("SAGE200_SITE_ID") and env.get("SAGE200_COMPANY_ID")
    ):
        deps += [r for r in earlier if r.check == "sites.list"][:1]  # the chosen pair
    customers_list = [r for r in earlier if r.check == "customers.list"][:1]
    if request.query.startswith("$filter=reference") and not env.get("SAGE200_CUSTOMER_REFERENCE"):
        deps += customers_list  # a reference picked from the customers list
    if request.check == "customers.filter" and "/customers/" in request.path:
        deps += [r for r in same_check if r.query.startswith("$filter=reference")][-1:]  # its id
    if "contains(" in request.query:
        deps += customers_list  # the needle is cut from a name in the customers list
    return deps


@dataclass(frozen=True)
class Chains:
    requests: int
    data: int  # longest chain of answers needed one after another
    gated: int  # the same, keeping "a check starts after its prerequisites" (concurrent otherwise)
    verdict: int  # data chain over the checks up to and including the root cause
    critical: list[Request]


def chains(report: dict[str, Any], env: dict[str, str]) -> Chains:
    from sage200_doctor.engine.registry import all_checks

    depends = {spec.id: spec.depends for spec in all_checks()}
    order = {spec.id: spec.order for spec in all_checks()}
    requests = requests_of(report)
    depth: dict[int, int] = {}
    gated: dict[int, int] = {}
    via: dict[int, Request | None] = {}
    finished: dict[str, int] = {}
    for check in report["checks"]:
        start = max((finished.get(p, 0) for p in depends.get(check["id"], ())), default=0)
        end = start
        for request in (r for r in requests if r.check == check["id"]):
            deps = data_dependencies(request, requests[: request.index], env)
            parent = max(deps, key=lambda r: depth[r.index], default=None)
            via[request.index] = parent
            depth[request.index] = 1 + (depth[parent.index] if parent else 0)
            gated[request.index] = 1 + max([start, *(gated[d.index] for d in deps)])
            end = max(end, gated[request.index])
        finished[check["id"]] = end
    root = (report.get("root_cause") or {}).get("check")
    upto = order.get(root, max(order.values())) if root else max(order.values())
    in_verdict = [r for r in requests if order[r.check] <= upto]
    return Chains(
        requests=len(requests),
        data=max(depth.values(), default=0),
        gated=max(gated.values(), default=0),
        verdict=max((depth[r.index] for r in in_verdict), default=0),
        critical=_critical_path(depth, via, requests),
    )


def _critical_path(
    depth: dict[int, int], via: dict[int, Request | None], requests: list[Request]
) -> list[Request]:
    if not depth:
        return []
    last: Request | None = requests[max(depth, key=lambda i: (depth[i], -i))]
    path: list[Request] = []
    while last is not None:
        path.append(last)
        last = via[last.index]
    return path[::-1]


def emulator_concurrency(running: Emulator, width: int = 6) -> str:
    """Does the emulator answer concurrent requests concurrently? (The floor assumes it does.)"""
    url = f"{running.base_url}/.well-known/openid-configuration"
    with (
        httpx.Client(limits=httpx.Limits(max_connections=width)) as client,
        concurrent.futures.ThreadPoolExecutor(width) as pool,
    ):
        client.get(url)
        started = time.perf_counter()
        for _ in range(width):
            client.get(url)
        sequential = time.perf_counter() - started
        started = time.perf_counter()
        list(pool.map(lambda _: client.get(url), range(width)))
        concurrent_ = time.perf_counter() - started
    return (
        f"emulator check: {width} GETs one after another {sequential * 1000:.0f} ms, "
        f"{width} at once {concurrent_ * 1000:.0f} ms"
    )


@dataclass
class Subject:
    name: str
    command: list[str]
    emulator: Emulator | None = None
    report: Path | None = None


def build_subjects(
    emulators: dict[str, Emulator], workdir: Path, scenarios: list[str]
) -> list[Subject]:
    subjects = [Subject(BARE, python_bare())]
    first_env = emulators[scenarios[0]].write_env_file(workdir)
    fixed_dir = workdir / "fixed"
    subjects.append(
        Subject(
            FIXED,
            [
                *doctor_command(),
                "run",
                "--env",
                str(first_env),
                "--only",
                "config.complete",
                "--report-dir",
                str(fixed_dir),
            ],
        )
    )
    for name in emulators:
        if name == scenarios[0]:
            env_file = first_env
        else:
            _, _, width = name.partition(WIDTH)
            extra = f"SAGE200_CONCURRENCY={width}\n" if width else ""
            env_file = emulators[name].write_env_file(workdir, name=name, extra=extra)
        report_dir = workdir / f"reports-{name}"
        command = [
            *doctor_command(),
            "run",
            "--env",
            str(env_file),
            "--report-dir",
            str(report_dir),
        ]
        subjects.append(Subject(name, command, emulators[name], report_dir / "report.json"))
    return subjects


@dataclass
class Samples:
    wall: list[float]
    cpu: list[float]
    in_run: list[float]
    served: list[int]
    evidence: list[int]
    exit_codes: set[int]
    report: dict[str, Any] | None = None


def measure(subjects: list[Subject], repeat: int, seed: int) -> dict[str, Samples]:
    samples = {s.name: Samples([], [], [], [], [], set()) for s in subjects}
    served = {s.name: s.emulator.served_count() for s in subjects if s.emulator}
    rng = random.Random(seed)
    sys.stdout.flush()  # progress goes to stderr; keep it after the header
    for round_ in range(repeat + 1):  # round 0 warms caches and is not counted
        order = list(subjects)
        rng.shuffle(order)
        for subject in order:
            result = timed(subject.command)
            if round_ == 0:
                if subject.emulator is not None:
                    served[subject.name] = subject.emulator.served_count()
                continue
            sample = samples[subject.name]
            sample.wall.append(result.seconds)
            sample.cpu.append(result.cpu)
            sample.exit_codes.add(result.returncode)
            if subject.emulator is not None and subject.report is not None:
                count = subject.emulator.served_count()
                sample.served.append(count - served[subject.name])
                served[subject.name] = count
                report = json.loads(subject.report.read_text(encoding="utf-8"))
                sample.report = report
                sample.in_run.append(float(report["duration_s"]))
                sample.evidence.append(sum(len(check["evidence"]) for check in report["checks"]))
        print(f"  round {round_}/{repeat} done", file=sys.stderr, flush=True)
    return samples


def _one(values: list[int]) -> str:
    distinct = sorted(set(values))
    return str(distinct[0]) if len(distinct) == 1 else "/".join(map(str, distinct))


def report_figures(
    subjects: list[Subject], samples: dict[str, Samples], emulators: dict[str, Emulator]
) -> None:
    latency = next(iter(emulators.values())).latency_ms
    bare = median_ms(samples[BARE].wall)
    fixed = median_ms(samples[FIXED].wall)
    print(
        f"\n{BARE:<22} {spread(samples[BARE].wall)} ms wall, {median_ms(samples[BARE].cpu):.0f} ms CPU"
    )
    print(
        f"{FIXED:<22} {spread(samples[FIXED].wall)} ms wall, {median_ms(samples[FIXED].cpu):.0f} ms "
        "CPU  (run --only config.complete)\n"
    )
    header = (
        f"{'scenario':<34} {'exit':>4}  {'wall ms median (min-max)':<26} {'cpu':>5} {'in-run':>7} "
        f"{'requests':>8} {'chain':>5} {'gated':>5} {'floor ms':>8} {'wall/floor':>10}"
    )
    print(header)
    print("-" * len(header))
    details: list[str] = []
    for subject in subjects:
        if subject.emulator is None:
            continue
        sample = samples[subject.name]
        assert sample.report is not None
        found = chains(sample.report, emulators[subject.name].env)
        floor = found.data * latency + bare
        wall = median_ms(sample.wall)
        counts = f"{_one(sample.served)}"
        if set(sample.served) != set(sample.evidence):
            counts += f"!={_one(sample.evidence)}"
        print(
            f"{subject.name:<34} {_one(sorted(sample.exit_codes)):>4}  {spread(sample.wall):<26} "
            f"{median_ms(sample.cpu):5.0f} "
            f"{median_ms(sample.in_run):7.0f} {counts:>8} {found.data:>5} {found.gated:>5} "
            f"{floor:8.0f} {wall / floor:10.2f}"
        )
        root = (sample.report.get("root_cause") or {}).get("check") or "-"
        if len(set(sample.served)) > 1:
            details.append(
                f"WARNING {subject.name}: the number of requests changed between rounds "
                f"({_one(sample.served)}): the product changed during the measurement or its "
                "requests are not deterministic; the chains below are those of the last round."
            )
        count = round(statistics.median(sample.served))
        chain_wait = found.data * latency
        concurrency = (sample.report.get("requests") or {}).get("concurrency", 1)
        unused = len((sample.report.get("requests") or {}).get("sent_ahead_unused", []))
        details.append(
            f"{subject.name}: verdict {sample.report['verdict']} (root cause {root}); "
            f"critical chain ({found.data}): "
            + " -> ".join(r.label() for r in found.critical)
            + f"\n  verdict-only chain {found.verdict}; gated chain {found.gated} "
            f"-> gated floor {found.gated * latency + bare:.0f} ms; "
            f"one at a time, {count} requests would wait {count * latency} ms; "
            f"sent with concurrency {concurrency}, {unused} sent ahead and not needed"
            f"\n  wall {wall:.0f} = bare start {bare:.0f} + fixed run cost {fixed - bare:.0f} "
            f"(imports, pytest, reports) + {wall - fixed:.0f} for the checks, of which the "
            f"chain's own waiting is {chain_wait} ms and the rest is waves of concurrent "
            "requests beyond the chain, client and check work"
        )
    print(f"\ntarget: wall/floor <= {TARGET}\n")
    print("\n".join(details))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="measured rounds (default 7)")
    parser.add_argument("--latency-ms", type=int, default=DEFAULT_LATENCY_MS)
    parser.add_argument("--scenario", action="append", help="default: " + ", ".join(SCENARIOS))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--concurrency",
        default="",
        help="also measure each scenario with these SAGE200_CONCURRENCY values, e.g. 1,16",
    )
    args = parser.parse_args(argv)
    scenarios = args.scenario or list(SCENARIOS)
    widths = [w.strip() for w in args.concurrency.split(",") if w.strip()]
    variants = [*scenarios, *(f"{s}{WIDTH}{w}" for s in scenarios for w in widths)]
    print(f"time to verdict; {machine()}")
    print(
        f"emulator: separate process per scenario, --latency-ms {args.latency_ms}; "
        f"{args.repeat} measured rounds (+1 warm-up), subjects shuffled each round"
    )
    with contextlib.ExitStack() as stack, scratch("ttv") as workdir:
        emulators = {
            name: stack.enter_context(
                emulator(name.partition(WIDTH)[0], latency_ms=args.latency_ms)
            )
            for name in variants
        }
        print(emulator_concurrency(next(iter(emulators.values()))))
        subjects = build_subjects(emulators, Path(workdir), scenarios)
        samples = measure(subjects, args.repeat, args.seed)
        report_figures(subjects, samples, emulators)
    return 0


if __name__ == "__main__":
    sys.exit(main())
