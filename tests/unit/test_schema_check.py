"""api.schema validates each distinct record once and reports it where it was first seen."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from sage200_doctor.checks.schema import check_responses_match_documented_shapes
from sage200_doctor.engine.registry import CheckWarning
from sage200_doctor.redact import Redactor
from sage200_doctor.rules.schema import not_yet_validated

GOOD = {"site_id": "s1", "site_name": "Main", "company_id": 1, "company_name": "Co"}
DRIFTED = {**GOOD, "company_id": "1"}


def _run(*bodies: tuple[str, str, Any]) -> Any:
    return SimpleNamespace(seen_bodies=list(bodies), redactor=Redactor())


def test_a_record_seen_twice_is_validated_once() -> None:
    validated: set[str] = set()
    rows, positions = not_yet_validated("sites", [GOOD, DRIFTED], validated)
    assert (rows, positions) == ([GOOD, DRIFTED], [0, 1])
    again, where = not_yet_validated("sites", [DRIFTED, GOOD, {**GOOD, "site_id": "s2"}], validated)
    assert again == [{**GOOD, "site_id": "s2"}]
    assert where == [2]
    assert not_yet_validated("sites", [GOOD], validated)[0] is None


def test_a_drifted_record_is_reported_at_its_first_place_only() -> None:
    run = _run(("sites", "u1", [GOOD, DRIFTED]), ("sites", "u2", [DRIFTED]))
    with pytest.raises(CheckWarning) as raised:
        check_responses_match_documented_shapes(run)
    lines = raised.value.detail.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("sites at 1/company_id")
    assert lines[0].endswith("[u1]")


def test_distinct_well_formed_records_pass() -> None:
    run = _run(("sites", "u1", [GOOD]), ("sites", "u2", [{**GOOD, "site_id": "s2"}]))
    assert "2 answer(s) match" in check_responses_match_documented_shapes(run)
