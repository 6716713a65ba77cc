"""Query generation for the conformance probes: hypothesis strategies over a sample's own values.

Literals are drawn from the sample (so that filters match something), nudged (a cent, a second,
a day, the other letter case, a substring) and mixed with awkward strings (apostrophes, letters
beyond ASCII). The search runs `hypothesis.find`, derandomised by an explicit seed and without an
example database, so the same sample gives the same probes and the same shrunk query every time.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from random import Random
from typing import Any

from hypothesis import Phase, Verbosity, find, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException, NoSuchExample, Unsatisfiable

from sage200_doctor.http.odata_eval import Row, StringRules
from sage200_doctor.http.odata_gen import Capabilities, sample_values, sort_fields
from sage200_doctor.http.odata_tree import And, Call, Compare, Expr, Kind, Not, Or, Query, Value

HYPOTHESIS_ERRORS = (HypothesisException, ExceptionGroup)
"""What hypothesis raises when its own run breaks (FlakyFailure is both). Not a
BaseExceptionGroup: one holding the run's stop (RunInterrupted) must still stop the run."""
AWKWARD_STRINGS = ("O'Brien", "'", "''", "Café", "Zürich", "Łódź", "Ōtake", "Søren", "a'b", "&")
_AWKWARD_LETTERS = "aAeEéÉüÜ'&Z0 "
_STEPS = (timedelta(0), timedelta(seconds=1), timedelta(hours=1), timedelta(days=1))


def _strings(values: list[str]) -> st.SearchStrategy[str]:
    sampled = st.sampled_from(values)
    pieces = st.builds(
        lambda text, start, size: text[start : start + size],
        sampled,
        st.integers(0, 12),
        st.integers(1, 8),
    )
    return st.one_of(
        sampled,
        pieces.filter(bool),
        sampled.map(str.swapcase),
        st.sampled_from(AWKWARD_STRINGS),
        st.text(alphabet=_AWKWARD_LETTERS, min_size=1, max_size=5),
    )


def _moments(values: list[datetime]) -> st.SearchStrategy[datetime]:
    def nudge(moment: datetime, step: timedelta, sign: int, millis: int) -> datetime:
        base = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return base.astimezone(UTC) + sign * step + timedelta(milliseconds=millis)

    return st.builds(
        nudge,
        st.sampled_from(values),
        st.sampled_from(_STEPS),
        st.sampled_from((1, -1)),
        st.sampled_from((0, 452)),
    )


def _literals(kind: Kind, values: list[Any]) -> st.SearchStrategy[Value]:
    if kind == "bool":
        return st.booleans().map(lambda b: Value("bool", b))
    if kind == "string":
        return _strings(values).map(lambda s: Value("string", s))
    if kind == "int":
        ints = st.one_of(
            st.sampled_from(values),
            st.builds(lambda v, d: v + d, st.sampled_from(values), st.sampled_from((1, -1))),
        )
        return ints.map(lambda i: Value("int", i))
    if kind == "number":
        cent = Decimal("0.01")
        numbers = st.one_of(
            st.sampled_from(values),
            st.builds(
                lambda v, d: v + d,
                st.sampled_from(values),
                st.sampled_from((cent, -cent, Decimal(100))),
            ),
            st.decimals(min_value=-1000, max_value=50000, places=2),
        )
        return numbers.map(lambda d: Value("number", d + 0))  # + 0: no "-0.00"
    if kind == "date":
        moments = [datetime.combine(v, datetime.min.time()) for v in values]
        days = st.builds(
            lambda d, n: d + timedelta(days=n), st.sampled_from(values), st.sampled_from((0, 1, -1))
        )
        return st.one_of(
            days.map(lambda d: Value("date", d)),
            _moments(moments).map(lambda m: Value("datetime", m)),
        )
    return _moments(values).map(lambda m: Value("datetime", m))


def queries(
    rows: list[Row], kinds: dict[str, Kind], caps: Capabilities, rules: StringRules
) -> st.SearchStrategy[Query]:
    """Queries over the sample's fields within what the server accepts (bounds added later)."""
    # Grouped by kind, so that each kind of comparison (where servers differ) is drawn as
    # often as any other, however many fields of one kind the sample has.
    groups: dict[str, list[st.SearchStrategy[Expr]]] = {}
    for field, kind in sorted(kinds.items()):
        values = sample_values(rows, field, kind)
        if not values:
            continue
        ops = sorted(caps.operators & ({"eq", "ne"} if kind == "bool" else set(caps.operators)))
        literals = _literals(kind, values)
        groups.setdefault(kind, []).append(
            st.builds(Compare, st.just(field), st.sampled_from(ops), literals)
        )
        if kind == "string" and caps.functions:
            needles = _strings(values).filter(lambda s: s.strip() != "")
            functions = st.sampled_from(sorted(caps.functions))
            groups.setdefault("function", []).append(
                st.builds(Call, functions, st.just(field), needles)
            )
    leaf = st.one_of([st.one_of(group) for group in groups.values()])

    def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        options: list[st.SearchStrategy[Expr]] = [
            st.builds(And, children, children),
            st.builds(Or, children, children),
        ]
        if caps.negation:
            options.append(st.builds(Not, children))
        return st.one_of(options)

    trees = st.recursive(leaf, extend, max_leaves=4)
    order_fields = sort_fields(rows, kinds, rules)
    n = len(rows)

    @st.composite
    def query(draw: st.DrawFn) -> Query:
        with_filter, tree = draw(st.integers(0, 3)), draw(trees)
        orderby = (
            draw(st.none() | st.tuples(st.sampled_from(order_fields), st.booleans()))
            if order_fields
            else None
        )
        top = draw(st.none() | st.integers(1, n))
        skip = draw(st.none() | st.integers(0, n)) if orderby is not None and caps.skip else None
        return Query(tree if with_filter else None, orderby, top, skip, draw(st.booleans()))

    return query()


def _settings(max_examples: int, phases: tuple[Phase, ...]) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=phases,
        verbosity=Verbosity.quiet,
        print_blob=False,
    )


def _in_own_thread(job: Callable[[], Query | None]) -> Query | None:
    # Hypothesis state of whoever drives the check (a property test of the checks themselves)
    # must not see the search as a nested test.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(job).result()


class SearchInconclusive(Exception):
    """Hypothesis itself could not finish (its generation was disturbed, for example by
    another thread reseeding the global random generator: FlakyFailure). Says nothing about
    the server; what was drawn or found before it stays valid."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"hypothesis stopped with {type(error).__name__}")
        self.error_name = type(error).__name__


def draw_soon(strategy: st.SearchStrategy[Query], *, seed: int, count: int) -> Future[list[Query]]:
    """The first `count` examples `search` tries with this seed when none of them is wrong.

    Drawn on a thread of its own (see `_in_own_thread`), so the caller can wait for answers
    meanwhile; drawn ahead, the examples can all be sent at once, and `search` then finds their
    answers waiting. The future raises `SearchInconclusive` when hypothesis could not draw."""
    drawn: list[Query] = []

    def keep(query: Query) -> bool:
        drawn.append(query)
        return False

    def run() -> list[Query]:
        only_generate = _settings(count, (Phase.generate,))
        try:
            find(strategy, keep, settings=only_generate, random=Random(seed))  # noqa: S311 - reproducible, not a secret
        except (NoSuchExample, Unsatisfiable):
            pass
        except HYPOTHESIS_ERRORS as error:
            raise SearchInconclusive(error) from None
        return drawn

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(run)
    pool.shutdown(wait=False)  # the thread ends with the job
    return future


def search(
    strategy: st.SearchStrategy[Query],
    wrong: Callable[[Query], bool],
    *,
    seed: int,
    max_examples: int,
) -> Query | None:
    """The smallest query `wrong` holds for, or None when none was found; `SearchInconclusive`
    when hypothesis itself broke off.

    Runs in a thread of its own (see `_in_own_thread`); one probe at a time: the caller waits."""

    def run() -> Query | None:
        chosen = _settings(max_examples, (Phase.generate, Phase.shrink))
        try:
            return find(strategy, wrong, settings=chosen, random=Random(seed))  # noqa: S311 - a reproducible search, not a secret
        except (NoSuchExample, Unsatisfiable):
            return None
        except HYPOTHESIS_ERRORS as error:
            raise SearchInconclusive(error) from None

    return _in_own_thread(run)
