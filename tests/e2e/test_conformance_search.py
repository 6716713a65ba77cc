"""When hypothesis itself breaks off, the conformance search is inconclusive, never our error.

pytest-randomly reseeding the global random generator from another thread once made hypothesis
raise FlakyFailure inside customers.query_conformance, which ended the run in exit 5. A search
hypothesis could not finish says nothing about the server: the check reports it as a warning
and a fact, and keeps whatever it found before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.errors import FlakyFailure

from sage200_doctor.config.settings import load_settings
from sage200_doctor.emulator import running_emulator, scenario_config
from sage200_doctor.engine.control import RunInterrupted
from sage200_doctor.engine.results import CheckResult, Outcome
from sage200_doctor.engine.run import DiagnosticRun, RunOptions
from sage200_doctor.http import odata_search
from sage200_doctor.http.odata_search import SearchInconclusive, draw_soon, search

pytestmark = pytest.mark.e2e

CHECK = "customers.query_conformance"


def _flaky(*args: Any, **kwargs: Any) -> Any:
    raise FlakyFailure("Inconsistent results from replaying a test case!", [ValueError("x")])


def _breaks_when_shrinking(real: Any) -> Any:
    def find(*args: Any, **kwargs: Any) -> Any:
        if odata_search.Phase.shrink in kwargs["settings"].phases:
            _flaky()
        return real(*args, **kwargs)

    return find


def test_a_search_hypothesis_cannot_finish_is_inconclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(odata_search, "find", _flaky)
    with pytest.raises(SearchInconclusive, match="hypothesis stopped with FlakyFailure"):
        search(st.none(), lambda query: True, seed=1, max_examples=5)  # type: ignore[arg-type]
    with pytest.raises(SearchInconclusive):
        draw_soon(st.none(), seed=1, count=5).result()  # type: ignore[arg-type]


def test_the_runs_stop_still_stops_the_search() -> None:
    def stopped(query: object) -> bool:
        raise RunInterrupted

    with pytest.raises(RunInterrupted):
        search(st.integers(), stopped, seed=1, max_examples=5)  # type: ignore[arg-type]


def _conformance(scenario: str) -> CheckResult:
    with running_emulator(scenario_config(scenario)) as emulator:
        loaded = load_settings(None, environ=emulator.env(), default_env_file=Path("/absent.env"))
        result = DiagnosticRun(loaded, RunOptions(only=(CHECK,))).run()
    assert not [c.id for c in result.checks if c.outcome is Outcome.ERROR]
    return result.check(CHECK)


def test_a_draw_hypothesis_cannot_finish_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(odata_search, "find", _flaky)
    conformance = _conformance("healthy")
    assert conformance.outcome is Outcome.WARNING, conformance.summary
    assert conformance.summary.startswith("Query probing was incomplete: hypothesis stopped")
    assert "inconclusive" in str(conformance.facts["generated queries"])


def test_a_wrong_answer_found_before_hypothesis_broke_off_is_still_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(odata_search, "find", _breaks_when_shrinking(odata_search.find))
    conformance = _conformance("filter-and-as-or")
    assert conformance.outcome is Outcome.FAILED, conformance.summary
    assert "answered a query wrongly" in conformance.summary
    assert "inconclusive" in str(conformance.facts["generated queries"])
