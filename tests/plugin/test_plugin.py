"""The plugin through pytester: inert by default, a real pytest run of the checks when asked."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from sage200_doctor.emulator import RunningEmulator, format_env_lines, running_emulator
from sage200_doctor.engine.registry import all_checks


@pytest.fixture(scope="module")
def healthy() -> Iterator[RunningEmulator]:
    with running_emulator("healthy") as emulator:
        yield emulator


def _env_file(pytester: pytest.Pytester, emulator: RunningEmulator) -> Path:
    path = pytester.path / "site.env"
    path.write_text(format_env_lines(emulator.env()) + "\n", encoding="utf-8")
    return path


def test_the_plugin_is_inert_without_its_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "sage200-doctor:" not in result.stdout.str()  # no diagnosis summary
    assert "test_plain.py ." in result.stdout.str()  # the user's own test ran as usual


def test_the_plugin_offers_its_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--sage200-env=FILE*"])


def test_sage200_env_runs_the_checks_instead_of_local_tests(
    pytester: pytest.Pytester, healthy: RunningEmulator
) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    raise AssertionError('must not run')\n")
    env = _env_file(pytester, healthy)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--sage200-env", str(env), "--junitxml", "junit.xml"
    )
    assert result.ret == 0
    assert f"{len(all_checks())} passed" in result.stdout.str()
    suite = ET.parse(pytester.path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names[0] == "config.complete"
    assert names[-1] == "api.schema"
    assert len(names) == len(all_checks())


def test_a_failing_environment_fails_pytest_and_blocks_dependents(
    pytester: pytest.Pytester,
) -> None:
    with running_emulator("key-missing") as emulator:
        env = _env_file(pytester, emulator)
        result = pytester.runpytest("-p", "no:cacheprovider", "--sage200-env", str(env), "-v")
    assert result.ret == 1
    output = result.stdout.str()
    assert "1 failed" in output
    assert "blocked" in output
    assert "Root cause: gateway.subscription_key" in output


def test_k_selects_checks_by_id(pytester: pytest.Pytester, healthy: RunningEmulator) -> None:
    env = _env_file(pytester, healthy)
    result = pytester.runpytest("-p", "no:cacheprovider", "--sage200-env", str(env), "-k", "config")
    result.assert_outcomes(passed=2, deselected=len(all_checks()) - 2)


def test_an_unreadable_env_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--sage200-env", str(pytester.path / "missing.env"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
