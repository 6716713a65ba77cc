"""Canary secrets: every emulator scenario runs with unique secrets, and none of them (nor any
token minted during the run) may appear, raw or encoded, in anything the run writes or prints.

Searched: report.html, report.json, junit.xml, every member of the support bundle, stdout,
stderr and every log record (DEBUG included). Forms: raw, URL-encoded (quote, quote_plus),
JSON-escaped, HTML-escaped, base64 (standard and URL-safe, with and without padding), and the
base64 of `client_id:client_secret` that a Basic header carries.
"""

from __future__ import annotations

import base64
import html
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from sage200_doctor.emulator import format_env_lines, running_emulator
from sage200_doctor.emulator.scenarios import with_settings
from tests.e2e.conftest import CliRun
from tests.e2e.test_reports import (
    SCENARIO_NAMES,
    SECRET_KEYS,
    ScenarioRun,
    canary_settings,
    scenario_run,
)

pytestmark = pytest.mark.e2e
MIN_FORM = 8
"""Encoded forms shorter than this could match innocent text by chance."""


def encoded_forms(value: str) -> dict[str, str]:
    raw = value.encode()
    forms = {
        "raw": value,
        "quote": quote(value, safe=""),
        "quote (default safe)": quote(value),
        "quote_plus": quote_plus(value),
        "json": json.dumps(value)[1:-1],
        "html": html.escape(value),
        "base64": base64.b64encode(raw).decode(),
        "base64 unpadded": base64.b64encode(raw).decode().rstrip("="),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
    return {name: form for name, form in forms.items() if len(form) >= MIN_FORM}


def basic_pairs(client_id: str, secret: str) -> dict[str, str]:
    pairs = {}
    for name, pair in (
        ("client_id:secret", f"{client_id}:{secret}"),
        ("form-encoded client_id:secret", f"{quote_plus(client_id)}:{quote_plus(secret)}"),
    ):
        encoded = base64.b64encode(pair.encode()).decode()
        pairs[f"base64 {name}"] = encoded
        pairs[f"base64 {name} unpadded"] = encoded.rstrip("=")
        pairs[f"base64url {name}"] = base64.urlsafe_b64encode(pair.encode()).decode().rstrip("=")
    return pairs


def leaks(texts: dict[str, str], secrets: dict[str, str], client_id: str) -> list[str]:
    needles: dict[str, str] = {}
    for label, secret in secrets.items():
        for form_name, form in encoded_forms(secret).items():
            needles[f"{label} ({form_name})"] = form
    for label in ("SAGE200_CLIENT_SECRET", "emulator client_secret"):
        if label in secrets:
            for form_name, form in basic_pairs(client_id, secrets[label]).items():
                needles[f"{label} as {form_name}"] = form
    return [
        f"{needle_name} found in {where}"
        for where, text in texts.items()
        for needle_name, needle in needles.items()
        if needle in text
    ]


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_no_canary_secret_leaks(scenario: str) -> None:
    run = scenario_run(scenario)
    texts = run.outputs()
    assert len(texts) >= 9  # 3 reports, 4 bundle members, stdout, stderr, logs
    assert run.secrets, "the canary run learned no secrets to look for"
    assert leaks(texts, run.secrets, run.client_id) == []


def test_the_canary_would_see_a_leak() -> None:
    # A search that can never fail proves nothing: plant each form in a copy and find it.
    run = scenario_run("healthy")
    secret = run.secrets["SAGE200_CLIENT_SECRET"]
    for form in [*encoded_forms(secret).values(), *basic_pairs(run.client_id, secret).values()]:
        assert leaks({"planted": f"x {form} x"}, run.secrets, run.client_id)


def test_every_kind_of_secret_is_exercised() -> None:
    labels = {label for name in SCENARIO_NAMES for label in scenario_run(name).secrets}
    for key in SECRET_KEYS:
        assert key in labels
    assert any(label.startswith("minted access token") for label in labels)
    assert any(label.startswith("issued refresh token") for label in labels)


def test_no_leak_from_a_separate_process(doctor: Callable[..., CliRun], tmp_path: Path) -> None:
    """The real console script's own stdout and stderr (fd level), rotation included."""
    canary = canary_settings()
    with running_emulator(with_settings("rotating-refresh", **canary)) as emulator:
        env = emulator.env()
        env_file = tmp_path / "canary.env"
        env_file.write_text(format_env_lines(env), encoding="utf-8")
        run = doctor(
            "run",
            "--env",
            str(env_file),
            "--report-dir",
            str(tmp_path / "reports"),
            "--bundle",
            str(tmp_path / "bundle.zip"),
        )
        rotated = env_file.read_text(encoding="utf-8")
    assert run.code == 0, run.stdout + run.stderr
    secrets = {key: env[key] for key in SECRET_KEYS if key in env}
    secrets["rotated env file"] = next(
        line.split("=", 1)[1].strip("'\"")
        for line in rotated.splitlines()
        if line.startswith("SAGE200_REFRESH_TOKEN=")
    )
    assert secrets["rotated env file"] != env["SAGE200_REFRESH_TOKEN"]
    texts = {"stdout": run.stdout, "stderr": run.stderr}
    for name in ("report.html", "report.json", "junit.xml"):
        texts[name] = (tmp_path / "reports" / name).read_text(encoding="utf-8")
    with zipfile.ZipFile(tmp_path / "bundle.zip") as archive:
        texts.update({f"bundle:{n}": archive.read(n).decode() for n in archive.namelist()})
    assert leaks(texts, secrets, canary["client_id"]) == []


def test_scenario_runs_are_real() -> None:
    run: ScenarioRun = scenario_run("healthy")
    assert run.code == 0, run.stdout + run.stderr
    assert run.report["verdict"] == "pass"
