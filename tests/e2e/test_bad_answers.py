"""Bad server answers become one clear finding, never a traceback (docs/hostile-world.md).

Every fault the emulator can inject (emulator/faults.py), on the identity face and on the two
API routes a run depends on (sites, customers), through the real CLI over real HTTP: the exit
code is the contract's, the root cause says what came back, and report.json is valid.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import httpx
import pytest

from sage200_doctor.emulator import EmulatorConfig, format_env_lines, running_emulator
from sage200_doctor.emulator.faults import (
    FAULT_KINDS,
    HUGE_BODY_BYTES,
    FaultRule,
    parse_fault_rule,
)
from sage200_doctor.emulator.scenarios import scenario_config
from sage200_doctor.http import session as session_module
from sage200_doctor.http.session import Session, build_client
from sage200_doctor.redact import Redactor
from sage200_doctor.report.json import validate_report
from tests.e2e.conftest import CliRun, run_cli

pytestmark = pytest.mark.e2e

CLIENT_TIMEOUT_S = 2
SLOW_S = CLIENT_TIMEOUT_S + 1.5

TARGETS: dict[str, FaultRule] = {
    "identity": FaultRule(kind="status-500", face="identity"),
    "sites": FaultRule(kind="status-500", face="api", path=r"/sites$"),
    "customers": FaultRule(kind="status-500", face="api", path=r"/customers"),
}
# What the finding must say came back, for each fault.
SAYS: dict[str, tuple[str, ...]] = {
    "html-error-page": ("HTTP 502", 'HTML page titled "502 Bad Gateway"'),
    "non-json": ("XML body, not JSON",),
    "truncated-json": ("JSON that is cut short",),
    "huge-body": ("larger than 2 MB", "cut short"),
    "redirect": ("redirect to https://portal.proxy.invalid/login", "not followed"),
    "status-500": ("HTTP 500",),
    "status-502": ("HTTP 502",),
    "status-503": ("HTTP 503",),
    "status-504": ("HTTP 504",),
    "rate-limit-forever": ("HTTP 429",),
    "quota-exceeded": ("HTTP 403",),
    "reset-mid-body": ("closed in the middle of the answer",),
    "slow": ("did not answer in time",),
    "trickle": ("was still answering",),
}
NO_ANSWER = {"reset-mid-body", "slow", "trickle"}
GATEWAY_LIMITS = {"rate-limit-forever", "quota-exceeded"}


def config_with(*rules: FaultRule, **settings: object) -> EmulatorConfig:
    # Retry-After: 0 keeps the matrix fast; the rate-limit test below waits for real.
    chosen: dict[str, object] = {"slow_fault_s": SLOW_S, "rate_limit_retry_after_s": 0}
    return dataclasses.replace(scenario_config("healthy"), faults=rules, **{**chosen, **settings})


def run_against(config: EmulatorConfig, tmp_path: Path) -> CliRun:
    """`sage200-doctor run --env FILE` against an emulator serving `config`; stopped after."""
    with running_emulator(config) as emulator:
        env_file = tmp_path / "site.env"
        env = {**emulator.env(), "SAGE200_TIMEOUT_S": str(CLIENT_TIMEOUT_S)}
        env_file.write_text(format_env_lines(env), encoding="utf-8")
        run = run_cli(["run", "--env", str(env_file)], cwd=tmp_path)
    assert "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr
    assert run.code in (0, 1, 2, 3), run.stdout + run.stderr
    assert validate_report(run.report) == []
    return run


def root_cause(run: CliRun) -> dict[str, object]:
    root = run.report["root_cause"]
    assert root is not None, run.stdout
    entry = run.check(root["check"])
    assert entry["guidance"], entry
    return entry


def expected_root(kind: str, target: str) -> tuple[int, str]:
    if target == "identity":
        # The discovery document is the identity face's first request; any answer proves reach.
        return (3, "network.identity") if kind in NO_ANSWER else (1, "token.refresh")
    if target == "sites":
        # The gateway check is the first to ask for sites (without a token, on purpose); a
        # gateway limit there is its finding too (the allowance, not the key or the role).
        first = kind in NO_ANSWER or kind in GATEWAY_LIMITS
        return (1, "gateway.subscription_key") if first else (1, "sites.list")
    return 1, "customers.list"


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_a_bad_answer_is_one_clear_finding(kind: str, target: str, tmp_path: Path) -> None:
    rule = dataclasses.replace(TARGETS[target], kind=kind)
    run = run_against(config_with(rule), tmp_path)
    code, check_id = expected_root(kind, target)
    assert run.code == code, run.stdout
    entry = root_cause(run)
    assert entry["id"] == check_id, run.stdout
    said = f"{entry['summary']} {entry['details']}"
    for phrase in SAYS[kind]:
        assert phrase in said, said
    assert check_id in run.stdout  # the terminal names it too


@pytest.mark.parametrize("kind", ["reset-mid-body", "slow", "trickle"])
def test_no_answer_from_the_api_host_means_unreachable(kind: str, tmp_path: Path) -> None:
    run = run_against(config_with(FaultRule(kind=kind, face="api")), tmp_path)
    assert run.code == 3, run.stdout
    entry = root_cause(run)
    assert entry["id"] == "network.api"
    assert SAYS[kind][0] in entry["summary"]


def test_a_huge_body_is_read_capped_and_streamed(tmp_path: Path) -> None:
    started = time.monotonic()
    run = run_against(
        config_with(FaultRule(kind="huge-body", face="api", path="/sites$")), tmp_path
    )
    assert time.monotonic() - started < 30  # 64 MB were offered; 2 MB were read
    entry = root_cause(run)
    assert entry["id"] == "sites.list"
    assert "only the first 2 MB were read" in str(entry["summary"])
    evidence = entry["evidence"][-1]
    assert evidence["response"]["status"] == 200
    assert len(evidence["response"]["body"]) <= session_module.EXCERPT_CHARS + 10
    assert HUGE_BODY_BYTES > 10 * session_module.MAX_BODY_BYTES


def test_a_redirect_is_a_finding_and_never_followed(tmp_path: Path) -> None:
    config = config_with(FaultRule(kind="redirect", face="api", path="/customers"))
    with running_emulator(config) as emulator:
        env_file = tmp_path / "site.env"
        env_file.write_text(format_env_lines(emulator.env()), encoding="utf-8")
        run = run_cli(["run", "--env", str(env_file)], cwd=tmp_path)
        log = emulator.request_log
    assert run.code == 1
    entry = root_cause(run)
    assert entry["id"] == "customers.list"
    assert "never follows redirects" in str(entry["details"])
    assert not [request for request in log if "portal" in request.path]  # nowhere else asked


def test_rate_limits_are_waited_out_within_bounds_then_reported(tmp_path: Path) -> None:
    config = config_with(
        FaultRule(kind="rate-limit-forever", face="api", path="/customers"),
        rate_limit_retry_after_s=1,
    )
    started = time.monotonic()
    run = run_against(config, tmp_path)
    elapsed = time.monotonic() - started
    entry = root_cause(run)
    assert entry["id"] == "customers.list"
    assert "stayed limited by the API gateway's rate limit" in str(entry["summary"])
    assert "resets in 1 s" in str(entry["details"])
    assert [g["id"] for g in entry["guidance"]] == ["guide.gateway.limits"]
    assert f"still after {session_module.MAX_RETRIES} retries" in str(entry["summary"])
    assert len(entry["evidence"]) == session_module.MAX_RETRIES + 1
    assert elapsed < 30


def test_one_run_waits_for_rate_limits_within_a_total_cap() -> None:
    slept: list[float] = []
    limited = httpx.MockTransport(lambda request: httpx.Response(429, headers={"Retry-After": "5"}))
    session = Session(
        build_client(timeout_s=2, ca_bundle=None, transport=limited), Redactor(), sleep=slept.append
    )
    answers = [session.request("GET", f"https://api.test/{n}") for n in range(10)]
    assert sum(slept) <= session_module.RUN_RETRY_BUDGET_S
    assert all(answer.status == 429 for answer in answers)
    assert answers[-1].retries == 0  # the run's budget is spent: no more waiting


# The emulator side: rules, parsing, what each fault puts on the wire.


def test_rules_are_validated_and_parsed() -> None:
    assert parse_fault_rule("status-503@api:/sites$") == FaultRule("status-503", "api", "/sites$")
    assert parse_fault_rule("slow") == FaultRule("slow")
    with pytest.raises(ValueError, match="unknown fault"):
        parse_fault_rule("status-418")
    with pytest.raises(ValueError, match="unknown face"):
        FaultRule("slow", "gateway")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="regular expression"):
        FaultRule("slow", "api", "(")
    with pytest.raises(ValueError, match="chaos_rate"):
        EmulatorConfig(chaos_rate=1.5)


def test_faults_answer_on_the_wire_as_documented() -> None:
    rules = (
        FaultRule("html-error-page", "identity", "/jwks"),
        FaultRule("redirect", "api", "/sites$"),
        FaultRule("rate-limit-forever", "api", "/customers"),
        FaultRule("truncated-json", "any", "/openid-configuration"),
    )
    with running_emulator(config_with(*rules)) as emulator, httpx.Client() as http:
        base = emulator.base_url
        api = emulator.env()["SAGE200_API_BASE_URL"]
        page = http.get(f"{base}/.well-known/jwks.json")
        assert page.status_code == 502
        assert page.headers["content-type"].startswith("text/html")
        moved = http.get(f"{api}sites")
        assert moved.status_code == 302
        assert moved.headers["location"].startswith("https://portal.proxy.invalid/login")
        limited = http.get(f"{api}customers")
        assert (limited.status_code, limited.headers["retry-after"]) == (429, "0")
        cut = http.get(f"{base}/.well-known/openid-configuration")
        assert cut.status_code == 200
        with pytest.raises(ValueError, match="Unterminated string"):
            cut.json()
        settings = http.get(f"{base}/_emulator/config").json()["settings"]  # never faulted
        assert settings["faults"][0] == {
            "kind": "html-error-page",
            "face": "identity",
            "path": "/jwks",
        }
        log = emulator.request_log
    statuses = [(entry.path, entry.status) for entry in log if not entry.path.startswith("/_")]
    assert statuses[:3] == [
        ("/.well-known/jwks.json", 502),
        ("/uk/sage200extra/accounts/v1/sites", 302),
        ("/uk/sage200extra/accounts/v1/customers", 429),
    ]


def test_a_slow_answer_still_comes_for_a_patient_client() -> None:
    config = config_with(FaultRule("slow", "identity", "/jwks"), slow_fault_s=0.3)
    with running_emulator(config) as emulator, httpx.Client(timeout=5) as http:
        started = time.monotonic()
        answer = http.get(f"{emulator.base_url}/.well-known/jwks.json")
        assert answer.status_code == 200
        assert "keys" in answer.json()
        assert time.monotonic() - started >= 0.3
