"""settings.py: layers, defaults, problems, Secret masking, and awkward env files."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from sage200_doctor.config.settings import (
    KNOWN_KEYS,
    SECRET_KEYS,
    ConfigProblem,
    LoadedSettings,
    Secret,
    UsageError,
    did_you_mean,
    load_settings,
)

STANDARD = "https://api.columbus.sage.com/uk/sage200/accounts/v1/"
PROFESSIONAL = "https://api.columbus.sage.com/uk/sage200extra/accounts/v1/"
SECRET_VALUE = "s3cr3t-Value-that-must-never-leak"
REPO = Path(__file__).resolve().parents[2]

WriteEnv = Callable[..., Path]


@pytest.fixture
def write_env(tmp_path: Path) -> WriteEnv:
    def write(content: str | bytes, name: str = "test.env") -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return write


def load(
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    *,
    default: Path = Path("/nonexistent/.env"),
) -> LoadedSettings:
    return load_settings(
        env_file, environ=environ or {}, overrides=overrides, default_env_file=default
    )


def keys_of(problems: tuple[ConfigProblem, ...], severity: str | None = None) -> list[str]:
    return [p.key for p in problems if severity is None or p.severity == severity]


# --- the key list --------------------------------------------------------------------------


def test_known_keys_are_the_contract_keys() -> None:
    assert set(KNOWN_KEYS) == {
        "SAGE200_EDITION",
        "SAGE200_API_BASE_URL",
        "SAGE200_AUTH_URL",
        "SAGE200_TOKEN_URL",
        "SAGE200_AUDIENCE",
        "SAGE200_CLIENT_ID",
        "SAGE200_CLIENT_SECRET",
        "SAGE200_CLIENT_AUTH",
        "SAGE200_REDIRECT_URI",
        "SAGE200_SCOPE",
        "SAGE200_ACCESS_TOKEN",
        "SAGE200_AUTHORIZATION",
        "SAGE200_REFRESH_TOKEN",
        "SAGE200_SUBSCRIPTION_KEY",
        "SAGE200_SITE_ID",
        "SAGE200_COMPANY_ID",
        "SAGE200_CUSTOMER_REFERENCE",
        "SAGE200_TIMEOUT_S",
        "SAGE200_CA_BUNDLE",
        # Expiry forecast (token.expiry), added to the contract's keys:
        "SAGE200_REFRESH_TOKEN_ISSUED_AT",
        "SAGE200_REFRESH_TOKEN_MAX_DAYS",
        "SAGE200_CLIENT_SECRET_EXPIRES",
        "SAGE200_EXPIRY_WARNING_DAYS",
        # Requests in flight at once (speed), added too:
        "SAGE200_CONCURRENCY",
        # Go-live coverage of the other modules (api.resources):
        "SAGE200_RESOURCES",
    }
    assert len(KNOWN_KEYS) == len(set(KNOWN_KEYS))


def test_secret_keys_are_the_contract_secrets() -> None:
    assert {
        "SAGE200_CLIENT_SECRET",
        "SAGE200_ACCESS_TOKEN",
        "SAGE200_AUTHORIZATION",
        "SAGE200_REFRESH_TOKEN",
        "SAGE200_SUBSCRIPTION_KEY",
    } == SECRET_KEYS


# --- defaults -------------------------------------------------------------------------------


def test_defaults_when_nothing_is_configured() -> None:
    loaded = load()
    settings = loaded.settings
    assert loaded.problems == ()
    assert settings.edition is None
    assert settings.api_base_url == STANDARD
    assert settings.auth_url == "https://id.sage.com/authorize"
    assert settings.token_url == "https://id.sage.com/oauth/token"
    assert settings.audience == "s200ukipd/sage200"
    assert settings.scope == "openid profile email offline_access"
    assert settings.client_auth == "basic"
    assert settings.timeout_s == 20.0
    assert settings.client_id is None
    assert settings.client_secret is None
    assert settings.access_token is None
    assert settings.ca_bundle is None
    assert settings.env_file is None
    assert settings.raw == {}
    assert set(settings.sources.values()) == {"default"}
    assert not settings.explicitly_set("SAGE200_AUTH_URL")


@pytest.mark.parametrize(
    ("edition", "canonical", "base"),
    [
        ("standard", "standard", STANDARD),
        ("professional", "professional", PROFESSIONAL),
        ("Professional", "professional", PROFESSIONAL),
        (" professional ", "professional", PROFESSIONAL),
    ],
)
def test_base_url_defaults_from_edition(edition: str, canonical: str, base: str) -> None:
    loaded = load(environ={"SAGE200_EDITION": edition})
    assert loaded.problems == ()
    assert loaded.settings.edition == canonical
    assert loaded.settings.api_base_url == base
    assert loaded.settings.sources["SAGE200_API_BASE_URL"] == "default"
    # The raw value stays as typed, so config.values can still see stray whitespace.
    assert loaded.settings.raw["SAGE200_EDITION"] == edition


def test_explicit_base_url_wins_over_the_edition_default() -> None:
    loaded = load(
        environ={"SAGE200_EDITION": "professional", "SAGE200_API_BASE_URL": "http://127.0.0.1:1/"}
    )
    assert loaded.settings.api_base_url == "http://127.0.0.1:1/"
    assert loaded.settings.sources["SAGE200_API_BASE_URL"] == "environment"
    assert loaded.settings.explicitly_set("SAGE200_API_BASE_URL")


# --- layers ---------------------------------------------------------------------------------


def test_file_then_environment_then_flags(write_env: WriteEnv) -> None:
    path = write_env(
        "SAGE200_CLIENT_ID=from-file\n"
        "SAGE200_SITE_ID=site-from-file\n"
        "SAGE200_COMPANY_ID=1\n"
        "SAGE200_REFRESH_TOKEN=refresh-from-file\n"
    )
    loaded = load(
        path,
        environ={"SAGE200_SITE_ID": "site-from-env", "SAGE200_COMPANY_ID": "2", "HOME": "/x"},
        overrides={"SAGE200_COMPANY_ID": "3"},
    )
    settings = loaded.settings
    assert loaded.problems == ()
    assert settings.client_id == "from-file"
    assert settings.site_id == "site-from-env"
    assert settings.company_id == "3"
    assert settings.refresh_token == Secret("refresh-from-file")
    assert settings.env_file == path
    assert settings.sources["SAGE200_CLIENT_ID"] == "file"
    assert settings.sources["SAGE200_SITE_ID"] == "environment"
    assert settings.sources["SAGE200_COMPANY_ID"] == "flag"
    assert settings.sources["SAGE200_TOKEN_URL"] == "default"
    assert "HOME" not in settings.sources


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGE200_CUSTOMER_REFERENCE", "ABC001")
    loaded = load_settings(default_env_file=Path("/nonexistent/.env"))
    assert loaded.settings.customer_reference == "ABC001"
    assert loaded.settings.sources["SAGE200_CUSTOMER_REFERENCE"] == "environment"


def test_default_env_file_is_read_only_when_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(environ={}).settings.env_file is None
    (tmp_path / ".env").write_text("SAGE200_CLIENT_ID=abc\n")
    loaded = load_settings(environ={})
    assert loaded.settings.client_id == "abc"
    assert loaded.settings.env_file == Path(".env")


def test_a_directory_named_like_the_default_file_is_ignored(tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()
    loaded = load_settings(environ={}, default_env_file=tmp_path / ".env")
    assert loaded.settings.env_file is None


def test_explicit_env_file_replaces_the_default(write_env: WriteEnv) -> None:
    default = write_env("SAGE200_CLIENT_ID=default\n", ".env")
    named = write_env("SAGE200_SITE_ID=named\n", "other.env")
    settings = load(named, default=default).settings
    assert settings.client_id is None
    assert settings.site_id == "named"


def test_empty_value_in_the_file_means_not_set(write_env: WriteEnv) -> None:
    loaded = load(write_env("SAGE200_CLIENT_ID=\nSAGE200_TIMEOUT_S=\n"))
    assert loaded.problems == ()
    assert loaded.settings.client_id is None
    assert loaded.settings.timeout_s == 20.0
    assert not loaded.settings.explicitly_set("SAGE200_CLIENT_ID")


def test_empty_environment_variable_hides_the_file_value_with_a_warning(
    write_env: WriteEnv,
) -> None:
    loaded = load(
        write_env("SAGE200_SUBSCRIPTION_KEY=key-from-file\n"),
        environ={"SAGE200_SUBSCRIPTION_KEY": ""},
    )
    assert loaded.settings.subscription_key is None
    (problem,) = loaded.problems
    assert problem.key == "SAGE200_SUBSCRIPTION_KEY"
    assert problem.severity == "warning"
    assert "key-from-file" not in problem.message


# --- problems -------------------------------------------------------------------------------


def test_unknown_key_in_the_file_gets_did_you_mean_and_its_line(write_env: WriteEnv) -> None:
    loaded = load(write_env("# comment\nSAGE200_CLIENTID=abc\n"))
    (problem,) = loaded.problems
    assert problem.key == "SAGE200_CLIENTID"
    assert problem.severity == "warning"
    assert "line 2" in problem.message
    assert problem.suggestion == "Did you mean SAGE200_CLIENT_ID?"
    assert loaded.settings.client_id is None
    assert "SAGE200_CLIENTID" not in loaded.settings.raw


def test_unknown_keys_from_environment_and_flags() -> None:
    loaded = load(
        environ={"SAGE200_SUBSCRIPTION": "x", "sage200_site_id": "y", "PATH": "/bin"},
        overrides={"SAGE200_TIMEOUT": "5"},
    )
    by_key = {p.key: p for p in loaded.problems}
    assert set(by_key) == {"SAGE200_SUBSCRIPTION", "sage200_site_id", "SAGE200_TIMEOUT"}
    assert by_key["SAGE200_SUBSCRIPTION"].suggestion == "Did you mean SAGE200_SUBSCRIPTION_KEY?"
    assert "SAGE200_SITE_ID" in (by_key["sage200_site_id"].suggestion or "")
    assert by_key["SAGE200_TIMEOUT"].suggestion == "Did you mean SAGE200_TIMEOUT_S?"
    assert "flag" in by_key["SAGE200_TIMEOUT"].message
    assert all(p.severity == "warning" for p in loaded.problems)


def test_near_miss_without_prefix_in_the_file_is_reported(write_env: WriteEnv) -> None:
    loaded = load(write_env("CLIENT_ID=abc\nSAGE_200_SITE_ID=x\nDATABASE_URL=postgres://db\n"))
    by_key = {p.key: p for p in loaded.problems}
    assert set(by_key) == {"CLIENT_ID", "SAGE_200_SITE_ID"}
    assert by_key["CLIENT_ID"].suggestion == "Did you mean SAGE200_CLIENT_ID?"
    assert by_key["SAGE_200_SITE_ID"].suggestion == "Did you mean SAGE200_SITE_ID?"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("SAGE200_CLIENTID", "SAGE200_CLIENT_ID"),
        ("SAGE200_SITEID", "SAGE200_SITE_ID"),
        ("SAGE200_COMPANY", "SAGE200_COMPANY_ID"),
        ("SAGE200_BASE_URL", "SAGE200_API_BASE_URL"),
        ("SAGE200_REFRESHTOKEN", "SAGE200_REFRESH_TOKEN"),
        ("sage200_scope", "SAGE200_SCOPE"),
        ("SUBSCRIPTION_KEY", "SAGE200_SUBSCRIPTION_KEY"),
    ],
)
def test_did_you_mean(key: str, expected: str) -> None:
    assert expected in (did_you_mean(key) or "")


def test_did_you_mean_stays_quiet_when_nothing_is_close() -> None:
    assert did_you_mean("SAGE200_FAVOURITE_COLOUR") is None
    assert did_you_mean("DATABASE_URL") is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "holds no PEM certificate"),
        ("-----BEGIN CERTIFICATE-----\nnot base64\n", "holds no PEM certificate"),
    ],
)
def test_ca_bundle_that_holds_no_certificate_is_an_error(
    tmp_path: Path, content: str, problem: str
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text(content)
    loaded = load(environ={"SAGE200_CA_BUNDLE": str(bundle)})
    (found,) = loaded.problems
    assert problem in found.message
    assert loaded.settings.ca_bundle is None


def test_a_ca_path_too_long_for_the_file_system_is_an_error() -> None:
    loaded = load(environ={"SAGE200_CA_BUNDLE": "/" + "x" * 5000})
    (found,) = loaded.problems
    assert "not a usable file path" in found.message
    assert "x" * 300 not in found.message


def test_proxy_variables_in_the_file_are_flagged(write_env: WriteEnv) -> None:
    loaded = load(write_env("HTTPS_PROXY=http://proxy:8080\nno_proxy=localhost\n"))
    assert keys_of(loaded.problems, "warning") == ["HTTPS_PROXY", "no_proxy"]
    assert "environment" in loaded.problems[0].message


def test_unknown_edition_is_an_error_with_a_suggestion() -> None:
    loaded = load(environ={"SAGE200_EDITION": "profesional"})
    (problem,) = loaded.problems
    assert (problem.key, problem.severity) == ("SAGE200_EDITION", "error")
    assert problem.suggestion == "Did you mean professional?"
    assert loaded.settings.edition == "profesional"
    assert loaded.settings.api_base_url == STANDARD


@pytest.mark.parametrize("value", ["basic", "body", "BODY", " body"])
def test_client_auth_accepts_basic_and_body(value: str) -> None:
    loaded = load(overrides={"SAGE200_CLIENT_AUTH": value})
    assert loaded.problems == ()
    assert loaded.settings.client_auth == value.strip().lower()


def test_unknown_client_auth_is_an_error_and_basic_is_kept() -> None:
    loaded = load(environ={"SAGE200_CLIENT_AUTH": "post"})
    (problem,) = loaded.problems
    assert (problem.key, problem.severity) == ("SAGE200_CLIENT_AUTH", "error")
    assert loaded.settings.client_auth == "basic"


@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan", "inf", "20s"])
def test_timeout_must_be_a_positive_number(value: str) -> None:
    loaded = load(environ={"SAGE200_TIMEOUT_S": value})
    (problem,) = loaded.problems
    assert (problem.key, problem.severity) == ("SAGE200_TIMEOUT_S", "error")
    assert loaded.settings.timeout_s == 20.0


@pytest.mark.parametrize(("value", "seconds"), [("2.5", 2.5), ("60", 60.0), (" 30 ", 30.0)])
def test_timeout_accepts_positive_numbers(value: str, seconds: float) -> None:
    loaded = load(environ={"SAGE200_TIMEOUT_S": value})
    assert loaded.problems == ()
    assert loaded.settings.timeout_s == seconds


@pytest.mark.parametrize("value", ["0", "33", "-1", "eight", "2.5"])
def test_concurrency_must_be_a_whole_number_from_1_to_32(value: str) -> None:
    loaded = load(environ={"SAGE200_CONCURRENCY": value})
    (problem,) = [p for p in loaded.problems if p.key == "SAGE200_CONCURRENCY"]
    assert problem.severity == "error"
    assert loaded.settings.concurrency == 32


@pytest.mark.parametrize(("value", "width"), [("1", 1), (" 16 ", 16), ("32", 32)])
def test_concurrency_accepts_1_to_32(value: str, width: int) -> None:
    loaded = load(environ={"SAGE200_CONCURRENCY": value})
    assert loaded.problems == ()
    assert loaded.settings.concurrency == width
    assert loaded.settings.public_summary()["concurrency"] == str(width)


def test_resources_are_a_comma_separated_list_of_names() -> None:
    loaded = load(environ={"SAGE200_RESOURCES": " SOP_Orders, /products/ ,,nominal_codes,products"})
    assert loaded.problems == ()
    assert loaded.settings.resources == ("sop_orders", "products", "nominal_codes")
    assert loaded.settings.public_summary()["resources"] == "sop_orders, products, nominal_codes"


def test_no_resources_by_default() -> None:
    loaded = load()
    assert loaded.settings.resources == ()
    assert loaded.settings.public_summary()["resources"] == "not set"


def test_an_unknown_resource_is_a_warning_with_did_you_mean_and_is_still_asked_for() -> None:
    loaded = load(environ={"SAGE200_RESOURCES": "sop_order,customers"})
    (problem,) = loaded.problems
    assert (problem.key, problem.severity) == ("SAGE200_RESOURCES", "warning")
    assert "sop_order," in problem.message
    assert problem.suggestion == "Did you mean sop_orders?"
    assert loaded.settings.resources == ("sop_order", "customers")


def test_an_unknown_resource_with_nothing_close_has_no_suggestion() -> None:
    (problem,) = load(environ={"SAGE200_RESOURCES": "zzzzqqqq"}).problems
    assert problem.suggestion is None


@pytest.mark.parametrize("item", ["customers/27825", "sop_orders?$top=5", "sop orders", "1abc"])
def test_something_that_cannot_be_a_resource_name_is_an_error_and_left_out(item: str) -> None:
    loaded = load(environ={"SAGE200_RESOURCES": f"customers,{item}"})
    (problem,) = [p for p in loaded.problems if p.key == "SAGE200_RESOURCES"]
    assert problem.severity == "error"
    assert repr(item) in problem.message
    assert loaded.settings.resources == ("customers",)


def test_ca_bundle_that_exists_is_kept(tmp_path: Path) -> None:
    import certifi

    bundle = tmp_path / "ca.pem"
    bundle.write_text(Path(certifi.where()).read_text(encoding="utf-8"))
    loaded = load(environ={"SAGE200_CA_BUNDLE": str(bundle)})
    assert loaded.problems == ()
    assert loaded.settings.ca_bundle == str(bundle)


@pytest.mark.parametrize("name", ["missing.pem", "a-directory"])
def test_ca_bundle_that_is_not_a_file_is_an_error(tmp_path: Path, name: str) -> None:
    (tmp_path / "a-directory").mkdir()
    path = str(tmp_path / name)
    loaded = load(environ={"SAGE200_CA_BUNDLE": path})
    (problem,) = loaded.problems
    assert (problem.key, problem.severity) == ("SAGE200_CA_BUNDLE", "error")
    assert path in problem.message
    # Nothing downstream should try to load a file that is not there.
    assert loaded.settings.ca_bundle is None
    assert loaded.settings.raw["SAGE200_CA_BUNDLE"] == path


def test_every_problem_is_reported_in_one_pass(write_env: WriteEnv, tmp_path: Path) -> None:
    path = write_env(
        "SAGE200_EDITION=enterprise\n"
        "SAGE200_CLIENT_AUTH=jwt\n"
        "SAGE200_TIMEOUT_S=soon\n"
        f"SAGE200_CA_BUNDLE={tmp_path / 'nope.pem'}\n"
        "SAGE200_CLIENTID=abc\n"
        "SAGE200_SITE_ID=a\n"
        "SAGE200_SITE_ID=b\n"
        'SAGE200_SCOPE="openid\n'
    )
    loaded = load(path, environ={"SAGE200_SUBSCRIPTON_KEY": "k"})
    assert set(keys_of(loaded.problems, "error")) == {
        "SAGE200_EDITION",
        "SAGE200_CLIENT_AUTH",
        "SAGE200_TIMEOUT_S",
        "SAGE200_CA_BUNDLE",
        "SAGE200_SCOPE",
    }
    assert set(keys_of(loaded.problems, "warning")) == {
        "SAGE200_CLIENTID",
        "SAGE200_SITE_ID",
        "SAGE200_SUBSCRIPTON_KEY",
    }
    assert loaded.settings.site_id == "b"


def test_duplicate_key_warns_and_the_last_one_wins(write_env: WriteEnv) -> None:
    loaded = load(write_env("SAGE200_CLIENT_ID=first\n\n\nSAGE200_CLIENT_ID=second\n"))
    (problem,) = loaded.problems
    assert problem.key == "SAGE200_CLIENT_ID"
    assert "lines 1, 4" in problem.message
    assert loaded.settings.client_id == "second"


def test_unparsable_line_names_its_line_and_key(write_env: WriteEnv) -> None:
    loaded = load(write_env("SAGE200_CLIENT_ID=ok\n\n# note\nSAGE200_SITE_ID='unclosed\n"))
    (problem,) = loaded.problems
    assert (problem.key, problem.severity) == ("SAGE200_SITE_ID", "error")
    assert "line 4" in problem.message
    assert loaded.settings.client_id == "ok"


def test_dotenv_does_not_log_the_lines_we_report(
    write_env: WriteEnv, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        loaded = load(write_env("SAGE200_SITE_ID='unclosed\n"))
    assert len(loaded.problems) == 1
    assert not [record for record in caplog.records if record.name.startswith("dotenv")]


def test_key_without_equals_sign_warns(write_env: WriteEnv) -> None:
    loaded = load(write_env("SAGE200_SITE_ID\n"))
    (problem,) = loaded.problems
    assert (problem.key, problem.severity) == ("SAGE200_SITE_ID", "warning")
    assert loaded.settings.site_id is None


def test_wrapped_value_line_is_reported_without_repeating_it(write_env: WriteEnv) -> None:
    path = write_env(f"SAGE200_ACCESS_TOKEN=eyJhbGciOi\n{SECRET_VALUE}\n")
    (problem,) = load(path).problems
    assert "line 2" in problem.message
    assert SECRET_VALUE not in repr(problem)


# --- file formats ---------------------------------------------------------------------------


def test_bom_crlf_export_and_comments(write_env: WriteEnv) -> None:
    path = write_env(
        b"\xef\xbb\xbfSAGE200_CLIENT_ID=first-line\r\n"
        b"# a comment\r\n"
        b"export SAGE200_SITE_ID=site\r\n"
        b"SAGE200_COMPANY_ID=7 # inline comment\r\n"
    )
    loaded = load(path)
    assert loaded.problems == ()
    assert loaded.settings.client_id == "first-line"
    assert loaded.settings.site_id == "site"
    assert loaded.settings.company_id == "7"


def test_quotes_are_handled_by_dotenv_and_nothing_else_is_stripped(write_env: WriteEnv) -> None:
    path = write_env(
        'SAGE200_CLIENT_ID=" padded "\n'
        "SAGE200_SITE_ID='single'\n"
        "SAGE200_COMPANY_ID=\u201c12\u201d\n"
        'SAGE200_ACCESS_TOKEN="Bearer abc"\n'
        'SAGE200_CUSTOMER_REFERENCE="two\nlines"\n'
    )
    settings = load(path).settings
    assert settings.client_id == " padded "
    assert settings.site_id == "single"
    assert settings.company_id == "\u201c12\u201d"
    assert settings.access_token == Secret("Bearer abc")
    assert settings.customer_reference == "two\nlines"
    assert settings.raw["SAGE200_CLIENT_ID"] == " padded "


def test_dollar_signs_are_not_interpolated(write_env: WriteEnv) -> None:
    path = write_env("SAGE200_CLIENT_SECRET=pa$$word${HOME}$USER\n")
    loaded = load(path, environ={"HOME": "/root", "USER": "root"})
    assert loaded.settings.client_secret == Secret("pa$$word${HOME}$USER")


def test_non_utf8_bytes_are_a_problem_not_a_traceback(write_env: WriteEnv) -> None:
    path = write_env(b"SAGE200_CLIENT_ID=ok\nSAGE200_SITE_ID=\x93abc\x94\n")
    loaded = load(path)
    (problem,) = loaded.problems
    assert (problem.key, problem.severity) == ("SAGE200_SITE_ID", "error")
    assert "line 2" in problem.message
    assert str(path) in problem.message
    assert problem.suggestion is not None
    assert "UTF-8" in problem.suggestion
    assert loaded.settings.client_id == "ok"


def test_non_utf8_line_without_a_key_names_the_file(write_env: WriteEnv) -> None:
    path = write_env(b"# caf\xe9\n")
    (problem,) = load(path).problems
    assert problem.key == str(path)
    assert "line 1" in problem.message


# --- unreadable env files -------------------------------------------------------------------


def test_missing_env_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "missing.env"
    with pytest.raises(UsageError, match="does not exist") as raised:
        load(path)
    assert str(path) in str(raised.value)


def test_directory_as_env_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="directory") as raised:
        load(tmp_path)
    assert str(tmp_path) in str(raised.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_env_file_is_a_usage_error(write_env: WriteEnv) -> None:
    path = write_env(f"SAGE200_CLIENT_SECRET={SECRET_VALUE}\n")
    path.chmod(0)
    try:
        with pytest.raises(UsageError, match="permission denied") as raised:
            load(path)
    finally:
        path.chmod(0o600)
    assert SECRET_VALUE not in str(raised.value)


def test_permission_error_is_a_usage_error(
    write_env: WriteEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Same as above but independent of the user running the tests (root reads anything).
    path = write_env(f"SAGE200_CLIENT_SECRET={SECRET_VALUE}\n")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(UsageError, match="permission denied") as raised:
        load(path)
    assert str(path) in str(raised.value)


# --- Secret ---------------------------------------------------------------------------------


def test_secret_never_shows_its_value() -> None:
    secret = Secret(SECRET_VALUE)
    for shown in (str(secret), repr(secret), f"{secret}", f"{secret!r}", format(secret)):
        assert shown == "**********"
    assert SECRET_VALUE[:3] not in str(secret)
    assert secret.reveal() == SECRET_VALUE


def test_secret_in_containers_and_exceptions() -> None:
    secret = Secret(SECRET_VALUE)

    @dataclasses.dataclass
    class Holder:
        token: Secret

    assert SECRET_VALUE not in repr(Holder(secret))
    assert SECRET_VALUE not in repr([secret, {"k": secret}])
    with pytest.raises(ValueError, match=r"\*{10}") as raised:
        raise ValueError(f"bad token {secret}")
    assert SECRET_VALUE not in str(raised.value)


def test_secret_in_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("token %s (%r)", Secret(SECRET_VALUE), Secret("x"))
    assert caplog.messages == ["token ********** (**********)"]


def test_secret_truthiness_equality_and_hash() -> None:
    assert Secret("x")
    assert not Secret("")
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"  # never equal to the bare string: no accidental comparisons
    assert len({Secret("a"), Secret("a"), Secret("b")}) == 2


def test_settings_repr_and_summary_hide_secrets(write_env: WriteEnv) -> None:
    path = write_env(
        "".join(f"{key}={SECRET_VALUE}-{key}\n" for key in sorted(SECRET_KEYS))
        + "SAGE200_CLIENT_ID=client\n"
    )
    loaded = load(path)
    assert SECRET_VALUE not in repr(loaded)
    summary = loaded.settings.public_summary()
    assert SECRET_VALUE not in repr(summary)
    for name in ("client_secret", "access_token", "authorization", "refresh_token"):
        assert summary[name] == "set"
    assert summary["subscription_key"] == "set"
    assert summary["client_id"] == "client"
    for key in SECRET_KEYS:
        assert isinstance(loaded.settings.raw[key], Secret)
    assert isinstance(loaded.settings.raw["SAGE200_CLIENT_ID"], str)


def test_public_summary_of_an_empty_configuration() -> None:
    summary = load().settings.public_summary()
    assert summary["client_secret"] == "not set"
    assert summary["edition"] == "not set"
    assert summary["timeout_s"] == "20"
    assert summary["api_base_url"] == STANDARD


def test_no_problem_ever_contains_a_secret_value(write_env: WriteEnv) -> None:
    path = write_env(
        f"SAGE200_CLIENT_SECRET='{SECRET_VALUE}\n"  # unclosed quote
        f"SAGE200_REFRESH_TOKEN={SECRET_VALUE}\n"
        f"SAGE200_REFRESH_TOKEN={SECRET_VALUE}2\n"  # duplicate
        f"SAGE200_ACCESSTOKEN={SECRET_VALUE}\n"  # misspelt
        f"{SECRET_VALUE}\n".encode()
        + f"SAGE200_SUBSCRIPTION_KEY=\u201c{SECRET_VALUE}\n".encode("cp1252")
    )
    loaded = load(
        path,
        environ={"SAGE200_AUTHORIZATION": "", "SAGE200_TOKEN": SECRET_VALUE},
        overrides={"SAGE200_REFRESH": SECRET_VALUE},
    )
    assert len(loaded.problems) >= 6
    for problem in loaded.problems:
        assert SECRET_VALUE not in repr(problem)


def test_settings_are_immutable() -> None:
    settings = load().settings
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.client_id = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.raw["SAGE200_CLIENT_ID"] = "x"  # type: ignore[index]


# --- the example file -----------------------------------------------------------------------


def test_example_file_names_every_key_and_loads_cleanly() -> None:
    example = REPO / "config.example.env"
    text = example.read_text(encoding="utf-8")
    for key in KNOWN_KEYS:
        assert f"{key}=" in text, key
    loaded = load(example)
    assert loaded.problems == ()
    assert loaded.settings.edition == "standard"
