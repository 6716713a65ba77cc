"""Reading Postman exports: collections validated against Postman's schemas, anything else named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sage200_doctor.postman import (
    PostmanError,
    load_collection,
    load_environment,
    parse_collection,
    parse_environment,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "postman"
NOT = FIXTURES / "not-collections"
V21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("article.postman_collection.json", "2.1.0"),
        ("folder-auth.postman_collection.json", "2.1.0"),
        ("v2.0.postman_collection.json", "2.0.0"),
    ],
)
def test_collections_load_with_their_format_version(name: str, version: str) -> None:
    collection = load_collection(FIXTURES / name)
    assert collection.version == version
    assert collection.source == FIXTURES / name
    assert collection.name


def test_every_fixture_collection_is_valid_for_its_schema() -> None:
    for path in FIXTURES.glob("*.postman_collection.json"):
        load_collection(path)  # raises PostmanError otherwise


def test_collection_variables_are_read_with_their_disabled_flag() -> None:
    collection = load_collection(FIXTURES / "folder-auth.postman_collection.json")
    assert collection.variables.lookup("pageSize") is not None
    assert collection.variables.lookup("extraScope") is None  # disabled
    assert any(v.key == "extraScope" and not v.enabled for v in collection.variables.variables)


def test_an_environment_export_reads_secret_and_disabled_values() -> None:
    environment = load_environment(FIXTURES / "article.postman_environment.json")
    assert environment.kind == "environment"
    assert environment.name == "Sage 200 Standard"
    secret = environment.lookup("clientSecret")
    assert secret is not None
    assert secret.secret
    company = environment.lookup("companyId")
    assert company is not None
    assert company.value == "1"  # the disabled "99" is ignored


def test_a_globals_export_reads_as_globals() -> None:
    scope = load_environment(FIXTURES / "workspace.postman_globals.json", kind="globals")
    assert scope.kind == "globals"
    assert scope.lookup("onlyGlobal") is not None


@pytest.mark.parametrize(
    ("path", "phrase"),
    [
        (FIXTURES / "article.postman_environment.json", "it is an environment export"),
        (FIXTURES / "workspace.postman_globals.json", "it is a globals export"),
        (NOT / "v1.postman_collection.json", "old v1 format"),
        (NOT / "openapi.json", "OpenAPI"),
        (NOT / "openapi.yaml", "OpenAPI description in YAML"),
        (NOT / "capture.har", "HAR file"),
        (NOT / "notes.txt", "is not JSON"),
        (NOT / "invalid-v2.1.postman_collection.json", "item[0].request.header[0].value"),
    ],
)
def test_other_files_are_named_for_what_they_are(path: Path, phrase: str) -> None:
    with pytest.raises(PostmanError, match=r".") as raised:
        load_collection(path)
    assert phrase in str(raised.value)
    assert str(raised.value).startswith(path.name)


def test_a_collection_passed_as_environment_is_named() -> None:
    with pytest.raises(PostmanError, match="it is a collection export"):
        load_environment(FIXTURES / "article.postman_collection.json")


@pytest.mark.parametrize(
    ("document", "phrase"),
    [
        ([1, 2], "JSON list"),
        ({"info": {"name": "x"}, "item": []}, "does not say which collection format"),
        (
            {
                "info": {
                    "name": "x",
                    "schema": "https://schema.getpostman.com/json/collection/v3.0.0/",
                },
                "item": [],
            },
            "v3.0.0",
        ),
        ({"log": {"entries": []}}, "HAR"),
        ({"collections": [], "environments": [], "version": 1}, "data dump"),
        ({"_type": "export", "__export_format": 4}, "Insomnia"),
        ({"name": "x"}, "top-level keys: name"),
    ],
)
def test_documents_that_are_not_collections(document: object, phrase: str) -> None:
    with pytest.raises(PostmanError, match=r".") as raised:
        parse_collection(document)
    assert phrase in str(raised.value)


def test_a_postman_api_wrapper_is_unwrapped() -> None:
    inner = json.loads((FIXTURES / "article.postman_collection.json").read_text("utf-8"))
    assert parse_collection({"collection": inner}).name == inner["info"]["name"]
    assert parse_environment({"environment": {"name": "e", "values": []}}).name == "e"


def test_an_explicit_inherit_auth_is_accepted() -> None:
    document = {
        "info": {"name": "x", "schema": V21},
        "item": [{"name": "r", "request": {"auth": {"type": "inherit"}, "url": "https://x/"}}],
    }
    assert parse_collection(document).version == "2.1.0"


def test_a_schema_violation_names_no_value() -> None:
    document = {
        "info": {"name": "x", "schema": V21},
        "item": [
            {
                "name": "r",
                "request": {
                    "url": "https://x/",
                    "header": [{"key": "k", "value": {"v": "CANARY-in-a-bad-place"}}],
                },
            }
        ],
    }
    with pytest.raises(PostmanError, match="should be of type string") as raised:
        parse_collection(document)
    assert "CANARY" not in str(raised.value)


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.postman_collection.json"
    path.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "article.postman_collection.json").read_bytes())
    assert load_collection(path).version == "2.1.0"


@pytest.mark.parametrize(
    ("content", "phrase"), [(b"", "is empty"), (b"\xff\xfe{", "not UTF-8"), (b"{", "not JSON")]
)
def test_unreadable_files(tmp_path: Path, content: bytes, phrase: str) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(PostmanError, match=phrase):
        load_collection(path)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PostmanError, match="cannot be read"):
        load_collection(tmp_path / "missing.json")


def test_an_environment_value_without_a_key() -> None:
    with pytest.raises(PostmanError, match=r"values\[0\]"):
        parse_environment({"values": [{"value": "v"}]})
