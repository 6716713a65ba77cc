"""`record=`: the emulator writes what it was asked and what it answered as HAR 1.2."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from sage200_doctor.emulator import running_emulator, scenario_config
from sage200_doctor.emulator.faults import FaultRule
from sage200_doctor.emulator.recorder import (
    RECORDED_BODY_LIMIT,
    HarRecorder,
    _Answer,
    _Body,
    har_entry,
)
from sage200_doctor.recorded import HarError, RecordedExchange, open_har

from .emulator_support import Session, canary


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def open_files_pointing_at(path: Path) -> list[str]:
    target = str(path.resolve())
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                found.append(fd)
        except OSError:
            continue
    return found


def test_a_recording_holds_each_exchange_as_sent_and_answered(
    tmp_path: Path, client: httpx.Client
) -> None:
    path = tmp_path / "emulator.har"
    with running_emulator(canary(scenario_config("healthy")), record=path) as emulator:
        session = Session(emulator, client)
        token = session.access_token()
        headers = session.headers(token=token)
        client.get(f"{session.api_base}customers", params={"$top": "1"}, headers=headers)
        client.get(f"{emulator.base_url}/_emulator/requests")
        log = [entry for entry in emulator.request_log if entry.face != "emulator"]
        assert emulator.recording == path

    assert open_files_pointing_at(path) == []
    har = load(path)["log"]
    assert har["version"] == "1.2"
    assert har["creator"]["name"] == "sage200-doctor emulator"
    entries = har["entries"]
    assert [(e["request"]["method"], e["response"]["status"]) for e in entries] == [
        (entry.method, entry.status) for entry in log
    ]
    token_entry, customers = entries
    assert token_entry["request"]["postData"]["mimeType"] == "application/x-www-form-urlencoded"
    assert "grant_type=refresh_token" in token_entry["request"]["postData"]["text"]
    assert json.loads(token_entry["response"]["content"]["text"])["access_token"] == token
    sent = {h["name"].lower(): h["value"] for h in customers["request"]["headers"]}
    assert sent["authorization"] == f"Bearer {token}"
    assert sent["x-site"] == session.env["SAGE200_SITE_ID"]
    assert customers["request"]["url"].endswith("/customers?%24top=1")
    assert customers["request"]["queryString"] == [{"name": "$top", "value": "1"}]
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)


def test_faults_are_recorded_as_the_client_saw_them(tmp_path: Path, client: httpx.Client) -> None:
    rules = (
        FaultRule("redirect", face="api", path="/sites$"),
        FaultRule("reset-mid-body", face="api", path="/customers$"),
        FaultRule("html-error-page", face="identity", path="/jwks"),
    )
    config = dataclasses.replace(canary(scenario_config("healthy")), faults=rules)
    path = tmp_path / "faults.har"
    with running_emulator(config, record=path) as emulator:
        session = Session(emulator, client)
        client.get(f"{session.api_base}sites")
        with pytest.raises(httpx.HTTPError):
            client.get(f"{session.api_base}customers")
        client.get(f"{emulator.base_url}/.well-known/jwks.json")

    moved, cut, page = load(path)["log"]["entries"]
    assert moved["response"]["status"] == 302
    assert moved["response"]["redirectURL"].startswith("https://portal.proxy.invalid/login")
    assert cut["response"]["status"] == 200
    assert "before the body was complete" in cut["response"]["_error"]
    assert page["response"]["status"] == 502
    assert "<h1>Bad Gateway</h1>" in page["response"]["content"]["text"]


def test_big_bodies_are_cut_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "big.har"
    with HarRecorder(path) as recorder:
        sent, answer = _Body(), _Answer()
        answer.status, answer.complete = 200, True
        answer.body.add(b"x" * (RECORDED_BODY_LIMIT + 10))
        scope = {"type": "http", "method": "GET", "path": "/big", "headers": [], "scheme": "http"}
        recorder.write(har_entry(scope, datetime.now(UTC), (0, 0, 0), sent, answer))

    content = load(path)["log"]["entries"][0]["response"]["content"]
    assert content["size"] == RECORDED_BODY_LIMIT + 10
    assert len(content["text"]) == RECORDED_BODY_LIMIT
    assert "cut to the first" in content["comment"]


def test_an_unused_recording_is_an_empty_valid_har_and_close_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "empty.har"
    recorder = HarRecorder(path)
    recorder.close()
    recorder.close()
    recorder.write({"late": True})

    assert load(path)["log"]["entries"] == []
    assert list(open_har(path)) == []
    assert open_files_pointing_at(path) == []


def test_a_recording_cut_by_a_crash_is_read_as_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "crash.har"
    recorder = HarRecorder(path)
    recorder.write(
        {
            "startedDateTime": "2026-11-23T18:00:00Z",
            "time": 1,
            "request": {"method": "GET", "url": "http://127.0.0.1/x", "headers": []},
            "response": {"status": 200},
        }
    )
    # No close(): what a killed process leaves behind.
    capture = open_har(path)
    seen: list[RecordedExchange] = []
    with pytest.raises(HarError, match="cut short"):
        seen.extend(capture)
    recorder.close()

    assert [e.response.status for e in seen] == [200]


@pytest.mark.e2e
def test_serve_forever_completes_the_file_on_sigterm(tmp_path: Path) -> None:
    path = tmp_path / "sigterm.har"
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from sage200_doctor.emulator import serve_forever

        def ready(emulator):
            print(emulator.base_url, flush=True)

        serve_forever("healthy", on_ready=ready, record=Path({str(path)!r}))
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=_no_proxy_env()
    ) as process:
        try:
            assert process.stdout is not None
            base_url = process.stdout.readline().strip()
            answer = httpx.get(f"{base_url}/.well-known/openid-configuration", timeout=10)
            assert answer.status_code == 200
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    entries = load(path)["log"]["entries"]
    assert [e["request"]["url"] for e in entries] == [
        f"{base_url}/.well-known/openid-configuration"
    ]


def _no_proxy_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"}
    }
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return env
