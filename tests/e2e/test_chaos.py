"""Chaos: whatever the servers answer, a run ends in a verdict, never in our own failure.

Each seed gives every request, independently, a random fault from emulator/faults.py at
`CHAOS_RATE`, drawn from the seed and the request's identity (method, path, query, the shape of
its headers, and how often that identity came before), never from the order requests arrive
in. Across all seeds, every run must: print no traceback, exit with a contract code other than
5 (5 is our bug), write a report.json that validates, and name as root cause (if any) a real
check that carries guidance. A failing seed is reproducible on its own, whatever order the
requests sent at once arrive in: `sage200-doctor emulate --chaos SEED` serves the same faults,
and the same seed run twice writes the same report.json (bar times and ports).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sage200_doctor.emulator import EmulatorConfig, format_env_lines, running_emulator
from sage200_doctor.emulator.config import with_chaos
from sage200_doctor.emulator.faults import FAULT_KINDS, FaultKind, chaos_plan, request_identity
from sage200_doctor.emulator.scenarios import scenario_config
from sage200_doctor.emulator.tokens import signing_key
from sage200_doctor.engine.registry import all_checks
from sage200_doctor.report.json import validate_report
from tests.e2e.conftest import run_cli

pytestmark = pytest.mark.e2e

SEEDS = range(1, 61)
CHAOS_RATE = 0.2
CLIENT_TIMEOUT_S = 2
WORKERS = 3  # runs are mostly waiting on each other's sockets; three overlap well on 2 CPUs
ALLOWED_EXIT_CODES = {0, 1, 2, 3}  # never 5: that is sage200-doctor breaking


def chaos_config(seed: int) -> EmulatorConfig:
    # A slow answer arrives just after the client gives up; Retry-After: 0 keeps 429s cheap.
    healthy = dataclasses.replace(
        scenario_config("healthy"), slow_fault_s=CLIENT_TIMEOUT_S + 0.5, rate_limit_retry_after_s=0
    )
    return with_chaos(healthy, seed, CHAOS_RATE)


def run_seed(seed: int) -> tuple[list[str], list[FaultKind], dict[str, Any] | None]:
    """Problems found with this seed's run (empty when it kept every promise), the faults
    served, and the report (None when none was written)."""
    with (
        tempfile.TemporaryDirectory(prefix=f"chaos-{seed}-") as workdir,
        running_emulator(chaos_config(seed)) as emulator,
    ):
        cwd = Path(workdir)
        env = {**emulator.env(), "SAGE200_TIMEOUT_S": str(CLIENT_TIMEOUT_S)}
        (cwd / "site.env").write_text(format_env_lines(env), encoding="utf-8")
        run = run_cli(["run", "--env", str(cwd / "site.env")], cwd=cwd)
        faults: list[FaultKind] = [e.fault for e in emulator.request_log if e.fault]  # type: ignore[misc] # logged from FAULT_KINDS
        report_file = run.report_dir / "report.json"
        if not report_file.is_file():
            return [f"exit {run.code}, no report.json:\n{run.stdout}\n{run.stderr}"], faults, None
        return judge(run.code, run.stdout + run.stderr, run.report), faults, run.report


def judge(code: int, output: str, report: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if "Traceback" in output:
        problems.append(f"a traceback was printed:\n{output[-3000:]}")
    if code not in ALLOWED_EXIT_CODES:
        problems.append(f"exit code {code}:\n{output[-3000:]}")
    problems += [f"report.json {line}" for line in validate_report(report)]
    root = report.get("root_cause")
    if isinstance(root, dict):
        known = {spec.id for spec in all_checks()}
        checks = {str(c["id"]): c for c in report["checks"]}
        if root["check"] not in known or root["check"] not in checks:
            problems.append(f"root cause {root['check']!r} is not a check")
        elif not checks[root["check"]]["guidance"] or not root.get("summary"):
            problems.append(f"root cause {root['check']} carries no guidance or summary")
    return problems


def test_every_seed_ends_in_a_verdict_never_in_our_failure() -> None:
    # The emulator's signing key is made on first use behind functools.cache, which does not
    # stop two threads making one each: make it here, before emulators start in parallel.
    signing_key()
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        outcomes = dict(zip(SEEDS, pool.map(run_seed, SEEDS), strict=True))
    failures = {seed: problems for seed, (problems, _, _) in outcomes.items() if problems}
    assert not failures, "\n\n".join(
        f"seed {seed} (reproduce: sage200-doctor emulate --chaos {seed}): " + "; ".join(problems)
        for seed, problems in failures.items()
    )
    served = {kind for _, faults, _ in outcomes.values() for kind in faults}
    assert served == set(FAULT_KINDS), f"never served: {set(FAULT_KINDS) - served}"


REPLAYED_SEEDS = (5, 17)


@pytest.mark.parametrize("seed", REPLAYED_SEEDS)
def test_a_seed_replays_to_the_same_report(seed: int) -> None:
    # Two runs of one seed at once: their requests sent ahead arrive in different orders, yet
    # each request gets the same fault, so the reports agree on everything but times and ports.
    signing_key()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        (first, faults, one), (second, again, two) = pool.map(run_seed, (seed, seed))
    assert not first + second, first + second
    assert faults, f"seed {seed} served no fault: pick another"
    assert sorted(faults) == sorted(again)
    assert one is not None
    assert two is not None
    assert comparable(one) == comparable(two)


_PORT = re.compile(r"(127\.0\.0\.1|localhost):\d+")
_VARYING = {"started_at", "duration_s", "duration_ms", "elapsed_ms"}


def comparable(value: Any) -> Any:
    """A report without what differs from run to run by nature: times, ports, Date headers."""
    if isinstance(value, dict):
        return {
            key: comparable(item)
            for key, item in value.items()
            if key not in _VARYING and key.lower() != "date"
        }
    if isinstance(value, list):
        return [comparable(item) for item in value]
    if isinstance(value, str):
        return _PORT.sub("HOST", value)
    return value


def test_a_requests_fault_depends_on_what_it_asks_not_when_it_arrives() -> None:
    identities = [
        request_identity("GET", f"/uk/sage200extra/accounts/v1/r{n}", "") for n in range(12)
    ]
    plan = chaos_plan(7, 0.5, identities)
    assert plan == chaos_plan(7, 0.5, identities)
    assert plan != chaos_plan(8, 0.5, identities)
    assert list(reversed(plan)) == chaos_plan(7, 0.5, list(reversed(identities)))
    assert chaos_plan(7, 0.0, identities * 4) == [None] * 48
    assert None not in chaos_plan(7, 1.0, identities * 4)
    # The same request again is another attempt (a retry after a 429 gets a fresh roll).
    assert chaos_plan(7, 0.5, [identities[0]] * 20) != [plan[0]] * 20
    # Credentials change every run; their presence and shape make the request, not their value.
    key = request_identity("GET", "/x", "", [("ocp-apim-subscription-key", "a" * 32)])
    assert key == request_identity("GET", "/x", "", [("OCP-APIM-Subscription-Key", "b" * 32)])
    assert key != request_identity("GET", "/x", "")
    bearer = request_identity("GET", "/x", "", [("Authorization", "Bearer " + "t" * 40)])
    assert bearer != request_identity("GET", "/x", "", [("Authorization", "Bearer" + "t" * 40)])


def test_the_emulator_serves_each_request_the_planned_fault() -> None:
    config = dataclasses.replace(chaos_config(7), chaos_rate=0.5)
    paths = [f"/.well-known/openid-configuration?n={n}" for n in range(12)]
    identities = [request_identity("GET", path.split("?")[0], path.split("?")[1]) for path in paths]
    plan = chaos_plan(7, 0.5, identities)
    with running_emulator(config) as emulator, httpx.Client(timeout=1) as http:
        statuses: dict[str, int | str] = {}
        for path in reversed(paths):  # the order does not matter
            http.get(f"{emulator.base_url}/_emulator/config")  # never faulted, draws no dice
            statuses[path] = _outcome(http, emulator.base_url + path)
    expected = {
        None: 200,
        "html-error-page": 502,
        "non-json": 200,
        "truncated-json": 200,
        "huge-body": 200,
        "redirect": 302,
        "status-500": 500,
        "status-502": 502,
        "status-503": 503,
        "status-504": 504,
        "rate-limit-forever": 429,
        "quota-exceeded": 403,
        "reset-mid-body": "RemoteProtocolError",
        "slow": "ReadTimeout",
        "trickle": 200,
    }
    assert [statuses[path] for path in paths] == [expected[kind] for kind in plan]


def _outcome(http: httpx.Client, url: str) -> int | str:
    """The status, or the name of the error; reads at most 1 MB of the body, for at most 2 s
    (a trickled body never ends)."""
    try:
        with http.stream("GET", url) as answer:
            read, began = 0, time.monotonic()
            for chunk in answer.iter_bytes():
                read += len(chunk)
                if read > 1_000_000 or time.monotonic() - began > 2:
                    break
            return answer.status_code
    except httpx.HTTPError as error:
        return type(error).__name__


def test_with_chaos_leaves_a_config_alone_without_a_seed() -> None:
    healthy = scenario_config("healthy")
    assert with_chaos(healthy, None) is healthy
    chaotic = with_chaos(healthy, 3)
    assert (chaotic.chaos_seed, chaotic.chaos_rate) == (3, healthy.chaos_rate)
    assert with_chaos(healthy, 3, 0.5).chaos_rate == 0.5
