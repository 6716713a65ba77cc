"""Gating and outcome mapping, without pytest or a network."""

from __future__ import annotations

from typing import Any

import httpx

from sage200_doctor.config.settings import load_settings
from sage200_doctor.engine.diagnosis import Diagnosis
from sage200_doctor.engine.registry import CheckSpec, fail, skip, warn
from sage200_doctor.engine.results import CheckResult, Outcome, RunResult, Verdict
from sage200_doctor.engine.runner import run_check, send_ahead
from sage200_doctor.http.session import Session, build_client
from sage200_doctor.redact import Redactor


def _diagnosis(tmp_path: Any) -> Diagnosis:
    loaded = load_settings(None, environ={}, default_env_file=tmp_path / "absent.env")
    client = build_client(
        timeout_s=1, ca_bundle=None, transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    redactor = Redactor()
    return Diagnosis(loaded, Session(client, redactor), redactor)


def _spec(check_id: str, function: Any, depends: tuple[str, ...] = ()) -> CheckSpec:
    return CheckSpec(check_id, 1, check_id, "", depends, ("guide.config",), function)


def test_a_failed_prerequisite_blocks_and_is_named(tmp_path: Any) -> None:
    done = {"a": CheckResult("a", 1, "a", Outcome.FAILED)}
    result = run_check(_spec("b", lambda run: "ok", ("a",)), _diagnosis(tmp_path), done)
    assert result.outcome is Outcome.BLOCKED
    assert result.blocked_by == "a"


def test_skipped_and_warning_prerequisites_do_not_block(tmp_path: Any) -> None:
    for outcome in (Outcome.SKIPPED, Outcome.WARNING, Outcome.PASSED):
        done = {"a": CheckResult("a", 1, "a", outcome)}
        assert (
            run_check(_spec("b", lambda run: "ok", ("a",)), _diagnosis(tmp_path), done).outcome
            is Outcome.PASSED
        )


def test_findings_become_outcomes_with_guidance(tmp_path: Any) -> None:
    def failing(run: Diagnosis) -> None:
        fail("broken", detail="why", guidance=("faq.errors.401",))

    result = run_check(_spec("c", failing), _diagnosis(tmp_path), {})
    assert (result.outcome, result.summary, result.details) == (Outcome.FAILED, "broken", "why")
    assert result.guidance_ids == ("faq.errors.401",)
    warned = run_check(_spec("w", lambda run: warn("hm")), _diagnosis(tmp_path), {})
    assert warned.outcome is Outcome.WARNING
    assert warned.guidance_ids == ("guide.config",)  # the check's own guidance by default
    skipped = run_check(_spec("s", lambda run: skip("n/a")), _diagnosis(tmp_path), {})
    assert skipped.outcome is Outcome.SKIPPED
    assert skipped.guidance_ids == ()


def test_an_unexpected_exception_is_an_error_asking_for_a_report(tmp_path: Any) -> None:
    def broken(run: Diagnosis) -> None:
        raise ZeroDivisionError("secret-value-in-message")

    result = run_check(_spec("x", broken), _diagnosis(tmp_path), {})
    assert result.outcome is Outcome.ERROR
    assert "report it" in result.summary
    assert "secret-value-in-message" not in result.summary + result.details


def _run(*outcomes: tuple[str, Outcome]) -> RunResult:
    checks = [CheckResult(cid, i, cid, outcome) for i, (cid, outcome) in enumerate(outcomes)]
    return RunResult("2026-01-01T00:00:00Z", 0.1, {}, checks)


def test_verdicts_and_exit_codes() -> None:
    assert _run(("a", Outcome.PASSED), ("b", Outcome.WARNING)).exit_code == 0
    assert (
        _run(("config.values", Outcome.FAILED), ("x", Outcome.BLOCKED)).verdict
        is Verdict.CONFIG_ERROR
    )
    assert _run(("network.api", Outcome.FAILED)).exit_code == 3
    failed = _run(("token.scope", Outcome.FAILED), ("sites.list", Outcome.FAILED))
    assert failed.exit_code == 1
    assert failed.root_cause is not None
    assert failed.root_cause.id == "token.scope"
    assert _run(("a", Outcome.FAILED), ("b", Outcome.ERROR)).exit_code == 5


def _ahead_spec(
    check_id: str, depends: tuple[str, ...], asked: list[str], *, ready: bool = True
) -> CheckSpec:
    def ahead(run: Diagnosis) -> bool:
        asked.append(check_id)
        return ready

    return CheckSpec(check_id, 1, check_id, "", depends, (), lambda run: "ok", ahead)


def test_requests_go_ahead_only_for_checks_nothing_has_blocked(tmp_path: Any) -> None:
    asked: list[str] = []
    specs = [
        _spec("a", lambda run: "ok"),
        _ahead_spec("b", ("a",), asked),
        _ahead_spec("c", ("b",), asked),
        _ahead_spec("d", (), asked),
    ]
    done = {"a": CheckResult("a", 1, "a", Outcome.FAILED)}
    started: set[str] = set()
    send_ahead(specs, _diagnosis(tmp_path), done, started)
    # b needs a, which failed; c needs b, which will be blocked: only d may still run.
    assert asked == ["d"]
    assert started == {"d"}


def test_requests_go_ahead_once_and_are_asked_again_until_ready(tmp_path: Any) -> None:
    asked: list[str] = []
    specs = [_ahead_spec("x", (), asked), _ahead_spec("y", (), asked, ready=False)]
    started: set[str] = set()
    diagnosis = _diagnosis(tmp_path)
    send_ahead(specs, diagnosis, {}, started)
    send_ahead(specs, diagnosis, {}, started)
    assert asked == ["x", "y", "y"]
    done = {"y": CheckResult("y", 1, "y", Outcome.PASSED)}
    send_ahead(specs, diagnosis, done, started)
    assert asked == ["x", "y", "y"], "a check that already ran sends nothing ahead"


def test_a_broken_ahead_never_breaks_the_run(tmp_path: Any) -> None:
    def broken(run: Diagnosis) -> bool:
        raise RuntimeError("bug")

    spec = CheckSpec("z", 1, "z", "", (), (), lambda run: "ok", broken)
    started: set[str] = set()
    send_ahead([spec], _diagnosis(tmp_path), {}, started)
    assert started == {"z"}
    assert run_check(spec, _diagnosis(tmp_path), {}).outcome is Outcome.PASSED
