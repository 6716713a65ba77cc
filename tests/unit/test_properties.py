"""Property tests: whatever a server answers and whatever an env file holds, nothing crashes.

The checks run against a transport that answers every request with something hypothesis
draws (any status, JSON of any shape, HTML pages, junk bytes, huge or empty bodies): no check
may end in the `error` outcome, which is reserved for bugs in sage200-doctor.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sage200_doctor.config.settings import Secret, UsageError, load_settings
from sage200_doctor.engine.diagnosis import Diagnosis, TokenFacts
from sage200_doctor.engine.registry import all_checks
from sage200_doctor.engine.results import CheckResult, Outcome
from sage200_doctor.engine.runner import run_check
from sage200_doctor.http.session import Session, build_client
from sage200_doctor.redact import Redactor

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=12,
)
PLAUSIBLE = st.fixed_dictionaries(
    {},
    optional={
        "access_token": st.text(max_size=40) | st.just("a.b.c"),
        "refresh_token": st.text(max_size=20),
        "scope": st.text(max_size=40),
        "expires_in": st.integers(-10, 10**6) | st.text(max_size=5),
        "error": st.sampled_from(["invalid_client", "invalid_grant", "unauthorized_client", "x"]),
        "Message": st.text(max_size=40),
        "statusCode": st.integers(),
        "message": st.sampled_from(
            ["Access denied due to missing subscription key.", "invalid subscription key", "x"]
        ),
        "site_id": st.text(max_size=40),
        "company_id": st.integers() | st.text(max_size=5),
        "reference": st.text(max_size=10),
        "id": st.integers() | st.none() | st.text(max_size=3),
        "name": st.text(max_size=20),
        "jwks_uri": st.just("https://id.test/.well-known/jwks.json"),
        "keys": st.lists(JSON, max_size=2),
    },
)
BODIES = st.one_of(
    JSON.map(lambda value: json.dumps(value).encode()),
    PLAUSIBLE.map(lambda value: json.dumps(value).encode()),
    st.lists(PLAUSIBLE, max_size=4).map(lambda value: json.dumps(value).encode()),
    st.just(b"<html><body><h1>Service Unavailable</h1></body></html>"),
    st.binary(max_size=200),
    st.just(b'[{"id": 1, "reference": "A1D0'),
)
ANYTHING = st.tuples(
    st.sampled_from([200, 204, 301, 302, 400, 401, 403, 404, 405, 429, 500, 502, 503, 504]),
    BODIES,
    st.sampled_from(["application/json", "text/html", "text/plain", ""]),
)
# Half the answers look like success, so that checks get past their first request and the
# code that reads records (sorting, comparing, paging) meets odd records too.
PLAUSIBLE_SUCCESS = st.tuples(
    st.just(200),
    st.one_of(st.lists(PLAUSIBLE, min_size=1, max_size=6), PLAUSIBLE).map(
        lambda v: json.dumps(v).encode()
    ),
    st.just("application/json"),
)
ANSWERS = st.one_of(PLAUSIBLE_SUCCESS, ANYTHING)

JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJhdWQiOiJzMjAwdWtpcGQvc2FnZTIwMCIsImV4cCI6MX0.c2ln"
ENV = {
    "SAGE200_CLIENT_ID": "client-id-123",
    "SAGE200_CLIENT_SECRET": "client-secret-456",
    "SAGE200_REFRESH_TOKEN": "refresh-token-789",
    "SAGE200_SUBSCRIPTION_KEY": "subscription-key-0",
    "SAGE200_SITE_ID": "6800e15c-6a18-4a3d-bc22-a09f89ac2d01",
    "SAGE200_COMPANY_ID": "33",
    "SAGE200_AUTHORIZATION": 'Bearer"x.y.z"',
}


def _diagnosis(answers: st.DataObject, tmp: Path) -> Diagnosis:
    def answer(request: httpx.Request) -> httpx.Response:
        status, body, content_type = answers.draw(ANSWERS)
        headers = {"content-type": content_type} if content_type else {}
        if status == 429:
            headers["retry-after"] = "0"
        if status in (301, 302):
            headers["location"] = "https://elsewhere.test/"
        return httpx.Response(status, content=body, headers=headers)

    loaded = load_settings(None, environ=ENV, default_env_file=tmp / "absent.env")
    redactor = Redactor()
    client = build_client(timeout_s=1, ca_bundle=None, transport=httpx.MockTransport(answer))
    return Diagnosis(loaded, Session(client, redactor, sleep=lambda seconds: None), redactor)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(answers=st.data())
def test_no_server_answer_makes_a_check_crash(answers: st.DataObject, tmp_path: Path) -> None:
    diagnosis = _diagnosis(answers, tmp_path)
    done: dict[str, CheckResult] = {}
    for spec in all_checks():
        done[spec.id] = run_check(spec, diagnosis, done)
    errors = {cid: (r.summary, r.details) for cid, r in done.items() if r.outcome is Outcome.ERROR}
    assert not errors


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(answers=st.data())
def test_each_check_survives_any_answer_once_its_prerequisites_passed(
    answers: st.DataObject, tmp_path: Path
) -> None:
    # Random answers rarely get a run past sites.selection, so each check is also run alone,
    # with its prerequisites marked passed and the facts they would have learned drawn.
    for spec in all_checks():
        diagnosis = _diagnosis(answers, tmp_path)
        _prefill(diagnosis, answers)
        done = {dep: CheckResult(dep, 0, dep, Outcome.PASSED) for dep in spec.depends}
        result = run_check(spec, diagnosis, done)
        assert result.outcome is not Outcome.ERROR, (spec.id, result.summary, result.details)


def _prefill(diagnosis: Diagnosis, answers: st.DataObject) -> None:
    diagnosis.token = TokenFacts(
        access_token=Secret(answers.draw(st.sampled_from(["a.b.c", "x" * 30, JWT]))),
        source=answers.draw(st.sampled_from(["refresh", "access_token", "authorization"])),
        granted_scope=answers.draw(st.none() | st.text(max_size=30)),
        refresh_token_issued=answers.draw(st.none() | st.booleans()),
        claims=answers.draw(
            st.dictionaries(
                st.sampled_from(["aud", "iss", "exp", "scope", "scp"]), JSON, max_size=4
            )
        ),
    )
    diagnosis.discovery = answers.draw(st.none() | st.just({"jwks_uri": "https://id.test/jwks"}))
    diagnosis.sites = answers.draw(st.lists(PLAUSIBLE, max_size=4))
    diagnosis.site_id, diagnosis.company_id = ENV["SAGE200_SITE_ID"], ENV["SAGE200_COMPANY_ID"]
    diagnosis.customers = answers.draw(st.lists(PLAUSIBLE, max_size=5))
    shapes = st.sampled_from(["sites", "customers", "customer"])
    diagnosis.seen_bodies = answers.draw(
        st.lists(st.tuples(shapes, st.just("u"), JSON), max_size=3)
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=400) | st.text(max_size=300).map(str.encode))
def test_any_env_file_loads_or_is_a_usage_error(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "any.env"
    path.write_bytes(content)
    try:
        loaded = load_settings(path, environ={})
    except UsageError:
        return
    for problem in loaded.problems:
        assert problem.severity in ("error", "warning")


def _checks_on(raw: dict[str, Any], tmp: Path) -> dict[str, CheckResult]:
    loaded = load_settings(None, environ=raw, default_env_file=tmp / "absent.env")
    redactor = Redactor()
    client = build_client(
        timeout_s=1,
        ca_bundle=None,
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=[])),
    )
    diagnosis = Diagnosis(loaded, Session(client, redactor), redactor)
    done: dict[str, CheckResult] = {}
    for spec in all_checks()[:2]:
        done[spec.id] = run_check(spec, diagnosis, done)
    return done


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.dictionaries(
        st.sampled_from(
            [
                *sorted(ENV),
                "SAGE200_EDITION",
                "SAGE200_API_BASE_URL",
                "SAGE200_TIMEOUT_S",
                "SAGE200_ACCESS_TOKEN",
            ]
        ),
        st.text(max_size=60),
        max_size=8,
    )
)
def test_any_setting_values_give_config_findings_not_errors(
    values: dict[str, str], tmp_path: Path
) -> None:
    done = _checks_on(values, tmp_path)
    assert all(result.outcome is not Outcome.ERROR for result in done.values()), {
        k: v.summary for k, v in done.items()
    }
