"""A run waits as many round trips as its data needs, counted by the server.

The emulator delays every answer by LATENCY_MS and logs when each request arrived and when its
answer left. A request's wave is one more than the latest wave whose answer had left before it
arrived (`emulator/waves.py`): a structural count, not a timing. The latency is large so that a
busy machine would have to stall a whole round trip to add a wave.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sage200_doctor.emulator import RunningEmulator, format_env_lines, running_emulator
from sage200_doctor.emulator.waves import count_waves, waves_of
from tests.e2e.conftest import CliRun

pytestmark = pytest.mark.e2e

LATENCY_MS = 400
TOKEN = ("POST", "/oauth/token")


def _run(
    doctor: Callable[..., CliRun], emulator: RunningEmulator, tmp_path: Path, **extra: str
) -> CliRun:
    env_file = tmp_path / "site.env"
    env_file.write_text(format_env_lines({**emulator.env(), **extra}) + "\n", encoding="utf-8")
    return doctor("run", "--env", str(env_file), "-q")


# A shared CI machine that stalls the run for a whole round trip adds a wave; a run that really
# waits an extra round trip does so every time, so one rerun cannot hide it.
@pytest.mark.flaky(reruns=1)
def test_a_healthy_run_waits_four_round_trips(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    """token -> sample -> capability probes -> generated queries: nothing else waits."""
    with running_emulator("healthy", latency_ms=LATENCY_MS) as emulator:
        run = _run(doctor, emulator, tmp_path)
        log = emulator.request_log
    assert run.code == 0, run.stdout
    waved = waves_of(log)
    assert count_waves(log) == 4, [(w.wave, w.entry.method, w.entry.path) for w in waved]
    wave_of = {(w.entry.method, w.entry.path.rsplit("/", 1)[-1]): w.wave for w in waved}
    # The refresh grant needs only settings: it leaves with the reachability probes, once.
    assert wave_of[("POST", "token")] == 1
    assert sum(1 for w in waved if (w.entry.method, w.entry.path) == TOKEN) == 1
    # customers/{id} leaves the moment the $filter answer (wave 2) is in, with the first
    # conformance probes (built from the sample, also wave 2), not a check later.
    by_id = [w.wave for w in waved if w.entry.path.rsplit("/", 1)[-1].isdigit()]
    assert by_id == [3]


@pytest.mark.flaky(reruns=1)
def test_a_configured_access_token_sends_the_api_requests_with_the_first_wave(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    """No refresh grant: the configured token is known from settings, so the sample leaves at
    once and the run waits three round trips (sample -> probes -> generated queries)."""
    with running_emulator("no-offline-access", latency_ms=LATENCY_MS) as emulator:
        assert "SAGE200_REFRESH_TOKEN" not in emulator.env()
        run = _run(doctor, emulator, tmp_path)
        log = emulator.request_log
    assert run.report["root_cause"]["check"] == "token.scope", run.stdout
    assert count_waves(log) == 3, [(w.wave, w.entry.method, w.entry.path) for w in waves_of(log)]
    assert run.report["requests"]["sent_ahead_unused"] == []


def test_an_expired_configured_token_is_judged_before_any_api_request_uses_it(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    with running_emulator("token-expired", latency_ms=LATENCY_MS) as emulator:
        run = _run(doctor, emulator, tmp_path)
        log = emulator.request_log
    assert run.report["root_cause"]["check"] == "token.claims", run.stdout
    first_wave = [w.entry.path for w in waves_of(log) if w.wave == 1]
    assert first_wave
    assert not [path for path in first_wave if "customers" in path], first_wave


def test_the_early_grant_is_token_refresh_s_evidence(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    with running_emulator("healthy") as emulator:
        run = _run(doctor, emulator, tmp_path)
    methods = {
        c["id"]: [e["request"]["method"] for e in c["evidence"]] for c in run.report["checks"]
    }
    assert methods["token.refresh"] == ["POST"]
    assert all("POST" not in found for check, found in methods.items() if check != "token.refresh")
    assert run.report["requests"]["sent_ahead_unused"] == []
    assert run.check("token.refresh")["outcome"] == "passed"


def test_no_grant_on_settings_the_configuration_checks_refuse(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    with running_emulator("healthy") as emulator:
        run = _run(doctor, emulator, tmp_path, SAGE200_COMPANY_ID="not-a-number")
        log = emulator.request_log
    assert run.code == 2, run.stdout
    assert run.check("token.refresh")["outcome"] == "blocked"
    assert [entry for entry in log if (entry.method, entry.path) == TOKEN] == []
