"""What the API answered to a data call in a capture: sites, customers, any other collection.

Called once the layers in front (gateway key, Authorization header, token, X-Site/X-Company)
had nothing to say, or explain nothing of the answer. Each answer is judged by the rule of the
check that owns the request: GET sites by sites.list, GET customers by customers.list (the
filter by reference by customers.filter, the sample and the queries within it by
customers.query_conformance), every other collection by api.resources. What needs context
from later in the capture (the other edition's path answering; the pairs of GET sites) is
settled by `finish`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sage200_doctor.http.answer import Answer
from sage200_doctor.http.odata_tree import Compare
from sage200_doctor.http.sage import status_phrase
from sage200_doctor.rules import Judgement, customers, resources
from sage200_doctor.rules.answers import judge_data_answer
from sage200_doctor.rules.authorization import judge_well_formed, refused_by_api
from sage200_doctor.rules.query import judge_rejected
from sage200_doctor.rules.schema import ShapeJudge, ShapeProblem
from sage200_doctor.rules.sites import OTHER_SEGMENT, judge_sites_body, other_edition_hint, pairs_of

from .conformance import Conformance, Scope
from .exchanges import ApiPath
from .filters import NotReadable, parse_filter
from .ledger import Ledger
from .model import RecordedExchange
from .selection import Selection

MAX_SCHEMA_ANSWERS = 500
"""Answers validated against the documented shapes; a capture may hold thousands."""
MAX_REMEMBERED = 256
"""Customers found by a filter, and resources read, remembered for later requests."""
EDITION_FIX = "Point the integration's base URL at that path."


@dataclass(frozen=True)
class Request:
    """One data call, as the judging below needs it."""

    exchange: RecordedExchange
    answer: Answer
    path: ApiPath
    params: dict[str, str]
    pair: tuple[str, str] | None
    linted: bool
    """A query lint already explains a refusal of this request."""

    @property
    def what(self) -> str:
        query = "&".join(f"{name}={value}" for name, value in self.params.items())
        return f"{self.exchange.request.method} {self.path.label(query)}"

    @property
    def scope(self) -> Scope:
        site, company = self.pair or ("", "")
        return (self.path.base, site, company)


@dataclass
class DataAnswers:
    ledger: Ledger
    selection: Selection
    conformance: Conformance
    shapes: ShapeJudge = field(default_factory=ShapeJudge)
    shape_problems: list[tuple[ShapeProblem, RecordedExchange]] = field(default_factory=list)
    validated: int = 0
    found: dict[tuple[Scope, str], dict[str, Any]] = field(default_factory=dict)
    readings: dict[str, resources.ResourceReading] = field(default_factory=dict)
    not_found: dict[tuple[str, str], str] = field(default_factory=dict)
    """(check, summary) of 404 findings → the edition path they were on."""
    edition_answers: dict[str, int] = field(default_factory=dict)
    """Edition path → the first status other than 404 a data call there got."""
    sites_summary: str = ""
    bodies_left_out: int = 0

    def judge(self, request: Request) -> None:
        self._edition(request)
        self.ledger.module(_owner(request), request.path.module)
        resource = request.path.resource
        if request.exchange.request.method != "GET":
            self._other_method(request)
        elif request.answer.ok and _body_left_out(request.exchange):
            self._unseen_body(request)
        elif not request.answer.ok:
            self._refused(request)
        elif resource == "sites":
            self._sites(request)
        elif resource == "customers":
            self._customers(request)
        else:
            self._resource(request)

    # --- refusals ---------------------------------------------------------------------------

    def _refused(self, request: Request) -> None:
        answer, path = request.answer, request.path
        if path.resource == "sites" and answer.status == 401 and refused_by_api(answer):
            self.ledger.judged(judge_well_formed(answer), request.exchange)
            return
        if answer.status == 400 and request.linted:
            return  # the query lint said why
        if path.resource == "customers" and answer.status == 400:
            self._rejected_query(request)
            return
        judgement: Judgement | None = (
            judge_data_answer(answer, request.what, check=_owner(request))
            if path.resource in ("sites", "customers")
            else self._reading(request)
        )
        if judgement is None:
            return
        if answer.status == 404 and path.edition_segment:
            self.not_found[(judgement.check, judgement.summary)] = path.edition_segment
        held = bool(request.pair) and refused_by_api(answer)
        if held and self.selection.defer(request.pair or ("", ""), judgement, request.exchange):
            return
        self.ledger.judged(judgement, request.exchange)

    def _rejected_query(self, request: Request) -> None:
        if self.conformance.customers(
            request.exchange, request.answer, request.params, request.scope
        ):
            return
        reference = _reference(request.params)
        said = status_phrase(request.answer)
        judgement = (
            customers.judge_filter_rejected(request.answer, request.params["$filter"])
            if reference is not None
            else judge_rejected(request.what, said)
        )
        self.ledger.judged(judgement, request.exchange)

    def _other_method(self, request: Request) -> None:
        """POST, PUT, DELETE: only a refusal is judged, and as a warning (api.resources)."""
        if request.answer.ok:
            self.ledger.observed("api.resources", request.exchange)
            return
        found = judge_data_answer(request.answer, request.what, check="api.resources")
        self.ledger.judged(dataclasses.replace(found, outcome="warning"), request.exchange)

    # --- answers with data ------------------------------------------------------------------

    def _unseen_body(self, request: Request) -> None:
        """A 2xx whose body the tool did not keep (Firefox without bodies, some proxies):
        what came back cannot be judged, only that the request was answered."""
        check = {"sites": "sites.list", "customers": "customers.list"}.get(
            request.path.resource or "", "api.resources"
        )
        self.bodies_left_out += 1
        self.ledger.fact(check, "answers whose body the capture left out", self.bodies_left_out)
        self.ledger.observed(check, request.exchange)

    def _sites(self, request: Request) -> None:
        judgement = judge_sites_body(request.answer)
        if judgement is not None:
            self.ledger.judged(judgement, request.exchange)
            return
        body = request.answer.json
        pairs = pairs_of(body)
        self.selection.pairs = pairs
        names = sorted({p.names.split(" / ")[0] for p in pairs})
        self.sites_summary = (
            f"GET sites listed {len(pairs)} company entr{'y' if len(pairs) == 1 else 'ies'} on "
            f"{len(names)} site(s): {', '.join(names)}."
        )
        self.ledger.observed("sites.list", request.exchange)
        self._shapes("sites", request, body)

    def _customers(self, request: Request) -> None:
        answer, exchange = request.answer, request.exchange
        if request.path.rest:
            self._customer_by_id(request)
            return
        if self.conformance.customers(exchange, answer, request.params, request.scope):
            self._shapes("customers", request, answer.json)
            return
        reference = _reference(request.params)
        if reference is not None:
            self._filter_by_reference(request, reference)
            return
        judgement = customers.judge_list_body(answer) if not request.params else None
        if not self.ledger.judged(judgement, exchange):
            self.ledger.observed("customers.list", exchange)
        self._shapes("customers", request, answer.json)

    def _filter_by_reference(self, request: Request, reference: str) -> None:
        answer, exchange = request.answer, request.exchange
        query = request.params["$filter"]
        if self.ledger.judged(customers.judge_filter_body(answer, query), exchange):
            return
        found = customers.customers_in(answer.json)
        origin = "the reference the recorded request asked for"
        judgement = customers.judge_reference_answer(reference, found, query=query, origin=origin)
        if not self.ledger.judged(judgement, exchange):
            self.ledger.observed("customers.filter", exchange)
        if found and len(self.found) < MAX_REMEMBERED:
            record = customers.record_found(reference, found)
            self.found[(request.scope, str(record.get("id")))] = record
        self._shapes("customers", request, answer.json)

    def _customer_by_id(self, request: Request) -> None:
        record = self.found.get((request.scope, request.path.rest))
        if record is not None:
            judgement = customers.judge_record_by_id(record, request.answer)
            if not self.ledger.judged(judgement, request.exchange):
                self.ledger.observed("customers.filter", request.exchange)
        else:
            self.ledger.observed("customers.list", request.exchange)
        if isinstance(request.answer.json, dict):
            self._shapes("customer", request, request.answer.json)

    def _resource(self, request: Request) -> None:
        judgement = self._reading(request)
        if not self.ledger.judged(judgement, request.exchange):
            self.ledger.observed("api.resources", request.exchange)

    def _reading(self, request: Request) -> Judgement | None:
        name = request.path.resource or ""
        reading = resources.read(name, request.answer, edition=request.path.edition)
        if name not in self.readings and len(self.readings) < MAX_REMEMBERED:
            self.readings[name] = reading
        return resources.judge(name, request.answer, edition=request.path.edition, required=False)

    def _shapes(self, shape: str, request: Request, body: Any) -> None:
        partial = "$select" in request.params or "$count" in request.params
        if partial or self.validated >= MAX_SCHEMA_ANSWERS:
            return
        if shape != "customer" and not isinstance(body, list):
            return
        self.validated += 1
        url = request.exchange.request.url
        for problem in self.shapes.problems(shape, url, body):
            kept = dataclasses.replace(problem, message=problem.message[:2000])
            self.shape_problems.append((kept, request.exchange))
        self.ledger.observed("api.schema")

    def _edition(self, request: Request) -> None:
        segment, status = request.path.edition_segment, request.answer.status
        if segment and status is not None and status != 404:
            self.edition_answers.setdefault(segment, status)

    # --- the end of the capture -------------------------------------------------------------

    def finish(self) -> None:
        """Edition hints for 404s, and facts of what was read."""
        for (check, summary), segment in self.not_found.items():
            other = OTHER_SEGMENT[segment]
            if other in self.edition_answers:
                hint = other_edition_hint(other, self.edition_answers[other], fix=EDITION_FIX)
                self.ledger.amend(check, summary, hint)
        if self.readings:
            rows = [reading.fact() for reading in self.readings.values()]
            self.ledger.fact("api.resources", "resources", rows)


def _body_left_out(exchange: RecordedExchange) -> bool:
    response = exchange.response
    return response.body is None and response.body_size != 0


def _owner(request: Request) -> str:
    """The check whose rule judges the answer to this request."""
    resource = request.path.resource
    if resource == "sites":
        return "sites.list"
    if resource != "customers":
        return "api.resources"
    if _reference(request.params) is not None:
        return "customers.filter"
    return "customers.list"


def _reference(params: dict[str, str]) -> str | None:
    """The reference of `$filter=reference eq '…'` (alone, or with $top / $select)."""
    if "$filter" not in params or not set(params) <= {"$filter", "$top", "$select"}:
        return None
    try:
        expr = parse_filter(params["$filter"])
    except NotReadable:
        return None
    if (
        isinstance(expr, Compare)
        and expr.field == "reference"
        and expr.op == "eq"
        and expr.literal.kind == "string"
    ):
        return str(expr.literal.value)
    return None
