"""Progress while a run works: CI logs get one line per finished check and one per wait (so a
pause is explained); a terminal gets a live line that names the wait; -q gets nothing."""

from __future__ import annotations

import io

from sage200_doctor.engine.events import CheckFinished, CheckStarted, Waiting
from sage200_doctor.engine.registry import CheckSpec, all_checks
from sage200_doctor.engine.results import CheckResult, Outcome
from sage200_doctor.redact import Redactor
from sage200_doctor.report.progress import Progress, _Elapsed


def spec(check_id: str) -> CheckSpec:
    return next(s for s in all_checks() if s.id == check_id)


def feed(progress: Progress) -> None:
    progress(CheckStarted("customers.list", spec("customers.list").title))
    progress(Waiting(1.0))
    progress(Waiting(0.4))
    progress(
        CheckFinished(
            CheckResult("customers.list", 120, "t", Outcome.PASSED, "50 customer(s) read.")
        )
    )


def test_ci_lines_name_each_wait_and_each_finished_check() -> None:
    stream = io.StringIO()
    progress = Progress(Redactor(), stream=stream)
    assert not progress.live  # a StringIO is not a terminal
    feed(progress)
    assert stream.getvalue().splitlines() == [
        "  wait    customers.list               rate limited, retrying in 1 s",
        "  wait    customers.list               rate limited, retrying in 0.4 s",
        "  ok      customers.list               50 customer(s) read. (0 ms)",
    ]
    assert progress.listed


def test_quiet_prints_nothing() -> None:
    stream = io.StringIO()
    progress = Progress(Redactor(), stream=stream, quiet=True)
    feed(progress)
    assert stream.getvalue() == ""
    assert not progress.listed


def test_the_live_line_says_what_it_waits_for() -> None:
    line = _Elapsed("customers.list: Customers can be listed", 0.0, "rate limited, retrying in 3 s")
    text = line.__rich__()
    assert text.startswith("customers.list: Customers can be listed (")
    assert text.endswith(" s · rate limited, retrying in 3 s)")
