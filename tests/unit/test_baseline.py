"""Baselines: loading and validating the TOML file, and applying it to a run (a pure function)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from sage200_doctor.engine.baseline import (
    Accept,
    Baseline,
    BaselineError,
    apply_baseline,
    load_baseline,
    parse_baseline,
)
from sage200_doctor.engine.results import Acceptance, CheckResult, Outcome, RunResult, Verdict
from sage200_doctor.redact import Redactor
from sage200_doctor.report.json import build_report, validate_report
from sage200_doctor.report.terminal import baseline_lines

KNOWN = ("config.values", "token.refresh", "sites.list", "api.schema", "customers.filter")
BASE_URL = "https://api.columbus.sage.com/uk/sage200extra/accounts/v1/"
SITE = "6800e15c-6a18-4a3d-bc22-a09f89ac2d01"
TODAY = date(2026, 11, 23)


def result(*checks: CheckResult) -> RunResult:
    environment = {
        "edition": "professional",
        "api_base_url": BASE_URL,
        "token_url": "https://id.sage.com/oauth/token",
        "site_id": SITE,
        "company_id": "33",
    }
    return RunResult("2026-11-23T12:00:00Z", 1.0, environment, list(checks))


def check(check_id: str, order: int, outcome: Outcome, summary: str = "") -> CheckResult:
    guidance = ("guide.config",) if outcome in (Outcome.FAILED, Outcome.WARNING) else ()
    blocked_by = "sites.list" if outcome is Outcome.BLOCKED else None
    return CheckResult(
        check_id,
        order,
        check_id,
        outcome,
        summary=summary or f"{check_id} {outcome.value}",
        guidance_ids=guidance,
        blocked_by=blocked_by,
    )


def accept(check_id: str, expires: date = date(2027, 1, 31), **extra: str) -> Accept:
    return Accept(check_id, "ticket OPS-42", expires, **extra)


def baseline(*entries: Accept) -> Baseline:
    return Baseline(entries, source="baseline.toml")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "baseline.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- loading ---------------------------------------------------------------------------------


def test_a_valid_file_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[accept]]
check = "api.schema"
reason = "  company_id as a string; SUP-1  "
expires = 2027-01-31
environment = "https://api.columbus.sage.com/uk/sage200extra/accounts/v1/"

[[accept]]
check = "sites.list"
reason = "migration"
expires = "2027-02-01"
match = "empty list"

[[accept]]
check = "token.refresh"
reason = "datetime is fine too"
expires = 2027-03-01T10:00:00Z
""",
    )
    loaded = load_baseline(path, known_checks=KNOWN)
    first, second, third = loaded.entries
    assert first == Accept(
        "api.schema", "company_id as a string; SUP-1", date(2027, 1, 31), BASE_URL
    )
    assert (second.expires, second.match) == (date(2027, 2, 1), "empty list")
    assert third.expires == date(2027, 3, 1)
    assert loaded.source == str(path)


def test_an_empty_file_is_an_empty_baseline(tmp_path: Path) -> None:
    assert load_baseline(write(tmp_path, ""), known_checks=KNOWN).entries == ()


def test_known_checks_default_to_the_declared_ones(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[[accept]]\ncheck = "token.expiry"\nreason = "r"\nexpires = 2027-01-01\n'
    )
    assert load_baseline(path).entries[0].check == "token.expiry"


def test_every_problem_is_named_at_once() -> None:
    data = {
        "acept": [],
        "accept": [
            {"check": "sites.lst", "reason": "", "expires": "soon", "enviroment": "x"},
            {"reason": "r", "expires": date(2027, 1, 1), "match": ""},
            "not a table",
        ],
    }
    with pytest.raises(BaselineError) as caught:
        parse_baseline(data, known_checks=KNOWN, source="b.toml")
    message = str(caught.value)
    assert message.startswith("the baseline b.toml cannot be used:")
    assert "unknown top-level key 'acept'" in message
    assert (
        "[[accept]] #1: 'check' names unknown check 'sites.lst'; did you mean 'sites.list'?"
        in message
    )
    assert "[[accept]] #1: unknown key 'enviroment'; did you mean 'environment'?" in message
    assert "[[accept]] #1: 'reason'" in message
    assert "[[accept]] #1: 'expires'" in message
    assert "[[accept]] #2: 'check'" in message
    assert "[[accept]] #2: 'match' must be a non-empty string" in message
    assert "[[accept]] #3: is not a table" in message


def test_accept_must_be_an_array_of_tables() -> None:
    with pytest.raises(BaselineError, match=r"array of tables"):
        parse_baseline({"accept": {"check": "x"}}, known_checks=KNOWN)


def test_a_file_that_is_not_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[[accept]]\ncheck = "api.schema\n')
    with pytest.raises(BaselineError, match=r"not valid TOML: .*line 2"):
        load_baseline(path, known_checks=KNOWN)


def test_an_unreadable_file_is_a_baseline_error(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="cannot read the baseline"):
        load_baseline(tmp_path / "missing.toml", known_checks=KNOWN)
    (tmp_path / "latin.toml").write_bytes(b'[[accept]]\nreason = "caf\xe9"\n')
    with pytest.raises(BaselineError, match="cannot read the baseline"):
        load_baseline(tmp_path / "latin.toml", known_checks=KNOWN)


# --- applying -------------------------------------------------------------------------------


def test_an_accepted_failure_no_longer_decides_the_verdict() -> None:
    run = result(
        check("sites.list", 100, Outcome.FAILED), check("api.schema", 150, Outcome.BLOCKED)
    )
    assert run.verdict is Verdict.FAIL
    applied = apply_baseline(run, baseline(accept("sites.list")), TODAY)
    accepted = applied.check("sites.list")
    assert accepted.outcome is Outcome.FAILED  # the outcome stays
    assert accepted.accepted == Acceptance("ticket OPS-42", "2027-01-31")
    assert (applied.verdict, applied.exit_code, applied.root_cause) == (Verdict.PASS, 0, None)
    assert applied.baseline is not None
    assert applied.baseline["accepted"] == [
        {"check": "sites.list", "reason": "ticket OPS-42", "expires": "2027-01-31"}
    ]
    # Pure: the run it was given is unchanged.
    assert run.check("sites.list").accepted is None
    assert run.baseline is None


def test_the_root_cause_moves_to_the_first_failure_not_accepted() -> None:
    run = result(
        check("sites.list", 100, Outcome.FAILED),
        check("customers.filter", 130, Outcome.FAILED),
    )
    applied = apply_baseline(run, baseline(accept("sites.list")), TODAY)
    root = applied.root_cause
    assert root is not None
    assert root.id == "customers.filter"
    assert applied.verdict is Verdict.FAIL


def test_an_accepted_config_failure_leaves_the_next_verdict() -> None:
    run = result(
        check("config.values", 20, Outcome.FAILED), check("token.refresh", 60, Outcome.FAILED)
    )
    assert run.verdict is Verdict.CONFIG_ERROR
    assert apply_baseline(run, baseline(accept("config.values")), TODAY).verdict is Verdict.FAIL


def test_an_accepted_warning_is_marked() -> None:
    run = result(check("api.schema", 150, Outcome.WARNING))
    applied = apply_baseline(run, baseline(accept("api.schema")), TODAY)
    assert applied.check("api.schema").accepted is not None
    assert applied.verdict is Verdict.PASS


def test_an_acceptance_applies_through_its_expiry_date_and_not_after() -> None:
    run = result(check("sites.list", 100, Outcome.FAILED))
    entry = accept("sites.list", expires=TODAY)
    assert apply_baseline(run, baseline(entry), TODAY).verdict is Verdict.PASS
    later = apply_baseline(run, baseline(entry), date(2026, 11, 24))
    assert later.verdict is Verdict.FAIL
    assert later.check("sites.list").accepted is None
    assert later.baseline is not None
    assert later.baseline["expired"] == [entry.describe()]
    assert later.baseline["stale"] == []


def test_a_current_entry_wins_over_an_expired_one_for_the_same_check() -> None:
    run = result(check("sites.list", 100, Outcome.FAILED))
    old, new = accept("sites.list", expires=date(2026, 1, 1)), accept("sites.list")
    applied = apply_baseline(run, baseline(old, new), TODAY)
    assert applied.verdict is Verdict.PASS
    assert applied.baseline is not None
    assert applied.baseline["expired"] == []


def test_an_acceptance_whose_finding_is_gone_is_stale() -> None:
    run = result(
        check("sites.list", 100, Outcome.PASSED), check("api.schema", 150, Outcome.SKIPPED)
    )
    applied = apply_baseline(run, baseline(accept("sites.list"), accept("api.schema")), TODAY)
    assert applied.baseline is not None
    assert [entry["check"] for entry in applied.baseline["stale"]] == ["sites.list", "api.schema"]


def test_a_check_that_did_not_run_makes_nothing_stale() -> None:
    run = result(
        check("sites.list", 100, Outcome.FAILED), check("api.schema", 150, Outcome.BLOCKED)
    )
    entries = baseline(accept("api.schema"), accept("customers.filter"))
    applied = apply_baseline(run, entries, TODAY)
    assert applied.baseline is not None
    assert applied.baseline["stale"] == []
    assert applied.verdict is Verdict.FAIL


def test_match_narrows_the_acceptance_to_one_finding() -> None:
    entry = accept("sites.list", match="EMPTY LIST")
    empty = result(check("sites.list", 100, Outcome.FAILED, "GET sites answered an empty list"))
    assert apply_baseline(empty, baseline(entry), TODAY).verdict is Verdict.PASS
    other = result(check("sites.list", 100, Outcome.FAILED, "GET sites was denied (HTTP 401)"))
    applied = apply_baseline(other, baseline(entry), TODAY)
    assert applied.verdict is Verdict.FAIL
    assert applied.baseline is not None
    assert applied.baseline["stale"] == [entry.describe()]  # the accepted finding is gone


@pytest.mark.parametrize(
    "place", [BASE_URL, BASE_URL.rstrip("/").upper(), SITE.upper(), f"  {SITE}  "]
)
def test_environment_matches_the_base_url_or_the_site(place: str) -> None:
    run = result(check("sites.list", 100, Outcome.FAILED))
    applied = apply_baseline(run, baseline(accept("sites.list", environment=place)), TODAY)
    assert applied.verdict is Verdict.PASS


def test_an_entry_for_another_environment_is_ignored_entirely() -> None:
    run = result(check("sites.list", 100, Outcome.FAILED), check("api.schema", 150, Outcome.PASSED))
    elsewhere = "https://uat.example.com/api/"
    entries = baseline(
        accept("sites.list", environment=elsewhere), accept("api.schema", environment=elsewhere)
    )
    applied = apply_baseline(run, entries, TODAY)
    assert applied.verdict is Verdict.FAIL
    assert applied.baseline == {
        "file": "baseline.toml",
        "accepted": [],
        "expired": [],
        "stale": [],
    }


def test_an_internal_error_is_never_accepted() -> None:
    run = result(check("api.schema", 150, Outcome.ERROR))
    applied = apply_baseline(run, baseline(accept("api.schema")), TODAY)
    assert applied.check("api.schema").accepted is None
    assert applied.verdict is Verdict.INTERNAL_ERROR
    assert applied.baseline is not None
    assert applied.baseline["stale"] == []


# --- reporting -------------------------------------------------------------------------------


def test_report_json_carries_the_acceptance_and_stays_valid() -> None:
    run = result(
        check("config.values", 20, Outcome.PASSED),
        check("sites.list", 100, Outcome.FAILED),
        check("api.schema", 150, Outcome.BLOCKED),
    )
    applied = apply_baseline(run, baseline(accept("sites.list"), accept("config.values")), TODAY)
    report = build_report(applied, Redactor())
    entry = next(c for c in report["checks"] if c["id"] == "sites.list")
    assert entry["outcome"] == "failed"
    assert entry["accepted"] == {"reason": "ticket OPS-42", "expires": "2027-01-31"}
    assert "accepted" not in report["checks"][0]
    assert (report["verdict"], report["exit_code"], report["root_cause"]) == ("pass", 0, None)
    assert report["baseline"]["stale"][0]["check"] == "config.values"
    assert validate_report(report) == []


def test_a_run_without_a_baseline_has_no_baseline_key() -> None:
    report = build_report(result(check("sites.list", 100, Outcome.PASSED)), Redactor())
    assert "baseline" not in report
    assert "accepted" not in report["checks"][0]


def test_the_notes_say_what_applied_what_expired_and_what_is_stale() -> None:
    run = result(
        check("sites.list", 100, Outcome.FAILED),
        check("customers.filter", 130, Outcome.FAILED),
        check("api.schema", 150, Outcome.PASSED),
    )
    entries = baseline(
        accept("sites.list"),
        accept("customers.filter", expires=date(2026, 11, 1)),
        accept("api.schema"),
    )
    lines = baseline_lines(apply_baseline(run, entries, TODAY).baseline)
    assert lines[0] == "Baseline baseline.toml:"
    assert lines[1].startswith("  accepted sites.list until 2027-01-31: ticket OPS-42")
    assert lines[2].startswith("  EXPIRED  customers.filter: the acceptance ended 2026-11-01")
    assert lines[3].startswith("  stale    api.schema: the accepted finding no longer occurs")
    assert baseline_lines(None) == []
    nothing = apply_baseline(run, baseline(), TODAY).baseline
    assert baseline_lines(nothing) == [
        "Baseline baseline.toml:",
        "  no entry applies to this environment.",
    ]
