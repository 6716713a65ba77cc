"""The emulator answers as the project's own OpenAPI description says (schemathesis).

The description (`sage200_doctor/http/openapi.json`) is what api.schema validates real answers
against; here schemathesis generates requests from it and checks the emulator's answers:
statuses, content types, headers and bodies documented, and no server errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sage200_doctor.emulator import running_emulator, scenario_config

from .emulator_support import Session, canary

DESCRIPTION = json.loads(
    files("sage200_doctor.http").joinpath("openapi.json").read_text(encoding="utf-8")
)
SCHEMA = schemathesis.openapi.from_dict(DESCRIPTION)
# Only requests the description allows: the emulator's 400s for odd but allowed $filter text
# are documented answers, so `positive_data_acceptance` (which expects 2xx) is not among the checks.
SCHEMA.config.generation.update(modes=[GenerationMode.POSITIVE], max_examples=30)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[tuple[str, dict[str, str]]]:
    """A healthy emulator's API base URL and the headers of a signed-in call (one token)."""
    with (
        httpx.Client(timeout=10.0) as client,
        running_emulator(canary(scenario_config("healthy"))) as running,
    ):
        session = Session(running, client)
        yield session.api_base.rstrip("/"), session.headers()


@SCHEMA.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_emulator_answers_as_described(
    case: schemathesis.Case, emulator: tuple[str, dict[str, str]]
) -> None:
    base_url, headers = emulator
    case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=10)


def test_the_description_covers_what_the_checks_read() -> None:
    paths = DESCRIPTION["paths"]
    assert set(paths) == {"/sites", "/current_user", "/customers", "/customers/{id}"}
    schemes = DESCRIPTION["components"]["securitySchemes"]
    assert schemes["subscriptionKey"]["name"] == "ocp-apim-subscription-key"
    headers = {p["name"] for p in DESCRIPTION["components"]["parameters"].values()}
    assert {"X-Site", "X-Company"} <= headers
    for path in ("/customers", "/customers/{id}"):
        assert {"400", "401", "403", "404"} <= set(paths[path]["get"]["responses"])


def test_the_description_rejects_what_the_schema_drift_scenario_sends() -> None:
    from jsonschema import Draft202012Validator

    from sage200_doctor.http.shapes import SHAPES

    drifted = [{"company_id": "33", "company_name": "x", "site_id": "s", "site_name": "n"}]
    errors = list(Draft202012Validator(SHAPES["sites"]).iter_errors(drifted))
    assert [list(e.path) for e in errors] == [[0, "company_id"]]
    assert not list(Draft202012Validator(SHAPES["customer"]).iter_errors(
        {"id": 1, "reference": "A1D001", "name": "A1", "website": None}
    ))  # fmt: skip
