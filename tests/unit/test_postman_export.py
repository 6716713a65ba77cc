"""`--write-env`: SAGE200_* settings from a Postman export, written so that `run` reads them back
exactly, owner-only, never over an existing file unless forced."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from sage200_doctor.config.settings import KNOWN_KEYS, Secret, load_settings
from sage200_doctor.postman import (
    PostmanError,
    load_collection,
    load_environment,
    parse_collection,
    secrets_in_export,
    settings_from_export,
    write_env_file,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "postman"
COLLECTION = load_collection(FIXTURES / "article.postman_collection.json")
ENV = load_environment(FIXTURES / "article.postman_environment.json")

EXPECTED = {
    "SAGE200_EDITION": "standard",
    "SAGE200_API_BASE_URL": "https://api.columbus.sage.com/uk/sage200/accounts/v1/",
    "SAGE200_AUTH_URL": "https://id.sage.com/authorize",
    "SAGE200_TOKEN_URL": "https://id.sage.com/oauth/token",
    "SAGE200_AUDIENCE": "s200ukipd/sage200",
    "SAGE200_CLIENT_ID": "sage200-doctor-fixture-client",
    "SAGE200_CLIENT_SECRET": "CANARY-client-secret-5d1f0e9a7c",
    "SAGE200_CLIENT_AUTH": "basic",
    "SAGE200_REDIRECT_URI": "https://localhost:5001/callback",
    "SAGE200_SCOPE": "openid profile email offline_access",
    "SAGE200_ACCESS_TOKEN": "CANARY-access-token-3c9a71e0",
    "SAGE200_REFRESH_TOKEN": "CANARY-refresh-token-f04d2b6e",
    "SAGE200_SUBSCRIPTION_KEY": "CANARY-subscription-key-8b2e44c1",
    "SAGE200_SITE_ID": "2f1e0c4a-7d3b-4e59-9a61-0c8d5b7e3f12",
    "SAGE200_COMPANY_ID": "1",
    "SAGE200_CUSTOMER_REFERENCE": "A1D001",
}


def test_the_article_export_yields_every_setting() -> None:
    settings = settings_from_export(COLLECTION, environment=ENV)
    assert settings == EXPECTED
    assert list(settings) == [key for key in KNOWN_KEYS if key in settings]  # contract order


def test_without_the_environment_only_what_the_collection_holds() -> None:
    settings = settings_from_export(COLLECTION)
    assert settings["SAGE200_API_BASE_URL"] == EXPECTED["SAGE200_API_BASE_URL"]
    for key in (
        "SAGE200_CLIENT_ID",
        "SAGE200_CLIENT_SECRET",
        "SAGE200_SUBSCRIPTION_KEY",
        "SAGE200_SITE_ID",
        "SAGE200_ACCESS_TOKEN",
    ):
        assert key not in settings  # {{variables}} nobody defined are never written


def test_the_professional_path_gives_the_professional_edition() -> None:
    collection = load_collection(FIXTURES / "caution-wrong-edition.postman_collection.json")
    settings = settings_from_export(collection, environment=ENV)
    assert settings["SAGE200_EDITION"] == "professional"
    assert settings["SAGE200_API_BASE_URL"].endswith("/uk/sage200extra/accounts/v1/")


def test_the_v2_0_export_yields_the_same_settings() -> None:
    collection = load_collection(FIXTURES / "v2.0.postman_collection.json")
    assert settings_from_export(collection, environment=ENV) == EXPECTED


def test_the_reference_comes_out_of_typographic_quotes_and_body_client_auth() -> None:
    document = json.loads(
        (FIXTURES / "caution-typographic-quotes.postman_collection.json").read_text("utf-8")
    )
    for entry in document["auth"]["oauth2"]:
        if entry["key"] == "client_authentication":
            entry["value"] = "body"
    settings = settings_from_export(parse_collection(document), environment=ENV)
    assert settings["SAGE200_CUSTOMER_REFERENCE"] == "A1D001"
    assert settings["SAGE200_CLIENT_AUTH"] == "body"


def test_an_export_without_a_client_secret_writes_none() -> None:
    document = json.loads((FIXTURES / "article.postman_collection.json").read_text("utf-8"))
    document["auth"]["oauth2"] = [
        e for e in document["auth"]["oauth2"] if e["key"] != "clientSecret"
    ]
    settings = settings_from_export(parse_collection(document), environment=ENV)
    assert "SAGE200_CLIENT_SECRET" not in settings


# --- writing ------------------------------------------------------------------------------------


def read_back(path: Path) -> dict[str, str]:
    loaded = load_settings(path, environ={})
    assert [p for p in loaded.problems if p.severity == "error"] == []
    return {
        key: value.reveal() if isinstance(value, Secret) else value
        for key, value in loaded.settings.raw.items()
    }


def test_written_settings_read_back_exactly(tmp_path: Path) -> None:
    path = tmp_path / "site.env"
    tricky = {**EXPECTED, "SAGE200_CUSTOMER_REFERENCE": "O'B \"#$x\\ \t`"}
    write_env_file(path, tricky, sources=(COLLECTION.source, ENV.source))
    assert read_back(path) == tricky
    text = path.read_text("utf-8")
    assert text.startswith(
        "# Written by `sage200-doctor postman` from article.postman_collection.json, article.postman_environment.json."
    )


def test_the_file_is_owner_only_from_creation(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # the most permissive umask: the mode must still be 0600
    try:
        path = write_env_file(tmp_path / "site.env", EXPECTED)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "site.env"
    path.write_text("SAGE200_CLIENT_ID=mine\n", "utf-8")
    with pytest.raises(PostmanError, match="already exists"):
        write_env_file(path, EXPECTED)
    assert path.read_text("utf-8") == "SAGE200_CLIENT_ID=mine\n"


def test_an_existing_symlink_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep\n", "utf-8")
    (tmp_path / "site.env").symlink_to(target)
    with pytest.raises(PostmanError, match="already exists"):
        write_env_file(tmp_path / "site.env", EXPECTED)
    assert target.read_text("utf-8") == "keep\n"


def test_force_replaces_atomically_and_keeps_it_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "site.env"
    path.write_text("SAGE200_CLIENT_ID=mine\n", "utf-8")
    path.chmod(0o644)
    write_env_file(path, EXPECTED, force=True)
    assert read_back(path) == EXPECTED
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["site.env"]  # no temporary file left


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SAGE200_NOPE"):
        write_env_file(tmp_path / "site.env", {"SAGE200_NOPE": "x"})
    assert not (tmp_path / "site.env").exists()


def test_an_unwritable_place_is_a_postman_error(tmp_path: Path) -> None:
    with pytest.raises(PostmanError, match="could not be written"):
        write_env_file(tmp_path / "missing-dir" / "site.env", EXPECTED)


def test_a_source_name_cannot_add_lines(tmp_path: Path) -> None:
    path = write_env_file(
        tmp_path / "site.env",
        {"SAGE200_EDITION": "standard"},
        sources=(Path("a\nSAGE200_SCOPE=x"),),
    )
    assert read_back(path) == {"SAGE200_EDITION": "standard"}


def test_every_secret_of_the_export_is_known_for_masking() -> None:
    secrets = secrets_in_export(COLLECTION, environment=ENV)
    canaries = {value for value in EXPECTED.values() if value.startswith("CANARY-")}
    assert canaries <= secrets
    assert EXPECTED["SAGE200_CLIENT_ID"] not in secrets  # not a secret
    assert EXPECTED["SAGE200_SITE_ID"] not in secrets


def test_a_typed_authorization_header_is_a_secret_too() -> None:
    collection = load_collection(FIXTURES / "caution-bearer-no-space.postman_collection.json")
    assert "BearerCANARY-access-token-3c9a71e0" in secrets_in_export(collection, environment=ENV)
