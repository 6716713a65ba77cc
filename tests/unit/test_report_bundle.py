"""The support bundle: four members, all redacted, and a fingerprint without URLs or secrets."""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path

import pytest

from sage200_doctor.redact import DROPPED, Redactor
from sage200_doctor.report.bundle import fingerprint, host_of, write_bundle
from tests.unit.test_report_json import TOKEN, sample_run

SECRET = "bundle-secret/0123456789="


def _redactor() -> Redactor:
    redactor = Redactor()
    redactor.add("client_secret", SECRET)
    redactor.add("access_token", TOKEN)
    redactor.add_basic_credentials("client-id", SECRET)
    return redactor


def _reports(directory: Path) -> Path:
    directory.mkdir()
    basic = base64.b64encode(f"client-id:{SECRET}".encode()).decode()
    (directory / "report.html").write_text(f"<p>{TOKEN} {basic}</p>", encoding="utf-8")
    (directory / "report.json").write_text(json.dumps({"token": SECRET}), encoding="utf-8")
    (directory / "junit.xml").write_text(f"<testsuites>{SECRET}</testsuites>", encoding="utf-8")
    return directory


def _members(bundle: Path) -> dict[str, str]:
    with zipfile.ZipFile(bundle) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def test_bundle_has_four_redacted_members(tmp_path: Path) -> None:
    bundle = tmp_path / "out" / "support.zip"
    write_bundle(bundle, _reports(tmp_path / "reports"), sample_run(), _redactor())
    members = _members(bundle)
    assert sorted(members) == ["fingerprint.json", "junit.xml", "report.html", "report.json"]
    everything = "".join(members.values())
    assert SECRET not in everything
    assert TOKEN not in everything
    assert base64.b64encode(f"client-id:{SECRET}".encode()).decode() not in everything
    assert not list(bundle.parent.glob(".bundle-*"))


def test_fingerprint_names_hosts_never_urls(tmp_path: Path) -> None:
    run = sample_run()
    write_bundle(tmp_path / "b.zip", _reports(tmp_path / "reports"), run, _redactor())
    data = json.loads(_members(tmp_path / "b.zip")["fingerprint.json"])
    assert data["hosts"] == {"api_base_url": "api.example.test", "token_url": "id.example.test"}
    assert data["hosts_contacted"] == ["api.example.test"]
    assert data["edition"] == "professional"
    assert data["verdict"] == "fail"
    assert data["exit_code"] == 1
    assert data["root_cause"] == "gateway.subscription_key"
    assert data["checks"][1] == {
        "id": "gateway.subscription_key",
        "outcome": "failed",
        "blocked_by": None,
        "duration_ms": 3.2,
        "requests": 1,
        "statuses": [401],
    }
    assert data["python"]["version"]
    assert data["platform"]["system"]
    assert data["files"] == dict.fromkeys(["report.html", "report.json", "junit.xml"], "included")
    assert "?x=1" not in json.dumps(data)


def test_missing_reports_are_listed_and_json_rebuilt(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    write_bundle(tmp_path / "b.zip", empty, sample_run(), _redactor())
    members = _members(tmp_path / "b.zip")
    assert sorted(members) == ["fingerprint.json", "report.json"]
    files = json.loads(members["fingerprint.json"])["files"]
    assert files == {
        "report.html": "missing",
        "report.json": "rebuilt from the run",
        "junit.xml": "missing",
    }
    assert json.loads(members["report.json"])["schema"] == "sage200-doctor/report@1"


def test_a_member_that_cannot_be_redacted_is_left_out(tmp_path: Path) -> None:
    class Failing(Redactor):
        def safe_text(self, value: str) -> str:
            return DROPPED if "<p>" in value else super().safe_text(value)

    write_bundle(tmp_path / "b.zip", _reports(tmp_path / "reports"), sample_run(), Failing())
    members = _members(tmp_path / "b.zip")
    assert "report.html" not in members
    files = json.loads(members["fingerprint.json"])["files"]
    assert files["report.html"] == "dropped: could not be redacted safely"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        (
            "https://user:pw@api.example.test:8443/a/b?subscription-key=s3cr3t#x",
            "api.example.test:8443",
        ),
        ("http://127.0.0.1:8200/uk/", "127.0.0.1:8200"),
        ("http://[::1]:9/", "[::1]:9"),
        ("not a url", None),
        ("", None),
        (None, None),
        ("http://[bad", None),
    ],
)
def test_host_of(url: object, host: str | None) -> None:
    assert host_of(url) == host


def test_fingerprint_of_a_run_without_evidence() -> None:
    run = sample_run()
    for check in run.checks:
        check.evidence = []
    data = fingerprint(run, included={})
    assert data["hosts_contacted"] == []
