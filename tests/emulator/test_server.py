"""Running the emulator: lifecycle, latency, request log, /_emulator/*, secrets, env lines."""

from __future__ import annotations

import dataclasses
import io
import os
import signal
import threading
import time

import httpx
import pytest
from dotenv import dotenv_values

from sage200_doctor.emulator import (
    EmulatorConfig,
    LoggedRequest,
    RunningEmulator,
    create_app,
    format_env_lines,
    running_emulator,
    scenario_config,
    serve_forever,
)
from sage200_doctor.emulator.customers import CustomerTable
from sage200_doctor.emulator.seed import Company

from .emulator_support import CANARY_KEY, CANARY_SECONDARY_KEY, CANARY_SECRET, Session


def test_base_url_and_port(healthy: Session) -> None:
    emulator = healthy.emulator
    assert emulator.base_url == f"http://127.0.0.1:{emulator.port}"
    assert emulator.port > 0
    assert not emulator.base_url.endswith("/")


def test_start_and_stop_are_fast_and_stop_closes_the_port() -> None:
    began = time.perf_counter()
    with running_emulator("healthy") as emulator:
        started = time.perf_counter()
        assert httpx.get(f"{emulator.base_url}/.well-known/jwks.json").status_code == 200
        stopping = time.perf_counter()
    stopped = time.perf_counter()
    assert started - began < 1.0
    assert stopped - stopping < 1.0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{emulator.base_url}/.well-known/jwks.json")
    emulator.stop()  # a second stop is harmless


def test_accepts_a_config_object() -> None:
    config = EmulatorConfig(scenario="mine", customer_count=3)
    with running_emulator(config) as emulator:
        assert emulator.config.scenario == "mine"
        assert emulator.config.customer_count == 3


def test_unknown_scenario_name_fails_before_binding() -> None:
    with pytest.raises(KeyError), running_emulator("nope"):
        pass


def test_latency_is_added_to_every_response() -> None:
    with running_emulator("healthy", latency_ms=120) as emulator, httpx.Client() as http:
        for path in ("/.well-known/jwks.json", "/uk/sage200extra/accounts/v1/sites"):
            began = time.perf_counter()
            http.get(emulator.base_url + path)
            assert time.perf_counter() - began >= 0.12


def test_request_log_records_every_face() -> None:
    with running_emulator("healthy") as emulator, httpx.Client() as http:
        http.get(f"{emulator.base_url}/.well-known/openid-configuration")
        http.get(f"{emulator.base_url}/uk/sage200extra/accounts/v1/sites")
        http.get(
            f"{emulator.base_url}/uk/sage200extra/accounts/v1/sites",
            headers={"ocp-apim-subscription-key": emulator.env()["SAGE200_SUBSCRIPTION_KEY"]},
        )
        served = http.get(f"{emulator.base_url}/_emulator/requests").json()
        log = emulator.request_log
    assert log[:3] == [
        LoggedRequest("GET", "/.well-known/openid-configuration", 200, "identity"),
        LoggedRequest("GET", "/uk/sage200extra/accounts/v1/sites", 401, "gateway"),
        LoggedRequest("GET", "/uk/sage200extra/accounts/v1/sites", 401, "api"),
    ]
    assert served == [dataclasses.asdict(entry) for entry in log[:3]]
    assert log[3] == LoggedRequest("GET", "/_emulator/requests", 200, "emulator")


def test_log_paths_carry_no_query_string(healthy: Session) -> None:
    healthy.get("customers", **{"$filter": "reference eq 'A1D001'"})
    assert healthy.emulator.request_log[-1].path == "/uk/sage200extra/accounts/v1/customers"


def test_emulator_config_endpoint_names_the_scenario_without_secrets(healthy: Session) -> None:
    response = healthy.client.get(f"{healthy.emulator.base_url}/_emulator/config")
    body = response.json()
    assert body["scenario"] == "healthy"
    assert body["settings"]["edition"] == "professional"
    for secret in (CANARY_SECRET, CANARY_KEY, CANARY_SECONDARY_KEY, "sage200-demo"):
        assert secret not in response.text
    assert healthy.env["SAGE200_REFRESH_TOKEN"] not in response.text


def test_secrets_are_random_per_instance() -> None:
    with running_emulator("healthy") as one, running_emulator("healthy") as two:
        first, second = one.env(), two.env()
    for key in ("SAGE200_CLIENT_SECRET", "SAGE200_SUBSCRIPTION_KEY", "SAGE200_REFRESH_TOKEN"):
        assert first[key] != second[key]
        assert len(first[key]) >= 20
    assert one.config.subscription_key != one.config.secondary_subscription_key


def test_explicit_secrets_are_used(healthy: Session) -> None:
    env = healthy.env
    assert env["SAGE200_CLIENT_SECRET"] == CANARY_SECRET
    assert env["SAGE200_SUBSCRIPTION_KEY"] == CANARY_KEY
    assert healthy.emulator.config.client_secret == CANARY_SECRET


def test_env_is_a_copy(healthy: Session) -> None:
    healthy.emulator.env()["SAGE200_COMPANY_ID"] = "changed"
    assert healthy.emulator.env()["SAGE200_COMPANY_ID"] == "33"


def test_format_env_lines_round_trips_through_python_dotenv() -> None:
    env = {
        "PLAIN": "abc-DEF_123.~:/",
        "SPACES": "openid profile email offline_access",
        "QUOTE": 'it\'s "quoted" $HOME ${HOME} # not a comment',
        "EMPTY": "",
        "HASH": "a#b",
    }
    text = format_env_lines(env)
    assert "PLAIN=abc-DEF_123.~:/\n" in text
    assert "SPACES='openid profile email offline_access'\n" in text
    assert dict(dotenv_values(stream=io.StringIO(text), interpolate=False)) == env


def test_format_env_lines_of_a_real_env(healthy: Session) -> None:
    text = format_env_lines(healthy.env)
    parsed = dotenv_values(stream=io.StringIO(text))
    assert parsed == healthy.env
    assert text.count("\n") == len(healthy.env)


def test_create_app_builds_nothing_up_front() -> None:
    began = time.perf_counter()
    app = create_app(EmulatorConfig(customer_count=100_000))
    assert time.perf_counter() - began < 0.5
    assert app.state.emulator.customers == {}


def test_large_company_references_stay_unique_and_short() -> None:
    # 40 000 customers exceeds 999 per name prefix, so the K0000000 references are exercised.
    rows = CustomerTable(Company(33, "Big", 40_000, 27825)).rows
    references = [row["reference"] for row in rows]
    assert len(set(references)) == len(references)
    assert all(isinstance(ref, str) and len(ref) <= 8 for ref in references)
    assert rows[0]["reference"] == "A1D001"
    assert rows[-1]["id"] == 27825 + 39_999


def test_seed_is_deterministic() -> None:
    company = Company(13, "x", 50, 51000)
    assert CustomerTable(company).rows == CustomerTable(company).rows


@pytest.mark.parametrize(
    "settings",
    [{"customer_count": -1}, {"top_default": 0}, {"top_default": 6000}, {"redirect_uris": ()}],
)
def test_config_rejects_nonsense(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        dataclasses.replace(scenario_config("healthy"), **settings)


def test_config_is_frozen() -> None:
    config = scenario_config("healthy")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.edition = "standard"  # type: ignore[misc]


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="needs the main thread"
)
def test_serve_forever_stops_on_sigterm() -> None:
    seen: list[int] = []

    def on_ready(emulator: RunningEmulator) -> None:
        seen.append(httpx.get(f"{emulator.base_url}/.well-known/jwks.json").status_code)
        os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.getsignal(signal.SIGTERM)
    began = time.perf_counter()
    serve_forever("healthy", on_ready=on_ready)
    assert seen == [200]
    assert time.perf_counter() - began < 2.0
    assert signal.getsignal(signal.SIGTERM) == previous
