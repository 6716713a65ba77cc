"""The fault kinds added for gateway limits and trickling servers, the fault log, and the
services' clock (emulator/clock.py)."""

from __future__ import annotations

import dataclasses
import email.utils
import time

import httpx
import jwt
import pytest

from sage200_doctor.emulator import running_emulator, scenario_config
from sage200_doctor.emulator.faults import TRICKLE_INTERVAL_S, FaultRule


def _served_date(answer: httpx.Response) -> float:
    return email.utils.parsedate_to_datetime(answer.headers["date"]).timestamp()


@pytest.mark.parametrize(
    ("renewal", "shown"), [(3600, "01:00:00"), (5430, "01:30:30"), (59, "00:00:59")]
)
def test_the_quota_fault_answers_as_api_managements_quota_policy(renewal: int, shown: str) -> None:
    config = dataclasses.replace(
        scenario_config("healthy"),
        faults=(FaultRule("quota-exceeded", "api", "/sites$"),),
        quota_renewal_s=renewal,
    )
    with running_emulator(config) as emulator, httpx.Client() as http:
        answer = http.get(emulator.env()["SAGE200_API_BASE_URL"] + "sites")
        log = emulator.request_log
    assert answer.status_code == 403
    assert answer.headers["retry-after"] == str(renewal)
    assert answer.json() == {
        "statusCode": 403,
        "message": f"Out of call volume quota. Quota will be replenished in {shown}.",
    }
    assert [(entry.status, entry.fault) for entry in log] == [(403, "quota-exceeded")]


def test_a_trickled_answer_never_ends_and_is_logged_as_it_starts() -> None:
    config = dataclasses.replace(
        scenario_config("healthy"), faults=(FaultRule("trickle", "identity", "/jwks"),)
    )
    with (
        running_emulator(config) as emulator,
        httpx.Client(timeout=TRICKLE_INTERVAL_S * 8) as http,
        http.stream("GET", f"{emulator.base_url}/.well-known/jwks.json") as answer,
    ):
        assert answer.status_code == 200
        chunks = answer.iter_bytes()
        received = [next(chunks) for _ in range(3)]  # each arrives before any read timeout
        log = emulator.request_log  # logged already, though it never finishes
    assert b"".join(received).startswith(b"[")
    assert [(entry.path, entry.fault) for entry in log] == [("/.well-known/jwks.json", "trickle")]


def test_answers_are_dated_by_the_services_clock() -> None:
    with running_emulator("healthy") as emulator, httpx.Client() as http:
        answer = http.get(f"{emulator.base_url}/.well-known/openid-configuration")
    assert abs(_served_date(answer) - time.time()) < 60
    assert len(answer.headers.get_list("date")) == 1


def test_a_clock_offset_mints_checks_and_dates_by_the_services_clock() -> None:
    config = dataclasses.replace(scenario_config("healthy"), clock_offset_s=-7200)
    with running_emulator(config) as emulator, httpx.Client() as http:
        env = emulator.env()
        grant = http.post(
            env["SAGE200_TOKEN_URL"],
            data={"grant_type": "refresh_token", "refresh_token": env["SAGE200_REFRESH_TOKEN"]},
            auth=(env["SAGE200_CLIENT_ID"], env["SAGE200_CLIENT_SECRET"]),
        )
        token = grant.json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "ocp-apim-subscription-key": env["SAGE200_SUBSCRIPTION_KEY"],
        }
        sites = http.get(env["SAGE200_API_BASE_URL"] + "sites", headers=headers)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iat"] < time.time() - 7000  # minted two hours "ago" by this machine's clock
    assert claims["exp"] < time.time()
    assert sites.status_code == 200  # the API judges it by its own clock
    assert 7000 < time.time() - _served_date(sites) < 7400
