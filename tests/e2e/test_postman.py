"""From a Postman export to a live diagnosis: `sage200-doctor postman … --write-env site.env` then
`sage200-doctor run --env site.env`, and `postman --run`, against a real loopback emulator. The
emulator's own request log proves what was sent: GETs only, and at most one token POST."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from sage200_doctor.emulator import running_emulator
from sage200_doctor.report.json import validate_report
from tests.e2e.conftest import CliRun
from tests.e2e.postman_exports import FIXTURES, emulator_collection, emulator_environment

pytestmark = pytest.mark.e2e

TRACE = "CANARY-trace-secret-51c0a9e4"
"""A secret variable of the environment sent in a header whose name says nothing (X-Trace)."""


def exports(directory: Path, env: dict[str, str], source: str = "article") -> list[str]:
    collection = emulator_collection(
        directory, env, source=FIXTURES / f"{source}.postman_collection.json", name=source
    )
    environment = emulator_environment(directory, env)
    return [
        str(collection),
        "--environment",
        str(environment),
        "--api-base-url",
        env["SAGE200_API_BASE_URL"],
    ]


@pytest.mark.parametrize(
    ("scenario", "root_cause"),
    [
        ("healthy", None),
        ("key-invalid", "gateway.subscription_key"),
        ("customers-forbidden", "customers.list"),
        ("refresh-revoked", "token.refresh"),
        ("site-not-listed", "sites.selection"),
    ],
)
def test_two_commands_from_a_postman_export_to_a_live_diagnosis(
    scenario: str, root_cause: str | None, tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    site_env = tmp_path / "site.env"
    with running_emulator(scenario) as emulator:
        args = exports(tmp_path, emulator.env())
        lint = doctor("postman", *args, "--write-env", str(site_env))
        sent_by_lint = list(emulator.request_log)
        live = doctor("run", "--env", str(site_env), "--report-dir", str(tmp_path / "live"))

    assert lint.code == 0, lint.stdout + lint.stderr  # the export itself follows the article
    assert sent_by_lint == []  # the lint sends nothing
    assert stat.S_IMODE(site_env.stat().st_mode) == 0o600
    assert f"Next: sage200-doctor run --env {site_env}" in lint.stdout
    report = live.report
    assert validate_report(report) == []
    if root_cause is None:
        assert live.code == 0, live.stdout + live.stderr
        assert report["verdict"] == "pass"
    else:
        assert live.code == 1, live.stdout + live.stderr
        assert report["root_cause"]["check"] == root_cause


@pytest.mark.parametrize(
    ("scenario", "root_cause"),
    [
        ("healthy", None),
        ("key-invalid", "gateway.subscription_key"),
        ("customers-forbidden", "customers.list"),
        ("refresh-revoked", "token.refresh"),
        ("site-not-listed", "sites.selection"),
    ],
)
def test_run_sends_the_collections_gets_and_diagnoses_them_as_run_does(
    scenario: str, root_cause: str | None, tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    with running_emulator(scenario) as emulator:
        checked = doctor("postman", *exports(tmp_path, emulator.env()), "--run")
        log = [(entry.method, entry.path) for entry in emulator.request_log]

    report = checked.report
    assert validate_report(report) == []
    assert (report["source"], report["input"]) == ("postman", "article.postman_collection.json")
    assert [entry for entry in log if entry[0] != "GET"] == [("POST", "/oauth/token")]
    rows = report_rows(report)
    assert [row["item"] for row in rows] == [
        "Sites/Get sites",
        "Customers/Get customers",
        "Customers/Filter using customer_id",
        "Customers/Filter using the $filter query parameter",
    ]
    assert {row["module"] for row in rows} == {"general", "sales"}
    if root_cause is None:
        assert checked.code == 0, checked.stdout + checked.stderr
        assert len(log) == 5
        assert {row["status"] for row in rows} == {200}
        assert {row["verdict"] for row in rows} == {"passed"}
        assert report["requests"]["sent"] == 5
    else:
        assert checked.code == 1, checked.stdout + checked.stderr
        assert report["root_cause"]["check"] == root_cause
        assert f"Root cause: {root_cause}" in checked.stdout
    for row in rows:
        assert f"{row['item']}" in checked.stdout


def report_rows(report: dict[str, object]) -> list[dict[str, object]]:
    checks = report["checks"]
    assert isinstance(checks, list)
    writes = next(entry for entry in checks if entry["id"] == "postman.writes")
    rows: list[dict[str, object]] = writes["facts"]["requests"]
    return rows


def test_writes_are_listed_never_sent(tmp_path: Path, doctor: Callable[..., CliRun]) -> None:
    with running_emulator("healthy") as emulator:
        args = exports(tmp_path, emulator.env(), source="caution-post-request")
        checked = doctor("postman", *args, "--run")
        log = [(entry.method, entry.path) for entry in emulator.request_log]

    assert checked.code == 0, checked.stdout + checked.stderr
    assert [entry for entry in log if entry[0] != "GET"] == [("POST", "/oauth/token")]
    writes = checked.check("postman.writes")
    assert writes["outcome"] == "warning"
    assert [g["id"] for g in writes["guidance"]] == ["guide.postman.writes"]
    create = next(
        r for r in writes["facts"]["requests"] if r["item"] == "Customers/Create customer"
    )
    assert create == {
        "item": "Customers/Create customer",
        "method": "POST",
        "module": "sales",
        "status": None,
        "verdict": "not sent: POST writes (postman.writes)",
    }
    assert "not sent: POST writes" in checked.stdout


def test_a_typed_header_without_its_space_is_sent_as_typed_and_denied(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    with running_emulator("healthy") as emulator:
        args = exports(tmp_path, emulator.env(), source="caution-bearer-no-space")
        checked = doctor("postman", *args, "--run")

    entry = checked.check("header.authorization")
    assert checked.code == 1
    assert checked.report["root_cause"]["check"] == "header.authorization"
    answered = [e for e in entry["evidence"] if e["response"] is not None]
    assert [e["request"]["headers"]["Authorization"] for e in answered] == ["Bearer[redacted]"]
    assert answered[0]["response"]["status"] == 401
    assert "Authorization has been denied for this request." in entry["details"]
    assert "request 'Manual token/Get sites (token typed by hand)'" in entry["details"]


def test_a_rotated_refresh_token_goes_to_the_written_env_file(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    site_env = tmp_path / "site.env"
    with running_emulator("rotating-refresh") as emulator:
        args = exports(tmp_path, emulator.env())
        checked = doctor("postman", *args, "--write-env", str(site_env), "--run")
        backup = (tmp_path / "site.env.bak").read_text(encoding="utf-8")
        saved = site_env.read_text(encoding="utf-8")
        live = doctor("run", "--env", str(site_env), "--report-dir", str(tmp_path / "live"))
        first_token = emulator.env()["SAGE200_REFRESH_TOKEN"]

    assert checked.code == 0, checked.stdout + checked.stderr
    assert "the one in the Postman environment no longer works" in checked.stdout
    assert first_token in backup
    assert first_token not in saved
    assert "SAGE200_REFRESH_TOKEN=" in saved
    assert live.code == 0, live.stdout + live.stderr  # the saved, rotated token works


def test_without_a_file_a_rotated_token_is_saved_in_the_home_folder(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    home = tmp_path / "home"
    home.mkdir()  # a missing home folder is never created: the token goes elsewhere then
    with running_emulator("rotating-refresh") as emulator:
        checked = doctor(
            "postman", *exports(tmp_path, emulator.env()), "--run", env={"HOME": str(home)}
        )

    assert checked.code == 0, checked.stdout + checked.stderr
    saved = list((home / ".sage200-doctor").glob("rotated-*.env"))
    assert len(saved) == 1
    assert f"saved to {saved[0]}" in checked.stdout


def test_run_with_an_env_file_uses_its_credentials(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    site_env = tmp_path / "own.env"
    with running_emulator("healthy") as emulator:
        env = emulator.env()
        site_env.write_text(
            "".join(f"{key}='{value}'\n" for key, value in env.items()), encoding="utf-8"
        )
        stale = {**env, "SAGE200_REFRESH_TOKEN": "stale-refresh-token-in-the-export-000"}
        checked = doctor("postman", *exports(tmp_path, stale), "--run", "--env", str(site_env))

    assert checked.code == 0, checked.stdout + checked.stderr
    assert checked.check("token.refresh")["outcome"] == "passed"


def test_the_exports_secrets_and_the_minted_token_reach_no_output(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    bundle = tmp_path / "support.zip"
    with running_emulator("healthy") as emulator:
        env = emulator.env()
        collection = emulator_collection(tmp_path, env)
        document = json.loads(collection.read_text(encoding="utf-8"))
        for folder in document["item"]:
            for item in folder["item"]:
                item["request"]["header"].append({"key": "X-Trace", "value": "{{traceSecret}}"})
        collection.write_text(json.dumps(document), encoding="utf-8")
        environment = emulator_environment(tmp_path, env, extra={"traceSecret": TRACE})
        checked = doctor(
            "postman",
            str(collection),
            "--environment",
            str(environment),
            "--api-base-url",
            env["SAGE200_API_BASE_URL"],
            "--run",
            "-v",
            "--bundle",
            str(bundle),
        )

    assert checked.code == 0, checked.stdout + checked.stderr
    secrets = [TRACE] + [
        env[key]
        for key in ("SAGE200_CLIENT_SECRET", "SAGE200_SUBSCRIPTION_KEY", "SAGE200_REFRESH_TOKEN")
    ]
    with zipfile.ZipFile(bundle) as archive:
        packed = [archive.read(name).decode("utf-8", "replace") for name in archive.namelist()]
    written = [path.read_text(encoding="utf-8") for path in checked.report_dir.iterdir()]
    for text in (checked.stdout, checked.stderr, *written, *packed):
        for secret in secrets:
            assert secret not in text
        assert "eyJ" not in text  # no JWT (the minted access token) in any form
    sent = checked.check("sites.list")["evidence"][0]["request"]["headers"]
    assert sent["Authorization"] == "Bearer [redacted]"
    assert sent["X-Trace"] == "[redacted:postman_export]"


def test_sigterm_stops_the_requests_and_still_reports(tmp_path: Path) -> None:
    from tests.e2e.conftest import cli_environment

    with running_emulator("healthy", latency_ms=500) as emulator:
        args = ["postman", *exports(tmp_path, emulator.env()), "--run"]
        process = subprocess.Popen(
            [sys.executable, "-m", "sage200_doctor", *args],
            cwd=tmp_path,
            env=cli_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            while not any(entry.method == "GET" for entry in emulator.request_log):
                assert process.poll() is None, process.communicate()
                time.sleep(0.02)
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        sent = [entry.method for entry in emulator.request_log]

    report = json.loads((tmp_path / "reports" / "report.json").read_text(encoding="utf-8"))
    assert process.returncode == 143, out + err
    assert report["verdict"] == "interrupted"
    assert report["interruption"]["exit_code"] == 143
    assert validate_report(report) == []
    assert len(sent) < 5  # the token POST and not every GET
    assert "not sent: the run was stopped" in out
