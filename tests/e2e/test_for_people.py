"""The CLI as a new user meets it: what it prints while it works (a live line on a terminal, one
line per check and per wait in CI, nothing with -q), machine-readable stdout, the exact words of
its messages, and nothing left behind in the current directory.

Every run is the real command in a subprocess (`doctor` fixture: a fresh directory), against a
real emulator on 127.0.0.1 where it needs a server.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import pty
import re
import select
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sage200_doctor.emulator import format_env_lines, running_emulator, scenario_config
from sage200_doctor.emulator.faults import FaultRule
from tests.e2e.conftest import CliRun, cli_environment

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
COLOUR = re.compile(r"\x1b\[(?:\d+;)*(?:3\d|4\d|9\d)(?:;\d+)*m")
"""An SGR sequence that sets a foreground or background colour."""
VERDICT_LINE = re.compile(
    r"^sage200-doctor: [A-Z ]+: .+ \(exit \d\)\. \d+ checks: .+ in \d+\.\d\ds$"
)
Doctor = Callable[..., CliRun]


def env_file(path: Path, values: dict[str, str]) -> Path:
    path.write_text(format_env_lines(values) + "\n", encoding="utf-8")
    return path


# --- while it runs -----------------------------------------------------------------------------


def test_ci_log_has_one_line_per_check_and_per_wait(doctor: Doctor) -> None:
    run = doctor("demo", "--scenario", "rate-limited", env={"CI": "true"})
    assert run.code == 0, run.stdout + run.stderr
    lines = run.stderr.splitlines()
    finished = [line for line in lines if re.match(r"^  (ok|WARN|FAIL|blocked|skip) ", line)]
    assert [line.split()[1] for line in finished] == [c["id"] for c in run.report["checks"]]
    waits = [line for line in lines if line.startswith("  wait    ")]
    assert waits, run.stderr
    assert all(line.endswith("rate limited, retrying in 1 s") for line in waits)
    assert all(re.match(r"^  wait    [a-z_.]+ +rate", line) for line in waits)  # names its check
    assert not COLOUR.search(run.stderr)


def run_in_terminal(args: list[str], cwd: Path, extra: dict[str, str]) -> str:
    """Run the CLI with a pseudo-terminal as stdin, stdout and stderr; everything it drew."""
    env = cli_environment({"TERM": "xterm-256color", "COLUMNS": "160", **extra})
    env.pop("CI", None)
    if "NO_COLOR" not in extra:
        env.pop("NO_COLOR", None)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "sage200_doctor", *args],
        cwd=cwd,
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    drawn = b""
    try:
        while select.select([controller], [], [], 60)[0]:
            try:
                chunk = os.read(controller, 1 << 16)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(controller)
        process.wait(timeout=60)
    assert process.returncode == 0, drawn.decode(errors="replace")
    return drawn.decode("utf-8", errors="replace")


def test_a_terminal_gets_a_live_line_that_says_what_it_waits_for(tmp_path: Path) -> None:
    drawn = run_in_terminal(["demo", "--scenario", "rate-limited"], tmp_path, {})
    assert "rate limited, retrying in 1 s" in drawn
    assert re.search(r"customers\.[a-z_]+: .+ \(\d+\.\d s · rate limited", drawn)
    assert "✔ config.complete" in drawn  # finished checks are printed above the live line
    assert COLOUR.search(drawn)


def test_no_color_is_respected_on_a_terminal(tmp_path: Path) -> None:
    drawn = run_in_terminal(["demo"], tmp_path, {"NO_COLOR": "1"})
    assert "sage200-doctor: PASS" in drawn
    assert not COLOUR.search(drawn)


def test_quiet_prints_nothing_while_it_runs(doctor: Doctor) -> None:
    run = doctor("demo", "-q")
    assert run.stderr == ""
    (line,) = run.stdout.splitlines()
    assert VERDICT_LINE.match(line), line


# --- machine-readable stdout -------------------------------------------------------------------


def test_format_json_puts_exactly_report_json_on_stdout(doctor: Doctor) -> None:
    run = doctor("demo", "--scenario", "no-offline-access", "--format", "json")
    assert run.code == 1
    assert run.stdout == (run.report_dir / "report.json").read_text(encoding="utf-8")
    assert json.loads(run.stdout)["root_cause"]["check"] == "token.scope"
    assert "Root cause: token.scope" in run.stderr  # the summary went to stderr


def test_format_json_with_quiet_is_only_the_json(doctor: Doctor) -> None:
    run = doctor("demo", "--format", "json", "-q")
    assert run.stdout == (run.report_dir / "report.json").read_text(encoding="utf-8")
    assert run.stderr == ""


def test_format_junit_puts_exactly_junit_xml_on_stdout(doctor: Doctor) -> None:
    run = doctor("demo", "--format", "junit")
    assert run.stdout == (run.report_dir / "junit.xml").read_text(encoding="utf-8")
    assert run.stdout.startswith('<?xml version="1.0" encoding="utf-8"?>')


def test_quiet_is_exactly_the_verdict_line_and_the_root_cause_line(doctor: Doctor) -> None:
    run = doctor("demo", "--scenario", "no-offline-access", "-q")
    verdict, root = run.stdout.splitlines()
    assert VERDICT_LINE.match(verdict), verdict
    assert verdict.startswith("sage200-doctor: FAIL: the environment has a problem (exit 1). ")
    assert root == (
        "Root cause: token.scope: SAGE200_SCOPE does not ask for offline_access, so Sage ID "
        "issues no refresh token. [guidance: faq.postman.offline-access "
        "https://developer.sage.com/200/guides/postman/]"
    )
    assert run.stderr == ""


def test_a_quiet_configuration_failure_names_the_key(doctor: Doctor, tmp_path: Path) -> None:
    settings = env_file(
        tmp_path / "site.env", {"SAGE200_ACCESS_TOKEN": "tok-123", "SAGE200_COMPANY_ID": "abc"}
    )
    run = doctor("run", "--env", str(settings), "-q")
    assert run.code == 2
    verdict, root = run.stdout.splitlines()
    assert verdict.startswith(
        "sage200-doctor: CONFIGURATION ERROR: fix the settings first (exit 2)"
    )
    assert root == (
        "Root cause: config.values: 1 configuration value(s) are malformed: SAGE200_COMPANY_ID. "
        "[guidance: guide.config docs/configuration.md]"
    )


def test_run_without_an_env_file_says_where_it_looked(doctor: Doctor, tmp_path: Path) -> None:
    run = doctor("run", "--only", "config.complete")
    assert run.stderr.splitlines()[0] == (
        f"sage200-doctor: no .env in {tmp_path}; using settings from the environment only "
        "(--env FILE names a file)."
    )
    assert run.code == 2  # and config.complete says what is missing


# --- the words of the messages -----------------------------------------------------------------


def config_details(run: CliRun) -> list[str]:
    return str(run.check("config.values")["details"]).splitlines()


def test_a_misspelt_key_gets_one_did_you_mean(doctor: Doctor, tmp_path: Path) -> None:
    settings = tmp_path / "site.env"
    settings.write_text("SAGE200_ACCESS_TOKEN=tok-123\nSAGE200_CLIENTID=abc\n", encoding="utf-8")
    run = doctor("run", "--env", "site.env", "--only", "config.values")  # from tmp_path
    assert run.check("config.values")["summary"] == "1 configuration note(s): SAGE200_CLIENTID."
    assert config_details(run) == [
        "SAGE200_CLIENTID (line 2 of site.env) is not a setting sage200-doctor knows, so it is "
        "ignored. Did you mean SAGE200_CLIENT_ID?"
    ]


def test_an_empty_variable_is_told_to_unset_it(doctor: Doctor, tmp_path: Path) -> None:
    settings = env_file(
        tmp_path / "site.env", {"SAGE200_ACCESS_TOKEN": "tok-123", "SAGE200_SITE_ID": "x"}
    )
    run = doctor(
        "run", "--env", str(settings), "--only", "config.values", env={"SAGE200_SITE_ID": ""}
    )
    assert config_details(run) == [
        "SAGE200_SITE_ID is set but empty in the environment, which hides the value from the "
        "file. Unset SAGE200_SITE_ID in the environment, or give it the value you mean."
    ]


def test_config_example_values_are_named_by_key_never_shown(doctor: Doctor, tmp_path: Path) -> None:
    shutil.copyfile(ROOT / "config.example.env", tmp_path / ".env")  # where `doctor` runs
    run = doctor("run", "-q")
    assert run.code == 2
    keys = (
        "SAGE200_CLIENT_ID, SAGE200_CLIENT_SECRET, SAGE200_REFRESH_TOKEN, "
        "SAGE200_SUBSCRIPTION_KEY, SAGE200_SITE_ID, SAGE200_CUSTOMER_REFERENCE"
    )
    assert run.stdout.splitlines()[1] == (
        f"Root cause: config.values: {keys} still hold their example values from "
        "config.example.env: replace with your own. [guidance: guide.config docs/configuration.md]"
    )
    everything = run.stdout + run.stderr + (run.report_dir / "report.json").read_text("utf-8")
    for value in ("example-client-secret-not-real", "example-refresh-token-not-real"):
        assert value not in everything


@pytest.mark.parametrize(
    ("fault", "summary"),
    [
        (
            "rate-limit-forever",
            "The token endpoint answered HTTP 429 with JSON that is not an OAuth answer (neither "
            "access_token nor error), not the OAuth JSON Sage ID answers with.",
        ),
        (
            "html-error-page",
            'The token endpoint answered HTTP 502 with an HTML page titled "502 Bad Gateway" '
            "(typically a proxy, firewall or gateway error page), not the OAuth JSON Sage ID "
            "answers with.",
        ),
    ],
)
def test_a_token_endpoint_that_is_not_oauth_is_named_so(
    doctor: Doctor, tmp_path: Path, fault: str, summary: str
) -> None:
    rule = FaultRule(fault, "identity", "/oauth/token$")  # type: ignore[arg-type]  # a known kind
    config = dataclasses.replace(scenario_config("healthy"), faults=(rule,))
    with running_emulator(config) as emulator:
        settings = env_file(tmp_path / "site.env", emulator.env())
        run = doctor("run", "--env", str(settings), "--only", "token.refresh")
    check = run.check("token.refresh")
    assert check["outcome"] == "failed"
    assert check["summary"] == summary


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_proxy_is_told_to_check_the_proxy(doctor: Doctor, tmp_path: Path) -> None:
    settings = env_file(
        tmp_path / "site.env",
        {"SAGE200_EDITION": "standard", "SAGE200_ACCESS_TOKEN": "tok-123"},
    )
    proxy = f"http://127.0.0.1:{closed_port()}"
    run = doctor("run", "--env", str(settings), env={"HTTPS_PROXY": proxy})
    assert run.code == 3
    step = "Next step: Check the proxy in HTTPS_PROXY / HTTP_PROXY: its host and port"
    assert step in run.stdout
    assert "Check both host names resolve" not in run.stdout
    page = html.unescape((run.report_dir / "report.html").read_text(encoding="utf-8"))
    next_box = page[page.index('class="s2d-next"') :]
    assert "Check the proxy in HTTPS_PROXY / HTTP_PROXY" in next_box[: next_box.index("</div>")]


# --- nothing left behind -----------------------------------------------------------------------


def test_demo_leaves_only_its_reports_in_the_current_directory(
    doctor: Doctor, tmp_path: Path
) -> None:
    cache = tmp_path.parent / f"{tmp_path.name}-cache"
    run = doctor("demo", "-q", env={"XDG_CACHE_HOME": str(cache)})
    assert run.code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]  # no .hypothesis/
    assert (cache / "sage200-doctor" / "hypothesis").is_dir()  # its caches went here
    shutil.rmtree(cache)


def test_a_chosen_hypothesis_directory_is_respected(doctor: Doctor, tmp_path: Path) -> None:
    chosen = tmp_path.parent / f"{tmp_path.name}-chosen"
    run = doctor("demo", "-q", env={"HYPOTHESIS_STORAGE_DIRECTORY": str(chosen)})
    assert run.code == 0
    assert chosen.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]
    shutil.rmtree(chosen)
