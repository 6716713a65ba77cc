"""`sage200-doctor triage` through the real CLI: every emulator scenario recorded and judged
again from its capture, the fixtures' exit codes, bad input, and canary secrets.

The proof that a capture and a live run agree: each scenario's live diagnosis (`run --env`)
runs against an emulator that records it (`running_emulator(record=...)`), then `triage` judges
that HAR file; both must name the same root cause, with the live run's guidance.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sage200_doctor.emulator import SCENARIOS, format_env_lines, running_emulator
from tests.e2e.conftest import CliRun
from tests.e2e.test_canary import leaks
from tests.e2e.test_scenarios import EXPECTED
from tests.har_builder import DENIED, SITES, TOKEN_URL, Capture, customer, jwt

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).parent.parent / "fixtures" / "har"

MAY_NOT_SHOW = {
    "token-expired": "the live run judges the expired token before its API checks send it; "
    "only when a GET sent ahead (header.authorization's) left before that judgement does the "
    "capture hold the token. Without it, triage can only see that no API request carried an "
    "Authorization header",
}
"""Scenarios whose live root cause may leave no trace in the capture of the live run itself."""


def _record(
    scenario: str, tmp_path: Path, doctor: Callable[..., CliRun]
) -> tuple[CliRun, Path, str]:
    har = tmp_path / "capture.har"  # (a name like basic-auth-….har reads as a Basic credential)
    with running_emulator(scenario, record=har) as emulator:
        env_file = tmp_path / "live.env"
        env_file.write_text(format_env_lines(emulator.env()), encoding="utf-8")
        env_file.chmod(0o600)
        live = doctor("run", "--env", str(env_file), "--report-dir", str(tmp_path / "live"))
        base = emulator.env()["SAGE200_API_BASE_URL"]
    return live, har, base


def _guidance(report: dict[str, Any], check_id: str) -> set[str]:
    entry = next(c for c in report["checks"] if c["id"] == check_id)
    return {g["id"] for g in entry["guidance"]}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_recorded_live_run_is_judged_as_the_live_run_judged_it(
    scenario: str, tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    live, har, base = _record(scenario, tmp_path, doctor)
    code, verdict, root, guidance = EXPECTED[scenario]
    assert (live.code, live.report["verdict"]) == (code, verdict), live.stdout + live.stderr

    triaged = doctor(
        "triage", str(har), "--api-base-url", base, "--report-dir", str(tmp_path / "t")
    )
    assert "Traceback" not in triaged.stdout + triaged.stderr
    report = triaged.report
    assert report["source"] == "recorded"
    assert report["input"] == har.name
    found = (report["root_cause"] or {}).get("check")
    if scenario in MAY_NOT_SHOW and found != root:
        assert found == "header.authorization", triaged.stdout
        claims = next(c for c in report["checks"] if c["id"] == "token.claims")
        assert claims["outcome"] == "skipped"
        return
    assert found == root, triaged.stdout
    assert (triaged.code, report["verdict"]) == (code, verdict), triaged.stdout
    if root is not None:
        assert _guidance(live.report, root) <= _guidance(report, root)
        assert set(guidance) <= _guidance(report, root)
    else:
        assert not [c["id"] for c in report["checks"] if c["outcome"] in ("failed", "error")]


def test_a_healthy_capture_passes_every_check_it_can_see(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    _, har, base = _record("healthy", tmp_path, doctor)
    triaged = doctor(
        "triage", str(har), "--api-base-url", base, "--report-dir", str(tmp_path / "t")
    )
    outcomes = {c["id"]: c["outcome"] for c in triaged.report["checks"]}
    skipped = {"config.complete", "config.values", "token.expiry"}
    assert {k for k, v in outcomes.items() if v == "skipped"} == skipped
    assert {k for k, v in outcomes.items() if v != "skipped"} == set(outcomes) - skipped
    assert set(outcomes.values()) == {"passed", "skipped"}


# --- the fixtures through the command line -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code", "root"),
    [
        ("chrome.har", 0, None),
        ("chrome-sanitized.har", 0, None),
        ("fault-bearer-no-space.har", 1, "header.authorization"),
        ("fault-no-response.har", 3, "network.api"),
    ],
)
def test_fixtures_end_with_the_exit_code_of_their_verdict(
    name: str, code: int, root: str | None, doctor: Callable[..., CliRun]
) -> None:
    run = doctor("triage", str(FIXTURES / name))
    assert run.code == code, run.stdout + run.stderr
    assert (run.report["root_cause"] or {}).get("check") == root
    assert f"Triage of {name}" in run.stderr


def test_format_json_writes_the_report_on_stdout(doctor: Callable[..., CliRun]) -> None:
    run = doctor("triage", str(FIXTURES / "fault-forbidden.har"), "--format", "json")
    assert json.loads(run.stdout)["root_cause"]["check"] == "customers.list"
    assert run.code == 1


# --- bad input: one sentence, exit 4 ----------------------------------------------------------------


def _one_line_usage_error(run: CliRun, words: str) -> None:
    assert run.code == 4, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("sage200-doctor: ")
    assert words in lines[0]
    assert not (run.report_dir / "report.json").exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"hello, this is not json", "not a HAR capture"),
        (b"", "is empty"),
        (b"[1, 2]", "not an object with a `log`"),
        (b'{"log": {"version": "9.9", "entries": []}}', "HAR version '9.9'"),
        (b'{"log": {"version": "1.2", "entries": [', "cut short"),
    ],
)
def test_a_file_that_is_not_a_capture_is_a_usage_error(
    content: bytes, words: str, tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    path = tmp_path / "bad.har"
    path.write_bytes(content)
    _one_line_usage_error(doctor("triage", str(path)), words)


def test_a_missing_file_is_a_usage_error(tmp_path: Path, doctor: Callable[..., CliRun]) -> None:
    _one_line_usage_error(doctor("triage", str(tmp_path / "nowhere.har")), "Cannot open")


def test_a_capture_without_sage_traffic_says_so(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    path = Capture().entry("GET", "https://cdn.example.com/app.js").write(tmp_path / "web.har")
    _one_line_usage_error(doctor("triage", str(path)), "none to Sage ID or the Sage 200 API")


def test_named_hosts_make_a_private_gateway_sage_traffic(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    gateway = "https://sage.gateway.example/uk/sage200extra/accounts/v1"
    path = Capture().sites(base=gateway).write(tmp_path / "gw.har")
    _one_line_usage_error(doctor("triage", str(path)), "--api-host")
    run = doctor("triage", str(path), "--api-host", "sage.gateway.example")
    assert run.code == 0, run.stdout + run.stderr
    bad = doctor("triage", str(path), "--api-host", "https://", "--report-dir", str(tmp_path / "b"))
    _one_line_usage_error(bad, "a host option cannot be used")


def test_a_capture_cut_short_is_judged_up_to_the_cut_but_never_passes(
    tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    whole = Capture().token().sites().get("customers", body=[customer(1)]).write(tmp_path / "w.har")
    text = whole.read_text(encoding="utf-8")
    cut = tmp_path / "cut.har"
    cut.write_text(text[: text.index("/customers") + 20])  # inside the third entry
    run = doctor("triage", str(cut))
    assert run.code == 4
    assert "cut short" in run.stderr
    assert run.report["verdict"] == "pass"  # what was read is fine, and reported
    failing = Capture().sites(status=401, body=DENIED).sites().write(tmp_path / "f.har")
    text = failing.read_text(encoding="utf-8")
    (tmp_path / "fcut.har").write_text(text[: len(text) - 300])
    assert doctor("triage", str(tmp_path / "fcut.har")).code == 1


# --- canaries -------------------------------------------------------------------------------------

CANARIES = {
    "access token": jwt(signature=b"CANARY-ACCESS-SIGNATURE-d41d8cd9"),
    "refresh token": "CANARY-REFRESH-c0ffee1234567890",
    "rotated refresh token": "CANARY-ROTATED-REFRESH-9876543210",
    "id token": jwt(signature=b"CANARY-ID-TOKEN-SIGNATURE-77aa"),
    "client secret": "CANARY-SECRET-s3cr3t+/=Value",
    "basic secret": "CANARY-BASIC-SECRET-0a1b2c3d4e",
    "authorization code": "CANARY-CODE-abcdef123456",
    "code verifier": "CANARY-VERIFIER-abcdef1234567890",
    "password": "CANARY-PASSWORD-hunter2xyz",
    "subscription key": "CANARY-KEY-0123456789abcdef",
    "cookie": "CANARY-COOKIE-5e5510n1d",
    "set-cookie": "CANARY-SETCOOKIE-f00dcafe12",
    "url password": "CANARY-URLPASS-9f8e7d6c",
}
CLIENT_ID = "triage-canary-client"


def _canary_capture(tmp_path: Path) -> Path:
    import base64
    from urllib.parse import quote_plus

    c = CANARIES
    basic = base64.b64encode(f"{CLIENT_ID}:{c['basic secret']}".encode()).decode()
    capture = Capture()
    capture.token(
        access=c["access token"],
        answer={
            "access_token": c["access token"],
            "refresh_token": c["rotated refresh token"],
            "id_token": c["id token"],
            "scope": "openid offline_access",
        },
        form={"grant_type": "refresh_token", "refresh_token": c["refresh token"],
              "client_id": CLIENT_ID, "client_secret": c["client secret"]},
    )  # fmt: skip
    capture.entry(
        "POST", TOKEN_URL, status=401, body={"error": "invalid_client"},
        headers={"authorization": "Basic " + basic}, form={"grant_type": "refresh_token"},
    )  # fmt: skip
    capture.entry(
        "POST", TOKEN_URL, status=400, body={"error": "invalid_grant"},
        form={"grant_type": "authorization_code", "code": c["authorization code"],
              "code_verifier": c["code verifier"], "password": c["password"]},
    )  # fmt: skip
    bearer = "Bearer " + c["access token"]
    cookies = {"cookie": f"session={c['cookie']}; theme=dark"}
    set_cookie = {"set-cookie": f"session={c['set-cookie']}; Path=/; HttpOnly"}
    echo = (
        f"<html><title>Proxy error</title><body>Authorization: {bearer}<br>"
        f"refresh_token={quote_plus(c['refresh token'])}<br>"
        f"key {base64.b64encode(c['subscription key'].encode()).decode()}</body></html>"
    )
    capture.sites(key=c["subscription key"], headers=cookies, response_headers=set_cookie)
    capture.sites(authorization="Bearer" + c["access token"], key=c["subscription key"],
                  status=401, body=DENIED)  # fmt: skip
    capture.get("customers", key=c["subscription key"], status=502, body=echo,
                response_headers={"content-type": "text/html"})  # fmt: skip
    capture.get("customers?$filter=reference%20eq%20'A1D001'", key=c["subscription key"],
                status=400, body={"Message": f"Bad value {json.dumps(c['client secret'])}"})  # fmt: skip
    userinfo = (
        f"https://support:{c['url password']}@api.columbus.sage.com/uk/sage200extra/accounts/v1"
    )
    capture.sites(base=userinfo, authorization=bearer, key=c["subscription key"])
    return capture.write(tmp_path / "canary.har")


def _outputs(run: CliRun, bundle: Path) -> dict[str, str]:
    texts = {"stdout": run.stdout, "stderr": run.stderr}
    for name in ("report.html", "report.json", "junit.xml"):
        texts[name] = (run.report_dir / name).read_text(encoding="utf-8")
    with zipfile.ZipFile(bundle) as archive:
        texts.update({f"bundle:{n}": archive.read(n).decode() for n in archive.namelist()})
    return texts


@pytest.mark.parametrize("output", [["-v"], ["--format", "json"], ["--format", "junit", "-v"]])
def test_no_secret_of_the_capture_leaks_in_any_encoding(
    output: list[str], tmp_path: Path, doctor: Callable[..., CliRun]
) -> None:
    har = _canary_capture(tmp_path)
    before = hashlib.sha256(har.read_bytes()).hexdigest()
    bundle = tmp_path / "bundle.zip"
    run = doctor("triage", str(har), "--bundle", str(bundle), *output)
    assert run.code == 1, run.stdout + run.stderr
    texts = _outputs(run, bundle)
    assert len(texts) >= 9
    assert leaks(texts, CANARIES, CLIENT_ID) == []
    assert "CANARY" not in "".join(texts.values())
    assert hashlib.sha256(har.read_bytes()).hexdigest() == before  # the input is only read
    # What the secrets were carried in is still shown, masked.
    assert "[redacted" in texts["report.json"]
    assert "header.authorization" in texts["report.json"]


def test_the_canary_capture_holds_every_secret_where_a_tool_writes_it(tmp_path: Path) -> None:
    text = _canary_capture(tmp_path).read_text(encoding="utf-8")
    for name, value in CANARIES.items():
        if name not in ("basic secret", "url password"):
            assert value in text or json.dumps(value)[1:-1] in text, name
    assert "CANARY-URLPASS" in text
    assert str(SITES[0]["site_id"]) in text
