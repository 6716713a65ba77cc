"""The rotation gate, baselines and drift against a real emulator on 127.0.0.1.

The `run_gate` tests call `sage200_doctor.commands.rotation` directly (each side is an ordinary
in-process `run`). The tests at the end drive the CLI wiring (`rotation`, `diff`,
`run/demo --baseline`) in a subprocess: they pass once cli.py registers those commands.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from sage200_doctor.commands import build_parser
from sage200_doctor.commands.rotation import GateResult, GateUsageError, run_gate
from sage200_doctor.emulator import RunningEmulator, format_env_lines, running_emulator
from sage200_doctor.emulator.config import DEFAULT_SCOPE
from sage200_doctor.emulator.scenarios import with_settings
from sage200_doctor.emulator.state import RefreshGrant
from tests.e2e.conftest import CliRun

pytestmark = pytest.mark.e2e

NEW_KEY = "new-subscription-key-0123456789"
OLD_KEY = "old-subscription-key-9876543210"
NEW_SECRET = "new-client-secret-abcdefghijklmnop"
OLD_SECRET = "old-client-secret-qrstuvwxyz012345"


@contextmanager
def emulator(scenario: str = "healthy", **settings: Any) -> Iterator[RunningEmulator]:
    config = with_settings(
        scenario,
        subscription_key=NEW_KEY,
        client_secret=NEW_SECRET,
        **settings,
    )
    with running_emulator(config) as running:
        yield running


def write_env(path: Path, env: dict[str, str]) -> Path:
    path.write_text(format_env_lines(env), encoding="utf-8")
    return path


def second_refresh_token(running: RunningEmulator) -> str:
    """Another valid refresh token of the same client, as a second sign-in would give.

    The emulator has no public way to mint one without driving its consent page, so this reaches
    into its state (tests only)."""
    state = running._state
    grant = RefreshGrant(
        running.config.client_id,
        tuple(DEFAULT_SCOPE.split()),
        running.config.audience_to_issue,
        consented_at=time.time(),
    )
    return state.issue_refresh_token(grant)


def refreshed(running: RunningEmulator, refresh_token: str) -> str:
    """The refresh token a rotating identity server hands back for `refresh_token`."""
    answer = httpx.post(
        f"{running.base_url}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(running.config.client_id, NEW_SECRET),
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["refresh_token"]
    return token


def gate(tmp_path: Path, old: dict[str, str], new: dict[str, str], **options: Any) -> GateResult:
    options.setdefault("expect_old_revoked", True)
    return run_gate(
        write_env(tmp_path / "old.env", old),
        write_env(tmp_path / "new.env", new),
        report_dir=tmp_path / "gate",
        quiet=True,
        **options,
    )


def gate_report(tmp_path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "gate" / "report.json").read_text("utf-8"))
    return data


def assert_no_secret_written(tmp_path: Path, *secrets: str) -> None:
    for path in (tmp_path / "gate").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html", ".xml"):
            text = path.read_text(encoding="utf-8")
            for secret in secrets:
                assert secret not in text, (path, secret[:4])


# --- the gate holds ---------------------------------------------------------------------------


def test_a_rotated_subscription_key_passes_when_the_old_one_is_refused(tmp_path: Path) -> None:
    with emulator() as running:
        new = running.env()
        result = gate(tmp_path, {**new, "SAGE200_SUBSCRIPTION_KEY": OLD_KEY}, new)
        refresh = new["SAGE200_REFRESH_TOKEN"]
    assert result.gate == "pass", result.reasons
    assert result.changed == ["subscription key"]
    report = gate_report(tmp_path)
    assert report["schema"] == "sage200-doctor/rotation@1"
    assert report["gate"] == "pass"
    assert report["new"]["verdict"] == "pass"
    assert report["old"]["root_cause"]["check"] == "gateway.subscription_key"
    assert report["expectations"][0]["held"] is True
    for side in ("new", "old"):
        assert (tmp_path / "gate" / side / "report.json").is_file()
        assert (tmp_path / "gate" / side / "report.html").is_file()
    page = (tmp_path / "gate" / "report.html").read_text("utf-8")
    assert "Rotation gate: PASS" in page
    assert 'href="old/report.html"' in page
    assert_no_secret_written(tmp_path, NEW_KEY, OLD_KEY, NEW_SECRET, refresh)


def test_a_rotated_client_secret_passes_when_the_old_one_is_invalid_client(
    tmp_path: Path,
) -> None:
    with emulator() as running:
        new = running.env()
        result = gate(tmp_path, {**new, "SAGE200_CLIENT_SECRET": OLD_SECRET}, new)
    assert result.gate == "pass", result.reasons
    assert result.changed == ["client secret"]
    expectation = gate_report(tmp_path)["expectations"][0]
    assert expectation["step"] == "token.refresh"
    assert "invalid_client" in expectation["observed"]
    assert_no_secret_written(tmp_path, NEW_SECRET, OLD_SECRET)


def test_a_rotated_refresh_token_passes_when_the_old_one_is_invalid_grant(
    tmp_path: Path,
) -> None:
    with emulator("rotating-refresh") as running:
        old = running.env()
        new = {**old, "SAGE200_REFRESH_TOKEN": refreshed(running, old["SAGE200_REFRESH_TOKEN"])}
        result = gate(tmp_path, old, new)
    assert result.gate == "pass", result.reasons
    assert result.changed == ["refresh token"]
    assert "invalid_grant" in gate_report(tmp_path)["expectations"][0]["observed"]
    # The new run rotated the new token again and wrote it back where it came from.
    assert (tmp_path / "new.env.bak").is_file()
    assert_no_secret_written(tmp_path, old["SAGE200_REFRESH_TOKEN"], new["SAGE200_REFRESH_TOKEN"])


def test_a_refresh_token_hidden_behind_a_refused_secret_is_probed_on_its_own(
    tmp_path: Path,
) -> None:
    with emulator("rotating-refresh") as running:
        old = running.env()
        new = {**old, "SAGE200_REFRESH_TOKEN": refreshed(running, old["SAGE200_REFRESH_TOKEN"])}
        result = gate(tmp_path, {**old, "SAGE200_CLIENT_SECRET": OLD_SECRET}, new)
    assert result.gate == "pass", result.reasons
    assert result.changed == ["client secret", "refresh token"]
    report = gate_report(tmp_path)
    refresh = next(e for e in report["expectations"] if e["credential"] == "refresh token")
    assert refresh["held"] is True
    assert refresh["report"] == "old-refresh-token"
    [probe] = report["probes"]
    assert (probe["credential"], probe["dir"]) == ("refresh token", "old-refresh-token")
    assert probe["report"]["checks"][-1]["id"] == "token.refresh"
    assert (tmp_path / "gate" / "old-refresh-token" / "report.json").is_file()


def test_without_the_flag_only_the_new_settings_run(tmp_path: Path) -> None:
    with emulator() as running:
        new = running.env()
        result = gate(
            tmp_path, {**new, "SAGE200_SUBSCRIPTION_KEY": OLD_KEY}, new, expect_old_revoked=False
        )
    assert result.gate == "pass", result.reasons
    report = gate_report(tmp_path)
    assert report["old"] is None
    assert report["expectations"] == []
    assert not (tmp_path / "gate" / "old").exists()
    assert any("were not tried" in reason for reason in report["reasons"])


# --- the gate does not hold -------------------------------------------------------------------


def test_an_old_subscription_key_that_still_works_fails_the_gate(tmp_path: Path) -> None:
    with emulator(secondary_subscription_key=OLD_KEY) as running:
        new = running.env()
        result = gate(tmp_path, {**new, "SAGE200_SUBSCRIPTION_KEY": OLD_KEY}, new)
    assert result.gate == "fail"
    assert any("subscription key" in r and "still accepted" in r for r in result.reasons)
    assert gate_report(tmp_path)["gate"] == "fail"
    assert "Rotation gate: FAIL" in (tmp_path / "gate" / "report.html").read_text("utf-8")


def test_an_old_refresh_token_that_still_works_fails_the_gate(tmp_path: Path) -> None:
    with emulator() as running:
        old = running.env()
        new = {**old, "SAGE200_REFRESH_TOKEN": second_refresh_token(running)}
        result = gate(tmp_path, old, new)
    assert result.gate == "fail"
    assert any("refresh token" in r and "invalid_grant" in r for r in result.reasons)


def test_the_probe_catches_an_old_refresh_token_that_still_works(tmp_path: Path) -> None:
    with emulator() as running:
        old = {**running.env(), "SAGE200_CLIENT_SECRET": OLD_SECRET}
        new = {**running.env(), "SAGE200_REFRESH_TOKEN": second_refresh_token(running)}
        result = gate(tmp_path, old, new)
    assert result.gate == "fail"
    failing = [r for r in result.reasons if "refresh token" in r]
    assert failing
    assert "on its own" in failing[0]
    assert any("client secret is refused" in r for r in result.reasons)


def test_new_settings_that_do_not_pass_fail_the_gate(tmp_path: Path) -> None:
    with emulator() as running:
        old = running.env()
        result = gate(tmp_path, old, {**old, "SAGE200_SUBSCRIPTION_KEY": OLD_KEY})
    assert result.gate == "fail"
    assert any("do not pass a full run" in r for r in result.reasons)
    assert gate_report(tmp_path)["new"]["verdict"] == "fail"


def test_nothing_rotated_fails_the_gate(tmp_path: Path) -> None:
    with emulator() as running:
        env = running.env()
        result = gate(tmp_path, env, dict(env))
    assert result.gate == "fail"
    assert any("nothing was rotated" in r for r in result.reasons)


# --- usage errors -----------------------------------------------------------------------------


def test_the_same_file_twice_is_a_usage_error(tmp_path: Path) -> None:
    path = write_env(tmp_path / "one.env", {"SAGE200_CLIENT_ID": "x"})
    with pytest.raises(GateUsageError, match="same file"):
        run_gate(path, path, report_dir=tmp_path / "gate", expect_old_revoked=True)


def test_an_unreadable_env_file_is_a_usage_error(tmp_path: Path) -> None:
    path = write_env(tmp_path / "one.env", {"SAGE200_CLIENT_ID": "x"})
    with pytest.raises(GateUsageError, match="does not exist"):
        run_gate(tmp_path / "nope.env", path, report_dir=tmp_path / "gate", expect_old_revoked=True)


def test_a_credential_in_the_environment_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAGE200_SUBSCRIPTION_KEY", "from-the-environment-123")
    old = write_env(tmp_path / "old.env", {"SAGE200_SUBSCRIPTION_KEY": OLD_KEY})
    new = write_env(tmp_path / "new.env", {"SAGE200_SUBSCRIPTION_KEY": NEW_KEY})
    with pytest.raises(GateUsageError, match="override both env files"):
        run_gate(old, new, report_dir=tmp_path / "gate", expect_old_revoked=True)


# --- the baseline inside a real run --------------------------------------------------------


def test_the_baseline_marks_the_reports_before_they_are_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sage200_doctor.commands import main

    path = tmp_path / "baseline.toml"
    path.write_text(BASELINE, encoding="utf-8")
    with emulator("sites-empty") as running:
        env_file = write_env(tmp_path / "run.env", running.env())
        code = main(
            [
                "run",
                "--env",
                str(env_file),
                "--report-dir",
                str(tmp_path / "reports"),
                "--baseline",
                str(path),
            ]
        )
    assert code == 0
    report = json.loads((tmp_path / "reports" / "report.json").read_text("utf-8"))
    assert report["verdict"] == "pass"
    entry = next(c for c in report["checks"] if c["id"] == "sites.list")
    assert (entry["outcome"], entry["accepted"]["expires"]) == ("failed", "2999-12-31")
    out = capsys.readouterr().out
    assert "PASS" in out
    assert out.index("sage200-doctor: PASS") < out.index("accepted sites.list until 2999-12-31")
    # The HTML page is rendered from the same (baselined) result: its banner shows exit 0.
    assert "exit code 0" in (tmp_path / "reports" / "report.html").read_text("utf-8")


# --- the CLI wiring (passes once cli.py registers rotation, diff and --baseline) -------------


def test_the_cli_offers_rotation_diff_and_baseline() -> None:
    parser = build_parser()
    args = parser.parse_args(["rotation", "--old", "a", "--new", "b", "--expect-old-revoked"])
    assert args.expect_old_revoked
    assert parser.parse_args(["diff", "a.json", "b.json", "--json"]).json
    assert parser.parse_args(["run", "--baseline", "b.toml"]).baseline == "b.toml"
    assert parser.parse_args(["demo", "--baseline", "b.toml"]).baseline == "b.toml"


def test_rotation_command_exit_codes(tmp_path: Path, doctor: Callable[..., CliRun]) -> None:
    with emulator() as running:
        new = write_env(tmp_path / "new.env", running.env())
        old = write_env(
            tmp_path / "old.env", {**running.env(), "SAGE200_SUBSCRIPTION_KEY": OLD_KEY}
        )
        holds = doctor("rotation", "--old", str(old), "--new", str(new), "--expect-old-revoked")
        broken = doctor("rotation", "--old", str(new), "--new", str(old), "--expect-old-revoked")
    assert holds.code == 0, holds.stdout + holds.stderr
    assert "Rotation gate: PASS" in holds.stdout
    assert (tmp_path / "reports" / "rotation" / "report.json").is_file()
    assert broken.code == 1
    assert doctor("rotation", "--old", str(new)).code == 4
    assert doctor("rotation", "--old", str(new), "--new", str(tmp_path / "none.env")).code == 4


BASELINE = """
[[accept]]
check = "sites.list"
reason = "site migration in progress (ticket OPS-42)"
expires = 2999-12-31
"""


def test_demo_with_a_baseline_accepts_the_finding(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    (tmp_path / "baseline.toml").write_text(BASELINE, encoding="utf-8")
    run = doctor("demo", "--scenario", "sites-empty", "--baseline", "baseline.toml")
    assert run.code == 0, run.stdout + run.stderr
    entry = run.check("sites.list")
    assert entry["outcome"] == "failed"
    assert entry["accepted"]["expires"] == "2999-12-31"
    assert run.report["verdict"] == "pass"
    assert run.report["root_cause"] is None
    assert run.report["baseline"]["accepted"][0]["check"] == "sites.list"
    assert "accepted sites.list until 2999-12-31" in run.stdout


def test_an_expired_acceptance_no_longer_applies(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    (tmp_path / "baseline.toml").write_text(
        BASELINE.replace("2999-12-31", "2001-01-31"), encoding="utf-8"
    )
    run = doctor("demo", "--scenario", "sites-empty", "--baseline", "baseline.toml")
    assert run.code == 1
    assert "accepted" not in run.check("sites.list")
    assert run.report["baseline"]["expired"][0]["check"] == "sites.list"
    assert "EXPIRED" in run.stdout


def test_a_stale_acceptance_is_reported(tmp_path: Path, doctor: Callable[..., CliRun]) -> None:
    (tmp_path / "baseline.toml").write_text(BASELINE, encoding="utf-8")
    run = doctor("demo", "--baseline", "baseline.toml")
    assert run.code == 0
    assert run.report["baseline"]["stale"][0]["check"] == "sites.list"
    assert "stale" in run.stdout


def test_a_bad_baseline_is_a_usage_error(tmp_path: Path, doctor: Callable[..., CliRun]) -> None:
    (tmp_path / "baseline.toml").write_text('[[accept]]\ncheck = "sites.lst"\n', encoding="utf-8")
    run = doctor("demo", "--baseline", "baseline.toml")
    assert run.code == 4
    assert "sites.list" in run.stderr  # the did-you-mean
    assert "reason" in run.stderr


def test_diff_command_exit_codes(tmp_path: Path, doctor: Callable[..., CliRun]) -> None:
    healthy = doctor("demo", "--report-dir", str(tmp_path / "a"))
    broken = doctor("demo", "--scenario", "sites-empty", "--report-dir", str(tmp_path / "b"))
    assert (healthy.code, broken.code) == (0, 1)
    a, b = str(tmp_path / "a" / "report.json"), str(tmp_path / "b" / "report.json")
    same = doctor("diff", a, a)
    assert same.code == 0, same.stderr
    assert "No difference" in same.stdout
    drift = doctor("diff", a, b, "--json")
    assert drift.code == 1
    data = json.loads(drift.stdout)
    assert data["verdict"] == {"a": "pass", "b": "fail"}
    assert data["companies"]["only_a"]
    (tmp_path / "junk.json").write_text("{}", encoding="utf-8")
    assert doctor("diff", a, str(tmp_path / "junk.json")).code == 4
