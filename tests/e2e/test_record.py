"""A real `sage200-doctor run` against an emulator that records: the HAR matches what happened."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sage200_doctor.emulator import format_env_lines, running_emulator
from sage200_doctor.recorded import SageHosts, classify_host, open_har
from tests.e2e.conftest import CliRun

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("scenario", ["healthy", "no-space-bearer", "key-invalid"])
def test_a_recorded_run_reads_back_as_the_emulator_logged_it(
    scenario: str, tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    har = tmp_path / "run.har"
    with running_emulator(scenario, record=har) as emulator:
        env_file = tmp_path / "run.env"
        env_file.write_text(format_env_lines(emulator.env()), encoding="utf-8")
        env_file.chmod(0o600)
        run = doctor("run", "--env", str(env_file))
        log = [entry for entry in emulator.request_log if entry.face != "emulator"]
        env = emulator.env()
        hosts_base = emulator.base_url

    assert run.code in (0, 1), run.stdout + run.stderr
    capture = open_har(har)
    exchanges = list(capture)
    assert capture.skipped == ()
    assert capture.creator is not None
    assert capture.creator.name == "sage200-doctor emulator"

    def key(method: str, url_or_path: str, status: int | None) -> tuple[str, str, int | None]:
        return method, url_or_path.removeprefix(hosts_base).split("?")[0], status

    recorded = sorted(key(e.request.method, e.request.url, e.response.status) for e in exchanges)
    logged = sorted(key(entry.method, entry.path, entry.status) for entry in log)
    assert recorded == logged

    token_posts = [e for e in exchanges if e.request.url.endswith("/oauth/token")]
    assert token_posts
    assert token_posts[0].request.form_value("grant_type") == "refresh_token"
    assert token_posts[0].request.form_value("refresh_token") == env["SAGE200_REFRESH_TOKEN"]
    assert "access_token" in json.loads(token_posts[0].response.body or "{}")

    api = [e for e in exchanges if "/uk/" in e.request.url]
    assert api
    assert all(e.request.header("user-agent") for e in exchanges)
    if scenario == "key-invalid":
        refused = [e for e in api if e.request.header("ocp-apim-subscription-key")]
        assert refused
        assert refused[0].response.status == 401
        assert "invalid subscription key" in json.loads(refused[0].response.body or "{}")["message"]
    else:
        assert any((e.request.header("authorization") or "").startswith("Bearer") for e in api)
    if scenario == "no-space-bearer":
        sent = {e.request.header("authorization") or "" for e in api}
        assert any(value.startswith("Bearer") and not value.startswith("Bearer ") for value in sent)
    if scenario != "key-invalid":
        assert any(e.request.header("x-site") == env["SAGE200_SITE_ID"] for e in api)
    hosts = SageHosts().with_emulator(hosts_base)
    assert {classify_host(e.request.url, hosts=hosts) for e in exchanges} <= {"identity", "api"}
