"""`sage200-doctor postman`: the lint as a run's result (checks, verdict, root cause, reports, exit
codes), grouped findings with their requests as evidence, `--write-env`, bad input, and the
export's secrets kept out of every output. In-process, without a network."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest

from sage200_doctor.commands import main
from sage200_doctor.engine.registry import all_checks
from sage200_doctor.errors import UsageError
from sage200_doctor.postman import PostmanError, load_environment
from sage200_doctor.report.json import validate_report

FIXTURES = Path(__file__).parents[1] / "fixtures" / "postman"
ARTICLE = FIXTURES / "article.postman_collection.json"
ENVIRONMENT = FIXTURES / "article.postman_environment.json"
CANARIES = tuple(
    variable.value
    for variable in load_environment(ENVIRONMENT).variables
    if variable.value.startswith("CANARY-")
)
LIVE = {spec.id: spec for spec in all_checks()}


class Outcome:
    def __init__(self, code: int, out: str, err: str, reports: Path) -> None:
        self.code, self.out, self.err, self.reports = code, out, err, reports

    @property
    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.reports / "report.json").read_text("utf-8"))
        return data

    def check(self, check_id: str) -> dict[str, Any]:
        return next(entry for entry in self.report["checks"] if entry["id"] == check_id)


@pytest.fixture
def postman(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")

    def invoke(*args: str, environment: Path | None = ENVIRONMENT) -> Outcome:
        extra = ["--environment", str(environment)] if environment else []
        code = main(["postman", *args, *extra, "--report-dir", str(tmp_path / "reports")])
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err, tmp_path / "reports")

    return invoke


def test_the_article_collection_passes_with_the_live_checks_ids_orders_and_titles(
    postman: Any,
) -> None:
    run = postman(str(ARTICLE))
    report = run.report
    assert run.code == 0, run.out + run.err
    assert validate_report(report) == []
    assert (report["verdict"], report["exit_code"], report["root_cause"]) == ("pass", 0, None)
    assert (report["source"], report["input"]) == ("postman", ARTICLE.name)
    assert report["environment"]["collection"] == "Sage 200 API (article)"
    assert report["environment"]["edition"] == "standard"
    for entry in report["checks"]:
        if entry["id"] != "postman.writes":
            spec = LIVE[entry["id"]]
            assert (entry["order"], entry["title"]) == (spec.order, spec.title)
        assert entry["outcome"] == "passed", entry
    ids = [entry["id"] for entry in report["checks"]]
    assert ids == [
        "config.complete",
        "config.values",
        "gateway.subscription_key",
        "token.claims",
        "token.scope",
        "header.authorization",
        "sites.selection",
        "customers.filter",
        "customers.query_conformance",
        "postman.writes",
    ]
    assert "requests" not in report  # nothing was sent
    assert (run.reports / "report.html").is_file()
    assert (run.reports / "junit.xml").is_file()
    assert "PASS" in run.out


@pytest.mark.parametrize(
    ("fixture", "check", "outcome", "verdict", "code", "guidance", "where"),
    [
        (
            "caution-bearer-no-space",
            "header.authorization",
            "failed",
            "fail",
            1,
            "faq.postman.bearer-space",
            "request 'Manual token/Get sites (token typed by hand)'",
        ),
        (
            "caution-no-offline-access",
            "token.scope",
            "failed",
            "fail",
            1,
            "faq.postman.offline-access",
            "the collection",
        ),
        (
            "caution-no-site-company",
            "sites.selection",
            "failed",
            "fail",
            1,
            "faq.postman.site-company",
            "request 'Customers/Get customers'",
        ),
        (
            "caution-typographic-quotes",
            "customers.filter",
            "failed",
            "fail",
            1,
            "faq.query.odata",
            "request 'Customers/Filter using the $filter query parameter'",
        ),
        (
            "caution-wrong-edition",
            "config.values",
            "failed",
            "config-error",
            2,
            "faq.errors.404",
            "request 'Sites/Get sites'",
        ),
        (
            "caution-no-subscription-key",
            "gateway.subscription_key",
            "warning",
            "pass",
            0,
            "faq.postman.subscription-key",
            "request 'Sites/Get sites'",
        ),
        (
            "caution-post-request",
            "postman.writes",
            "warning",
            "pass",
            0,
            "guide.postman.writes",
            "request 'Customers/Create customer'",
        ),
    ],
)
def test_each_caution_decides_the_verdict_as_a_run_would(
    postman: Any,
    fixture: str,
    check: str,
    outcome: str,
    verdict: str,
    code: int,
    guidance: str,
    where: str,
) -> None:
    run = postman(str(FIXTURES / f"{fixture}.postman_collection.json"))
    report = run.report
    entry = run.check(check)
    assert validate_report(report) == []
    assert (run.code, report["verdict"], report["exit_code"]) == (code, verdict, code)
    assert entry["outcome"] == outcome
    assert guidance in [g["id"] for g in entry["guidance"]]
    assert where in entry["details"]
    assert entry["evidence"], "the requests concerned are the evidence"
    if outcome == "failed":
        assert report["root_cause"]["check"] == check
        assert f"Root cause: {check}" in run.out
    else:
        assert report["root_cause"] is None


def test_the_same_finding_on_four_requests_is_one_finding_listing_them(postman: Any) -> None:
    run = postman(str(FIXTURES / "caution-no-subscription-key.postman_collection.json"))
    entry = run.check("gateway.subscription_key")
    assert entry["summary"] == (
        "No ocp-apim-subscription-key header (or it is empty). (4 requests: see the details)"
    )
    assert entry["details"].count("No ocp-apim-subscription-key header") == 1
    for name in (
        "Sites/Get sites",
        "Customers/Get customers",
        "Customers/Filter using customer_id",
        "Customers/Filter using the $filter query parameter",
    ):
        assert f"request '{name}'" in entry["details"]
    evidence = entry["evidence"]
    assert len(evidence) == 4
    assert {item["request"]["method"] for item in evidence} == {"GET"}
    assert all(item["response"] is None for item in evidence)
    assert all("ocp-apim-subscription-key" not in item["request"]["headers"] for item in evidence)
    assert any(item["request"]["headers"].get("X-Site") for item in evidence)


def test_two_findings_of_one_check_the_failure_first_both_in_the_details(postman: Any) -> None:
    run = postman(str(FIXTURES / "caution-bearer-no-space.postman_collection.json"))
    entry = run.check("header.authorization")
    assert entry["summary"].startswith(
        "The Authorization header typed on this request is malformed"
    )
    assert entry["summary"].endswith("(and 1 more finding: see the details)")
    failure, warning = entry["details"].split("\n\n")
    assert failure.startswith("FAIL ")
    assert "In request 'Manual token/" in failure
    assert warning.startswith("WARN The Header Prefix")
    assert warning.endswith("In the collection.")
    typed = [e for e in entry["evidence"] if "Authorization" in e["request"]["headers"]]
    assert [e["request"]["headers"]["Authorization"] for e in typed] == ["Bearer[redacted]"]


def test_a_check_the_collection_says_nothing_about_is_skipped(postman: Any, tmp_path: Path) -> None:
    document = json.loads(ARTICLE.read_text(encoding="utf-8"))
    document["item"] = document["item"][:1]  # GET sites only: no X-Site, no query options
    del document["auth"]
    collection = tmp_path / "sites.postman_collection.json"
    collection.write_text(json.dumps(document), encoding="utf-8")
    run = postman(str(collection))
    outcomes = {entry["id"]: entry["outcome"] for entry in run.report["checks"]}
    for check in (
        "config.complete",
        "token.claims",
        "token.scope",
        "sites.selection",
        "customers.filter",
        "customers.query_conformance",
    ):
        assert outcomes[check] == "skipped", check
    assert outcomes["header.authorization"] == "failed"  # no auth and none typed
    assert run.report["root_cause"]["check"] == "header.authorization"


def test_a_collection_without_sage_requests_warns_and_skips_the_rest(
    postman: Any, tmp_path: Path
) -> None:
    document = json.loads(ARTICLE.read_text(encoding="utf-8"))
    document["variable"][0]["value"] = "https://example.invalid/api"
    collection = tmp_path / "other.postman_collection.json"
    collection.write_text(json.dumps(document), encoding="utf-8")
    run = postman(str(collection), environment=None)
    outcomes = {entry["id"]: entry["outcome"] for entry in run.report["checks"]}
    assert outcomes.pop("config.values") == "warning"
    assert set(outcomes.values()) == {"skipped"}
    assert run.code == 0


def test_json_format_writes_only_the_report_on_stdout(postman: Any) -> None:
    run = postman(str(ARTICLE), "--format", "json")
    assert json.loads(run.out)["source"] == "postman"
    assert "PASS" in run.err


def test_only_and_an_unknown_id(postman: Any) -> None:
    run = postman(
        str(FIXTURES / "caution-no-offline-access.postman_collection.json"), "--only", "token.scope"
    )
    assert [entry["id"] for entry in run.report["checks"]] == ["token.scope"]
    assert run.report["selection"] == ["token.scope"]
    assert run.code == 1
    refused = postman(str(ARTICLE), "--only", "sites.list")
    assert refused.code == 4
    assert "--only names check(s) this diagnosis has not: sites.list" in refused.err


def test_a_baseline_accepts_a_postman_finding(postman: Any, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.toml"
    baseline.write_text(
        '[[accept]]\ncheck = "token.scope"\nreason = "a public client"\nexpires = "2999-01-01"\n',
        encoding="utf-8",
    )
    fixture = str(FIXTURES / "caution-no-offline-access.postman_collection.json")
    run = postman(fixture, "--baseline", str(baseline))
    assert run.code == 0
    assert run.check("token.scope")["accepted"]["reason"] == "a public client"


# --- bad input ------------------------------------------------------------------------------------


def test_postman_errors_are_usage_errors() -> None:
    assert issubclass(PostmanError, UsageError)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((str(ENVIRONMENT),), "it is an environment export"),
        ((str(FIXTURES / "not-collections" / "capture.har"),), "HAR"),
        (("missing.postman_collection.json",), "cannot be read"),
        ((str(ARTICLE), "--force"), "--force only applies with --write-env FILE."),
        ((str(ARTICLE), "--env", "site.env"), "--env only applies with --run"),
        ((str(ARTICLE), "--edition", "extra"), "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_4(
    postman: Any, args: tuple[str, ...], message: str
) -> None:
    run = postman(*args, environment=None)
    assert run.code == 4
    assert message in run.err
    if "invalid choice" not in message:
        assert run.err.count("\n") == 1
        assert run.err.startswith("sage200-doctor: ")
    assert not (run.reports / "report.json").exists()


# --- --write-env ----------------------------------------------------------------------------------


def test_write_env_writes_the_exports_settings_privately(postman: Any, tmp_path: Path) -> None:
    target = tmp_path / "site.env"
    run = postman(str(ARTICLE), "--write-env", str(target))
    assert run.code == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    text = target.read_text(encoding="utf-8")
    for canary in CANARIES:
        assert canary in text  # the export had them: they are the user's own settings
    assert f"Wrote 16 setting(s) to {target}" in run.out
    assert f"Next: sage200-doctor run --env {target}" in run.out


def test_write_env_holds_no_secret_the_export_did_not(postman: Any, tmp_path: Path) -> None:
    target = tmp_path / "site.env"
    assert postman(str(ARTICLE), "--write-env", str(target), environment=None).code == 0
    text = target.read_text(encoding="utf-8")
    for key in ("SECRET", "TOKEN=", "SUBSCRIPTION_KEY", "CLIENT_ID", "SITE_ID"):
        assert f"SAGE200_{key}" not in text  # {{variables}} nobody defined are left out
    assert "SAGE200_API_BASE_URL=" in text


def test_write_env_never_overwrites_without_force(postman: Any, tmp_path: Path) -> None:
    target = tmp_path / "site.env"
    target.write_text("SAGE200_EDITION=professional\n", encoding="utf-8")
    refused = postman(str(ARTICLE), "--write-env", str(target))
    assert refused.code == 4
    assert "already exists and was left as it is" in refused.err
    assert target.read_text(encoding="utf-8") == "SAGE200_EDITION=professional\n"
    forced = postman(str(ARTICLE), "--write-env", str(target), "--force")
    assert forced.code == 0
    assert 'SAGE200_EDITION="standard"' in target.read_text(encoding="utf-8")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


# --- secrets --------------------------------------------------------------------------------------


def test_the_exports_secrets_reach_no_output(postman: Any, tmp_path: Path) -> None:
    # A secret variable in a header whose name says nothing (X-Trace) is masked only because
    # the export marks it secret: its value is registered with the run's redactor.
    trace = "CANARY-trace-secret-7e1d93b2"
    document = json.loads(
        (FIXTURES / "caution-bearer-no-space.postman_collection.json").read_text("utf-8")
    )
    for folder in document["item"]:
        for item in folder["item"]:
            item["request"]["header"].append({"key": "X-Trace", "value": "{{traceSecret}}"})
    collection = tmp_path / "traced.postman_collection.json"
    collection.write_text(json.dumps(document), encoding="utf-8")
    environment = json.loads(ENVIRONMENT.read_text(encoding="utf-8"))
    environment["values"].append({"key": "traceSecret", "value": trace, "type": "secret"})
    traced_env = tmp_path / "traced.postman_environment.json"
    traced_env.write_text(json.dumps(environment), encoding="utf-8")
    bundle = tmp_path / "support.zip"
    run = postman(
        str(collection),
        "--write-env",
        str(tmp_path / "site.env"),
        "-v",
        "--bundle",
        str(bundle),
        environment=traced_env,
    )
    assert run.code == 1
    with zipfile.ZipFile(bundle) as archive:
        packed = [archive.read(name).decode("utf-8", "replace") for name in archive.namelist()]
    written = [path.read_text(encoding="utf-8") for path in run.reports.iterdir()]
    assert packed
    assert len(written) == 3
    for text in (run.out, run.err, *written, *packed):
        for canary in (*CANARIES, trace):
            assert canary not in text
    evidence = run.check("header.authorization")["evidence"]
    assert {item["request"]["headers"]["X-Trace"] for item in evidence} == {
        "[redacted:postman_export]"
    }
