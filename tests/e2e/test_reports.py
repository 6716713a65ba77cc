"""The reports of real runs, for every emulator scenario: report.json against its schema,
junit.xml, report.html's structure, the support bundle and the terminal summary.

Runs go through the real CLI (`sage200-doctor run --env FILE --bundle …`) in-process against a
real emulator on 127.0.0.1, with unique canary secrets; each scenario runs once per session
(`scenario_run` is cached) and test_canary.py searches the very same outputs for those secrets.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import html
import io
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from sage200_doctor.commands import main as cli_main
from sage200_doctor.emulator import SCENARIOS, format_env_lines, running_emulator, token_endpoint
from sage200_doctor.emulator.scenarios import with_settings
from sage200_doctor.emulator.state import EmulatorState
from sage200_doctor.report.json import validate_report
from tests.e2e.conftest import CliRun

pytestmark = pytest.mark.e2e

SECRET_KEYS = (
    "SAGE200_CLIENT_SECRET",
    "SAGE200_SUBSCRIPTION_KEY",
    "SAGE200_ACCESS_TOKEN",
    "SAGE200_REFRESH_TOKEN",
    "SAGE200_AUTHORIZATION",
)
_WORKDIR = Path(tempfile.mkdtemp(prefix="sage200-doctor-reports-"))
atexit.register(shutil.rmtree, _WORKDIR, ignore_errors=True)


@dataclass
class ScenarioRun:
    """One CLI run and everything it wrote or printed."""

    code: int
    stdout: str
    stderr: str
    logs: str
    report_dir: Path
    bundle: Path
    client_id: str = ""
    secrets: dict[str, str] = field(default_factory=dict)
    """label -> secret value: configured, handed out by the emulator, or minted during the run."""

    @property
    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.report_dir / "report.json").read_text("utf-8"))
        return data

    @property
    def junit(self) -> ET.Element:
        return ET.parse(self.report_dir / "junit.xml").getroot()

    def html_rows(self) -> list[tuple[str, str]]:
        """report.html's checks table: (check id, the row group's HTML), in page order."""
        page = (self.report_dir / "report.html").read_text("utf-8")
        groups = re.findall(
            r'(<tbody class="s2d-check[^"]*"[^>]*id="([^"]+)">.*?</tbody>)', page, re.S
        )
        return [(html.unescape(check_id), group) for group, check_id in groups]

    def outputs(self) -> dict[str, str]:
        """Every text a user could see or attach: files, bundle members, stdout, stderr, logs."""
        texts = {
            name: (self.report_dir / name).read_text("utf-8")
            for name in ("report.html", "report.json", "junit.xml")
        }
        with zipfile.ZipFile(self.bundle) as archive:
            for name in archive.namelist():
                texts[f"bundle:{name}"] = archive.read(name).decode("utf-8")
        texts.update(stdout=self.stdout, stderr=self.stderr, logs=self.logs)
        return texts


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.levelname} {self.format(record)}")


@contextlib.contextmanager
def _isolated_environment(extra: dict[str, str]) -> Iterator[None]:
    """No SAGE200_* from the test process leaks into the run; colour off unless asked for."""
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith(("SAGE200_", "PY_COLORS", "FORCE_COLOR"))]:
        del os.environ[key]
    os.environ["NO_COLOR"] = "1"
    os.environ.update(extra)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _all_logs() -> Iterator[_LogCollector]:
    """Every log record of the run, DEBUG included, as a user's own logging set-up would see."""
    root = logging.getLogger()
    collector = _LogCollector()
    level = root.level
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    try:
        yield collector
    finally:
        root.removeHandler(collector)
        root.setLevel(level)


def run_doctor(
    env: dict[str, str], workdir: Path, *args: str, environ: dict[str, str] | None = None
) -> ScenarioRun:
    """`sage200-doctor run --env FILE --bundle …` in-process, with stdout, stderr and logs."""
    workdir.mkdir(parents=True, exist_ok=True)
    env_file = workdir / "doctor.env"
    env_file.write_text(format_env_lines(env), encoding="utf-8")
    report_dir, bundle = workdir / "reports", workdir / "bundle.zip"
    argv = ["run", "--env", str(env_file), "--report-dir", str(report_dir)]
    argv += ["--bundle", str(bundle), *args]
    out, err = io.StringIO(), io.StringIO()
    with (
        _isolated_environment(environ or {}),
        _all_logs() as logs,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = cli_main(argv)
    return ScenarioRun(
        code, out.getvalue(), err.getvalue(), "\n".join(logs.lines), report_dir, bundle
    )


def canary_settings() -> dict[str, str]:
    """Unique per scenario; '/' and '=' make the URL-encoded forms differ from the raw ones."""
    return {
        "client_id": f"canary-client-{secrets.token_hex(6)}",
        "client_secret": f"CanarySecret/{secrets.token_urlsafe(18)}=",
        "subscription_key": f"CanaryKey/{secrets.token_hex(12)}=",
    }


@contextlib.contextmanager
def _minted_secrets() -> Iterator[dict[str, str]]:
    """Record every token the emulator mints while the run is under way."""
    minted: dict[str, str] = {}

    def recording(label: str, function: Callable[..., str]) -> Callable[..., str]:
        def wrapper(*args: Any, **kwargs: Any) -> str:
            value = function(*args, **kwargs)
            minted[f"{label} #{len(minted)}"] = value
            return value

        return wrapper

    issue = EmulatorState.issue_refresh_token
    with (
        mock.patch.object(
            token_endpoint,
            "mint_access_token",
            recording("minted access token", token_endpoint.mint_access_token),
        ),
        mock.patch.object(
            token_endpoint,
            "mint_id_token",
            recording("minted id token", token_endpoint.mint_id_token),
        ),
        mock.patch.object(
            EmulatorState,
            "issue_refresh_token",
            lambda self, grant: recording("issued refresh token", issue)(self, grant),
        ),
    ):
        yield minted


@cache
def scenario_run(scenario: str) -> ScenarioRun:
    """Run `scenario` once per session against an emulator holding canary secrets."""
    canary = canary_settings()
    config = with_settings(scenario, **canary)
    with _minted_secrets() as minted, running_emulator(config) as emulator:
        env = emulator.env()
        run = run_doctor(env, _WORKDIR / scenario)
        used = emulator.config
    found = {key: env[key] for key in SECRET_KEYS if env.get(key)}
    if "SAGE200_AUTHORIZATION" in found:
        found["SAGE200_AUTHORIZATION token"] = found["SAGE200_AUTHORIZATION"].removeprefix("Bearer")
    found.update(
        {
            "emulator client_secret": used.client_secret or "",
            "emulator subscription_key": used.subscription_key or "",
            "emulator secondary key": used.secondary_subscription_key or "",
            **minted,
        }
    )
    run.client_id = canary["client_id"]
    run.secrets = {label: value.strip() for label, value in found.items() if value.strip()}
    return run


SCENARIO_NAMES = sorted(SCENARIOS)


# --- report.json -------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_report_json_matches_the_schema(scenario: str) -> None:
    run = scenario_run(scenario)
    report = run.report
    assert validate_report(report) == []
    assert run.code == report["exit_code"]
    assert [c["order"] for c in report["checks"]] == sorted(c["order"] for c in report["checks"])


def test_the_demo_command_writes_a_valid_report(doctor: Callable[..., CliRun]) -> None:
    run = doctor("demo", "--scenario", "key-invalid", "-q")
    assert validate_report(run.report) == []
    lines = run.stdout.splitlines()
    assert lines[0].startswith("sage200-doctor: FAIL")  # the quiet verdict line ...
    assert lines[1].startswith("Root cause: gateway.subscription_key")  # ... and the root cause
    assert len(lines) == 2


def test_validate_report_names_what_is_wrong() -> None:
    report = scenario_run("no-offline-access").report
    report["checks"][0]["outcome"] = "exploded"
    report["root_cause"] = None
    problems = validate_report(report)
    assert any(p.startswith("/checks/0/outcome") for p in problems)
    assert any(p.startswith("/root_cause") for p in problems)


# --- junit.xml ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_junit_has_one_testcase_per_check_and_the_run_as_properties(scenario: str) -> None:
    run = scenario_run(scenario)
    report = run.report
    cases = run.junit.findall(".//testcase")
    assert [case.get("name") for case in cases] == [c["id"] for c in report["checks"]]
    assert {case.get("classname") for case in cases} == {"sage200-doctor"}
    suite = run.junit.find("testsuite")
    assert suite is not None
    properties = [(p.get("name"), p.get("value")) for p in suite.iter("property")]
    root = report["root_cause"]["check"] if report["root_cause"] else None
    assert ("verdict", report["verdict"]) in properties
    assert ("exit_code", str(report["exit_code"])) in properties
    assert ("root_cause", root or "") in properties
    for case, check in zip(cases, report["checks"], strict=True):
        assert case.find("properties") is None  # the xunit2 schema allows none on a testcase
        failure, skipped = case.find("failure"), case.find("skipped")
        if check["outcome"] == "failed":
            assert failure is not None
            text = failure.text or ""
            if check["id"] == root:
                assert text.startswith(f"Root cause: {root}")
            elif not check.get("accepted"):
                assert text.startswith(f"Also found: {check['id']}")
            for guidance in check["guidance"]:
                assert f"Guidance {guidance['id']}" in text
        if check["outcome"] == "blocked":
            assert skipped is not None
            assert skipped.get("message", "").startswith(f"blocked by {check['blocked_by']}")


@pytest.mark.parametrize("scenario", ["healthy", "key-missing", "customers-forbidden"])
def test_junit_is_valid_against_pytests_own_schema(scenario: str) -> None:
    from tests.junit_schema import junit_problems

    assert junit_problems(scenario_run(scenario).report_dir / "junit.xml") == []


# --- report.html -------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_html_rows_are_the_checks_in_run_order(scenario: str) -> None:
    run = scenario_run(scenario)
    checks = run.report["checks"]
    rows = run.html_rows()
    assert [check_id for check_id, _ in rows] == [c["id"] for c in checks]
    for (_, row), check in zip(rows, checks, strict=True):
        assert f"s2d-badge s2d-{check['outcome']}" in row
        if check["blocked_by"]:
            assert f'href="#{check["blocked_by"]}"' in row
        assert row.count('<details class="s2d-exchange"') == len(check["evidence"])
        opened = '<details class="s2d-more" open>' in row
        root = run.report["root_cause"]
        assert opened == (root is not None and root["check"] == check["id"])


@pytest.mark.parametrize("scenario", ["no-offline-access", "key-missing", "healthy"])
def test_html_leads_with_verdict_and_root_cause(scenario: str) -> None:
    run = scenario_run(scenario)
    page = (run.report_dir / "report.html").read_text("utf-8")
    report = run.report
    assert page.count("<script") == 1  # our own small script, nothing else
    assert 'id="s2d-verdict"' in page
    assert 'id="s2d-root-cause"' in page
    assert page.index('id="s2d-verdict"') < page.index('id="s2d-root-cause"')
    assert "<link " not in page  # self-contained: no external stylesheet
    root = report["root_cause"]
    if root:
        section = page[page.index('id="s2d-root-cause"') :]
        check = next(c for c in report["checks"] if c["id"] == root["check"])
        for entry in check["guidance"]:
            assert entry["url"] in section
        assert "Usually fixed by" in section
        assert "Next step" in section


def test_html_environment_is_where_the_run_pointed_and_nothing_else() -> None:
    page = (scenario_run("healthy").report_dir / "report.html").read_text("utf-8")
    table = page[
        page.index('id="environment"') : page.index("</table>", page.index('id="environment"'))
    ]
    names = set(re.findall(r"<th>([^<]+)</th>", table))
    assert names >= {"Edition", "API base URL", "X-Site", "X-Company"}
    assert "Plugins" not in names
    assert "Packages" not in names


def test_html_shows_capability_facts() -> None:
    page = (scenario_run("healthy").report_dir / "report.html").read_text("utf-8")
    assert 'id="s2d-capabilities"' in page
    assert "$skip without $orderby" in page


# --- support bundle ----------------------------------------------------------------------------


def test_bundle_holds_reports_and_a_fingerprint() -> None:
    run = scenario_run("no-offline-access")
    with zipfile.ZipFile(run.bundle) as archive:
        assert sorted(archive.namelist()) == sorted(
            ["report.html", "report.json", "junit.xml", "fingerprint.json"]
        )
        fingerprint = json.loads(archive.read("fingerprint.json"))
    assert fingerprint["tool"]["name"] == "sage200-doctor"
    assert fingerprint["python"]["version"]
    assert fingerprint["edition"] == "professional"
    assert fingerprint["verdict"] == "fail"
    assert fingerprint["root_cause"] == "token.scope"
    assert all(re.fullmatch(r"127\.0\.0\.1:\d+", host) for host in fingerprint["hosts"].values())
    assert [c["id"] for c in fingerprint["checks"]] == [c["id"] for c in run.report["checks"]]
    assert set(fingerprint["files"].values()) == {"included"}
    assert f"support bundle {run.bundle}" in run.stdout


# --- terminal ----------------------------------------------------------------------------------


def test_terminal_is_plain_under_no_color_and_coloured_when_forced(tmp_path: Path) -> None:
    with running_emulator("no-offline-access") as emulator:
        env = emulator.env()
        plain = run_doctor(env, tmp_path / "plain", environ={"PY_COLORS": "1", "NO_COLOR": "1"})
        coloured = run_doctor(env, tmp_path / "colour", environ={"PY_COLORS": "1", "NO_COLOR": ""})
    ours = plain.stdout[plain.stdout.index("sage200-doctor: FAIL") :]
    assert "\033[" not in ours + plain.stderr
    assert "FAIL    token.scope" in plain.stderr  # one line per check as it finishes (CI form)
    assert "\033[1;31mRoot cause: token.scope" in coloured.stdout


def test_quiet_form_is_the_verdict_and_the_root_cause(tmp_path: Path) -> None:
    with running_emulator("key-missing") as emulator:
        run = run_doctor(emulator.env(), tmp_path, "-q")
    summary = run.stdout.splitlines()
    assert summary[0].startswith("sage200-doctor: FAIL")
    assert summary[1].startswith("Root cause: gateway.subscription_key: ")
    assert "https://developer.sage.com/200/guides/postman/" in summary[1]
    assert len(summary) == 2
    assert run.stderr == ""  # no progress, no notes


def test_basic_credentials_encoding_is_known_to_the_canary_helper() -> None:
    # Guards the canary test itself: the Basic pair it looks for is the one the client sends.
    run = scenario_run("healthy")
    pair = f"{run.client_id}:{run.secrets['SAGE200_CLIENT_SECRET']}"
    assert base64.b64encode(pair.encode()).decode() not in "".join(run.outputs().values())
