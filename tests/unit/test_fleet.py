"""The fleet TOML loader, the result round trip and the merged verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from sage200_doctor.config.fleet_file import FleetError, load_fleet
from sage200_doctor.engine.results import CheckResult, Outcome, RunResult
from sage200_doctor.report.fleet import clusters, worst_exit_code


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(FleetError) as caught:
        load_fleet(path)
    return caught.value.problems


def test_env_files_resolve_against_the_toml_folder(tmp_path: Path) -> None:
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "acme.env").write_text("SAGE200_SITE_ID=x\n")
    path = write(tmp_path, '[[environment]]\nname = "acme-live"\nenv_file = "envs/acme.env"\n')
    (env,) = load_fleet(path)
    assert env.name == "acme-live"
    assert env.env_file == tmp_path / "envs" / "acme.env"
    assert env.settings == {}


def test_inline_settings_and_secrets_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_SECRET", "s3cret-value")
    path = write(
        tmp_path,
        '[[environment]]\nname = "acme"\n[environment.settings]\n'
        'SAGE200_SITE_ID = "abc"\nSAGE200_COMPANY_ID = 7\n'
        'SAGE200_CLIENT_SECRET = { env = "ACME_SECRET" }\n',
    )
    (env,) = load_fleet(path)
    assert env.settings == {
        "SAGE200_SITE_ID": "abc",
        "SAGE200_COMPANY_ID": "7",
        "SAGE200_CLIENT_SECRET": "s3cret-value",
    }


def test_every_problem_is_reported_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNSET_SECRET", raising=False)
    path = write(
        tmp_path,
        'colour = "blue"\n'
        '[[environment]]\nname = "a"\nenv_file = "nope.env"\nextra = 1\n'
        '[[environment]]\nname = "a"\n[environment.settings]\n'
        'SAGE200_CLIENT_SECRET = { env = "UNSET_SECRET" }\nOTHER = "x"\nSAGE200_TIMEOUT_S = [1]\n'
        '[[environment]]\nname = "bad name!"\n',
    )
    problems = "\n".join(problems_of(path))
    for expected in (
        "unknown top-level key(s): colour",
        "nope.env",
        "unknown key(s): extra",
        "used twice",
        "$UNSET_SECRET, which is not set",
        "'OTHER' does not start with SAGE200_",
        "SAGE200_TIMEOUT_S must be a string",
        "needs a name",
        "needs env_file or [environment.settings]",
    ):
        assert expected in problems


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no [[environment]] tables"),
        ("[[environment", "not valid TOML"),
        ("environment = 3", "no [[environment]] tables"),
        ("environment = [1]", "not a table"),
    ],
)
def test_unusable_files(tmp_path: Path, text: str, problem: str) -> None:
    assert any(problem in line for line in problems_of(write(tmp_path, text)))


def test_a_missing_file_is_a_fleet_error(tmp_path: Path) -> None:
    assert "cannot read" in problems_of(tmp_path / "absent.toml")[0]


@pytest.mark.parametrize(
    ("codes", "worst"),
    [([], 0), ([0, 1], 1), ([1, 2], 2), ([2, 3, 1], 3), ([3, 5, 0], 5), ([0, 0], 0)],
)
def test_the_worst_exit_code_wins(codes: list[int], worst: int) -> None:
    assert worst_exit_code(codes) == worst


def _run(root: str | None) -> RunResult:
    checks = [CheckResult(id=root, order=50, title="t", outcome=Outcome.FAILED)] if root else []
    return RunResult(started_at="now", duration_s=0, environment={}, checks=checks)


def test_clusters_count_a_shared_root_cause() -> None:
    runs = {f"e{n}": _run("gateway.subscription_key") for n in range(3)}
    runs["odd"] = _run("token.scope")
    runs["fine"] = _run(None)
    found = clusters(runs)
    assert [c["check"] for c in found] == ["gateway.subscription_key", "token.scope"]
    assert found[0]["summary"] == "gateway.subscription_key failed on 3 of 5: one shared cause"
    assert found[1]["environments"] == ["odd"]
