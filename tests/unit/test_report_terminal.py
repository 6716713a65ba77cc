"""The terminal summary: full and quiet forms, colour only when allowed (NO_COLOR wins)."""

from __future__ import annotations

import io
import re

import pytest

from sage200_doctor.engine.results import Outcome
from sage200_doctor.report.terminal import render_summary, supports_color
from tests.unit.test_report_json import sample_run

ANSI = re.compile(r"\033\[[0-9;]*m")


@pytest.fixture(autouse=True)
def _no_colour_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_COLOR", "FORCE_COLOR", "PY_COLORS", "TERM"):
        monkeypatch.delenv(name, raising=False)


def test_plain_summary_spells_outcomes_out() -> None:
    text = render_summary(sample_run(), color=False)
    assert not ANSI.search(text)
    assert text.splitlines()[0] == ("sage200-doctor: FAIL: the environment has a problem (exit 1)")
    assert "Root cause: gateway.subscription_key" in text
    assert "FAIL    gateway.subscription_key" in text
    assert "blocked header.authorization" in text
    assert "blocked by gateway.subscription_key" in text
    assert "Next step:" in text
    assert "https://developer.sage.com/200/guides/postman/" in text
    assert "✘" not in text
    assert "✔" not in text


def test_coloured_summary_uses_symbols_and_ansi() -> None:
    text = render_summary(sample_run(), color=True)
    assert "\033[1;31mRoot cause: gateway.subscription_key" in text
    assert "\033[31m✘\033[0m" in text
    assert ANSI.sub("", text).count("gateway.subscription_key") >= 2


def test_no_color_wins_over_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert not ANSI.search(render_summary(sample_run(), color=True))
    monkeypatch.setenv("NO_COLOR", "")  # empty means unset (no-color.org)
    assert ANSI.search(render_summary(sample_run(), color=True))


def test_quiet_form_is_the_verdict_and_the_root_cause() -> None:
    lines = render_summary(sample_run(), quiet=True).splitlines()
    assert lines[0].startswith("sage200-doctor: FAIL: the environment has a problem (exit 1)")
    assert lines[1].startswith("Root cause: gateway.subscription_key: The gateway requires")
    assert "[guidance: faq.postman.subscription-key https://" in lines[1]
    assert len(lines) == 2  # warnings, passed, skipped and blocked checks are not listed


def test_quiet_pass_is_a_single_line() -> None:
    run = sample_run(failing=False)
    run.checks = [c for c in run.checks if c.outcome is not Outcome.WARNING]
    lines = render_summary(run, quiet=True).splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("sage200-doctor: PASS")


def test_a_later_failure_is_also_found() -> None:
    run = sample_run()
    run.checks[3].outcome = Outcome.FAILED
    run.checks[3].blocked_by = None
    run.checks[3].summary = "The header was refused."
    text = render_summary(run)
    assert "Also found (1):" in text
    assert "The header was refused. (also found: a fault of its own)" in text
    assert "Also found: header.authorization" in render_summary(run, quiet=True)


def test_server_control_characters_never_reach_the_terminal() -> None:
    run = sample_run()
    run.checks[1].summary = "evil \x1b]0;owned\x07 \r ok \u202e"
    text = render_summary(run)
    assert "\x1b" not in text.replace("\\x1b", "")
    for control in ("\x07", "\r", "\u202e"):
        assert control not in text
    assert "\\x1b]0;owned\\x07" in text


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_supports_color(monkeypatch: pytest.MonkeyPatch) -> None:
    assert supports_color(_Tty())
    assert not supports_color(io.StringIO())
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert supports_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not supports_color(_Tty())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.delenv("FORCE_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not supports_color(_Tty())


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("live", "PASS: the API set-up works"),
        ("recorded", "PASS: nothing wrong in what the capture shows"),
        ("postman", "PASS: nothing wrong in the collection"),
    ],
)
def test_a_pass_says_what_was_examined(source: str, says: str) -> None:
    """A clean capture or collection is not a working set-up: only a live run may say so."""
    run = sample_run(failing=False)
    run.source = source
    text = render_summary(run)
    assert text.splitlines()[0].startswith(f"sage200-doctor: {says} (exit 0)")
    works = "point your integration at the same settings" in text
    assert works is (source == "live")
