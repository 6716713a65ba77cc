"""pytest as the engine's adapter: no plugin, option form or interruption changes the verdict.

Each test runs a real pytest (pytester, in a subprocess where signals or plugin loading matter)
with the plugins people install next to ours, against a real emulator on 127.0.0.1. A broken
set-up (`key-invalid`) must never come out as a pass.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sage200_doctor.emulator import RunningEmulator, format_env_lines, running_emulator
from sage200_doctor.engine.registry import all_checks
from sage200_doctor.report.json import validate_report
from tests.e2e.conftest import cli_environment

pytestmark = pytest.mark.e2e

CHECKS = len(all_checks())


@pytest.fixture(scope="module")
def broken() -> Iterator[RunningEmulator]:
    with running_emulator("key-invalid") as emulator:
        yield emulator


def _env(pytester: pytest.Pytester, emulator: RunningEmulator) -> str:
    path = pytester.path / "site.env"
    path.write_text(format_env_lines(emulator.env()) + "\n", encoding="utf-8")
    return f"--sage200-env={path}"


def _token_posts(emulator: RunningEmulator, since: int) -> int:
    log = emulator.request_log[since:]
    return sum(1 for r in log if r.method == "POST" and r.path.endswith("/oauth/token"))


def _report(pytester: pytest.Pytester) -> dict[str, object]:
    data: dict[str, object] = json.loads((pytester.path / "r.json").read_text("utf-8"))
    return data


@pytest.mark.parametrize(
    "plugins",
    [
        ("-p", "randomly"),
        ("-p", "randomly", "-p", "xdist", "-n", "2"),
        ("-p", "xdist", "-n", "2"),
        ("-k", "token"),
        ("-m", "not browser"),
        ("-p", "rerunfailures", "--reruns", "2"),
        ("--deselect", "sage200-doctor::gateway.subscription_key"),
    ],
    ids=["randomly", "randomly-xdist", "xdist", "k", "m", "reruns", "deselect"],
)
def test_no_plugin_turns_a_broken_set_up_into_a_pass(
    pytester: pytest.Pytester, broken: RunningEmulator, plugins: tuple[str, ...]
) -> None:
    before = len(broken.request_log)
    result = pytester.runpytest_subprocess(
        _env(pytester, broken), "--sage200-json=r.json", "-p", "no:cacheprovider", *plugins
    )
    assert result.ret == 1, result.stdout.str()
    report = _report(pytester)
    assert report["verdict"] == "fail"
    assert report["root_cause"] == {  # type: ignore[comparison-overlap]
        "check": "gateway.subscription_key",
        "summary": "The gateway rejected the subscription key as invalid.",
    }
    assert validate_report(report) == []
    assert len(report["checks"]) == CHECKS  # type: ignore[arg-type]
    assert "PASS" not in result.stdout.str()
    assert _token_posts(broken, before) == 1  # one diagnosis, one refresh grant


def test_items_keep_the_run_order_under_pytest_randomly(
    pytester: pytest.Pytester, broken: RunningEmulator
) -> None:
    result = pytester.runpytest_subprocess(
        _env(pytester, broken), "-p", "randomly", "-p", "no:cacheprovider", "--junitxml=j.xml"
    )
    assert result.ret == 1
    junit = (pytester.path / "j.xml").read_text("utf-8")
    names = re.findall(r'<testcase [^>]*?\bname="([^"]+)"', junit)
    assert names == [spec.id for spec in all_checks()]


def test_last_failed_replays_the_engines_verdict(
    pytester: pytest.Pytester, broken: RunningEmulator
) -> None:
    env = _env(pytester, broken)
    first = pytester.runpytest_subprocess(env)
    assert first.ret == 1
    again = pytester.runpytest_subprocess(env, "--lf", "--sage200-json=r.json")
    assert again.ret == 1
    assert _report(pytester)["verdict"] == "fail"


def test_collect_only_lists_the_checks_and_diagnoses_nothing(
    pytester: pytest.Pytester, broken: RunningEmulator
) -> None:
    before = len(broken.request_log)
    result = pytester.runpytest_subprocess(_env(pytester, broken), "--collect-only", "-q")
    output = result.stdout.str()
    assert "gateway.subscription_key" in output
    assert "nothing was diagnosed" in output
    assert "PASS" not in output
    assert "FAIL" not in output
    assert len(broken.request_log) == before


def test_a_per_test_timeout_interrupts_the_run_without_a_traceback(
    pytester: pytest.Pytester,
) -> None:
    with running_emulator("healthy", latency_ms=1500) as slow:
        result = pytester.runpytest_subprocess(
            _env(pytester, slow), "-p", "timeout", "--timeout=1", "--sage200-json=r.json"
        )
    assert result.ret == 124, result.stdout.str()
    report = _report(pytester)
    assert report["verdict"] == "interrupted"
    interruption = report["interruption"]
    assert isinstance(interruption, dict)
    assert "pytest-timeout" in interruption["reason"]
    assert validate_report(report) == []
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert "Timeout" not in result.stderr.str()  # pytest-timeout's stack dump never ran


def test_space_and_equals_forms_keep_the_users_rootdir(
    pytester: pytest.Pytester, broken: RunningEmulator
) -> None:
    project = pytester.mkdir("project")
    (project / "pytest.ini").write_text("[pytest]\naddopts = --sage200-quiet-summary\n")
    elsewhere = pytester.mkdir("elsewhere")
    env_file = elsewhere / "site.env"
    env_file.write_text(format_env_lines(broken.env()) + "\n", encoding="utf-8")
    outputs = []
    for form in (["--sage200-env", str(env_file)], [f"--sage200-env={env_file}"]):
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", *form],
            cwd=project,
            capture_output=True,
            text=True,
            env=cli_environment(),
            check=False,
        )
        assert completed.returncode == 1
        assert f"rootdir: {project}" in completed.stdout
        assert "configfile: pytest.ini" in completed.stdout
        outputs.append(completed.stdout)
    for output in outputs:  # the user's addopts applied: the quiet summary form
        assert "Root cause: gateway.subscription_key:" in output
        assert "  FAIL    gateway.subscription_key" not in output


def test_junit_under_a_baseline_agrees_with_report_json(
    pytester: pytest.Pytester, broken: RunningEmulator
) -> None:
    from tests.junit_schema import junit_problems

    baseline = pytester.path / "baseline.toml"
    baseline.write_text(
        '[[accept]]\ncheck = "gateway.subscription_key"\nreason = "ticket 1"\n'
        "expires = 2999-12-31\n"
    )
    result = pytester.runpytest_subprocess(
        _env(pytester, broken),
        f"--sage200-baseline={baseline}",
        "--sage200-report-dir=reports",
    )
    report = json.loads((pytester.path / "reports" / "report.json").read_text("utf-8"))
    assert report["verdict"] == "pass"
    assert result.ret == 0
    junit = pytester.path / "reports" / "junit.xml"
    assert junit_problems(junit) == []
    text = junit.read_text("utf-8")
    assert '<property name="root_cause" value="" />' in text
    assert '<property name="verdict" value="pass" />' in text


def test_pytests_own_junitxml_is_valid_xunit2(
    pytester: pytest.Pytester, broken: RunningEmulator
) -> None:
    from tests.junit_schema import junit_problems

    pytester.runpytest_subprocess(
        _env(pytester, broken), "--junitxml=own.xml", "-o", "junit_family=xunit2"
    )
    assert junit_problems(pytester.path / "own.xml") == []


def _without_times(report: dict[str, object]) -> dict[str, object]:
    text = json.dumps(report)
    data: dict[str, object] = json.loads(text)
    for key in ("started_at", "duration_s"):
        data.pop(key, None)
    for check in data["checks"]:  # type: ignore[attr-defined]
        check["duration_ms"] = 0
        for exchange in check["evidence"]:
            exchange["elapsed_ms"] = 0
            if exchange["response"]:
                exchange["response"]["headers"].pop("date", None)
    data.pop("requests", None)  # sent ahead and unused depends on timing
    return data


@pytest.mark.parametrize("plugins", [(), ("-p", "randomly"), ("-p", "xdist", "-n", "2")])
def test_run_and_pytest_write_the_same_report(
    pytester: pytest.Pytester, plugins: tuple[str, ...]
) -> None:
    with running_emulator("customers-forbidden") as emulator:
        env = pytester.path / "site.env"
        env.write_text(format_env_lines(emulator.env()) + "\n", encoding="utf-8")
        cli = subprocess.run(
            [sys.executable, "-m", "sage200_doctor", "run", "--env", str(env),
             "--report-dir", "cli"],
            cwd=pytester.path,
            capture_output=True,
            text=True,
            env=cli_environment(),
            check=False,
        )  # fmt: skip
        pytester.runpytest_subprocess(
            f"--sage200-env={env}", "--sage200-report-dir=plugin", *plugins
        )
    ours = json.loads((pytester.path / "cli" / "report.json").read_text("utf-8"))
    theirs = json.loads((pytester.path / "plugin" / "report.json").read_text("utf-8"))
    assert cli.returncode == 1
    assert _without_times(ours) == _without_times(theirs)


def _spawn(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        args,
        cwd=cwd,
        env=cli_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["sigint", "sigterm"]
)
@pytest.mark.parametrize("how", ["cli", "pytest"])
def test_a_signal_ends_the_run_as_interrupted_with_reports(
    tmp_path: Path, signum: int, code: int, how: str
) -> None:
    with running_emulator("healthy", latency_ms=400) as slow:
        env = tmp_path / "site.env"
        env.write_text(format_env_lines(slow.env()) + "\n", encoding="utf-8")
        if how == "cli":
            command = [sys.executable, "-m", "sage200_doctor", "run", "--env", str(env)]
            command += ["--report-dir", "reports"]
        else:
            command = [sys.executable, "-m", "pytest", f"--sage200-env={env}"]
            command += ["--sage200-report-dir=reports", "-p", "no:cacheprovider"]
        process = _spawn(command, tmp_path)
        _wait_for_requests(slow, 3)
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    assert process.returncode == code, out + err
    report = json.loads((tmp_path / "reports" / "report.json").read_text("utf-8"))
    assert report["verdict"] == "interrupted"
    assert report["exit_code"] == code
    assert validate_report(report) == []
    assert "PASS" not in out
    assert "Traceback" not in out + err
    assert "INTERNALERROR" not in out + err


def test_ctrl_c_during_a_rate_limit_wait_is_a_clean_stop(tmp_path: Path) -> None:
    from sage200_doctor.emulator.faults import FaultRule
    from sage200_doctor.emulator.scenarios import with_settings

    config = with_settings(
        "healthy",
        faults=(FaultRule(kind="rate-limit-forever", face="api", path="/customers"),),
        rate_limit_retry_after_s=5,
    )
    with running_emulator(config) as limited:
        env = tmp_path / "site.env"
        env.write_text(format_env_lines(limited.env()) + "\n", encoding="utf-8")
        command = [sys.executable, "-m", "sage200_doctor", "run", "--env", str(env)]
        process = _spawn([*command, "--report-dir", "reports"], tmp_path)
        deadline = time.monotonic() + 30
        while not any("customers" in r.path for r in limited.request_log):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)  # inside the Retry-After wait
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in out + err
    assert json.loads((tmp_path / "reports" / "report.json").read_text("utf-8"))["verdict"] == (
        "interrupted"
    )


def _wait_for_requests(emulator: RunningEmulator, count: int) -> None:
    deadline = time.monotonic() + 30
    while len(emulator.request_log) < count:
        assert time.monotonic() < deadline, "the run sent nothing"
        time.sleep(0.02)


if os.name != "posix":  # pragma: no cover - signals as tested here are POSIX
    pytestmark = [pytestmark, pytest.mark.skip(reason="POSIX signals")]
