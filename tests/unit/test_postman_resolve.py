"""Resolving requests as Postman sends them: variable precedence, nesting, disabled entries, auth
inheritance, URL objects, saved examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from sage200_doctor.postman import (
    Collection,
    ResolvedRequest,
    Unresolved,
    Variable,
    VariableScope,
    load_collection,
    load_environment,
    parse_collection,
    resolve_requests,
)
from sage200_doctor.postman.model import ScopeKind
from sage200_doctor.postman.variables import Scopes, substitute

FIXTURES = Path(__file__).parents[1] / "fixtures" / "postman"
V21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
ENV = load_environment(FIXTURES / "article.postman_environment.json")
GLOBALS = load_environment(FIXTURES / "workspace.postman_globals.json", kind="globals")


def by_name(requests: tuple[ResolvedRequest, ...]) -> dict[str, ResolvedRequest]:
    return {request.name: request for request in requests}


def scope(kind: ScopeKind, **values: str) -> VariableScope:
    return VariableScope(kind, kind, tuple(Variable(key, value) for key, value in values.items()))


@pytest.fixture(scope="module")
def folder_auth() -> Collection:
    return load_collection(FIXTURES / "folder-auth.postman_collection.json")


# --- variables ----------------------------------------------------------------------------------


def test_environment_wins_over_collection_wins_over_globals() -> None:
    scopes = Scopes.of(
        environment=scope("environment", a="env"),
        collection=scope("collection", a="collection", b="collection"),
        globals_=scope("globals", a="globals", b="globals", c="globals"),
    )
    assert substitute("{{a}} {{b}} {{c}}", scopes) == ("env collection globals", ())


def test_values_may_hold_further_variables() -> None:
    scopes = Scopes.of(
        environment=scope("environment", url="{{host}}/v1", host="https://{{name}}"),
        collection=scope("collection", name="api.example"),
        globals_=None,
    )
    assert substitute("{{url}}/sites", scopes) == ("https://api.example/v1/sites", ())


def test_a_self_reference_stops_after_postmans_pass_limit() -> None:
    scopes = Scopes.of(
        environment=scope("environment", a="x{{a}}"), collection=scope("collection"), globals_=None
    )
    text, unresolved = substitute("{{a}}", scopes)
    assert text == "x" * 19 + "{{a}}"
    assert unresolved == ("a",)


def test_disabled_variables_fall_through_to_the_next_scope() -> None:
    environment = VariableScope("environment", "e", (Variable("a", "env", enabled=False),))
    scopes = Scopes.of(
        environment=environment, collection=scope("collection", a="collection"), globals_=None
    )
    assert substitute("{{a}}", scopes)[0] == "collection"


def test_the_last_enabled_duplicate_wins_within_a_scope() -> None:
    environment = VariableScope(
        "environment",
        "e",
        (Variable("a", "first"), Variable("a", "second"), Variable("a", "off", enabled=False)),
    )
    assert environment.lookup("a") == Variable("a", "second")


def test_unknown_and_dynamic_variables() -> None:
    scopes = Scopes.of(environment=None, collection=scope("collection"), globals_=None)
    text, unresolved = substitute("{{missing}}/{{$guid}}/{{missing}}", scopes)
    assert text == "{{missing}}/{{$guid}}/{{missing}}"
    assert unresolved == ("missing",)  # dynamic variables are Postman's own; once per name


def test_precedence_in_a_whole_collection(folder_auth: Collection) -> None:
    requests = by_name(resolve_requests(folder_auth, environment=ENV, globals_=GLOBALS))
    plain = requests["Inherits collection"]
    assert plain.url.startswith("https://collection.invalid/")  # collection var beats globals
    assert plain.header("X-Origin") == "from-globals"  # only globals define it
    override = scope("environment", pageSize="50")
    again = by_name(resolve_requests(folder_auth, environment=override))
    assert again["Folder OAuth/Inherits folder"].query[0].value == "50"


# --- requests -----------------------------------------------------------------------------------


def test_disabled_headers_and_query_parameters_are_absent(folder_auth: Collection) -> None:
    request = by_name(resolve_requests(folder_auth, environment=ENV))[
        "Folder OAuth/Inherits folder"
    ]
    assert request.header("X-Skipped") is None
    assert [pair.key for pair in request.query] == ["$top"]
    assert request.url.endswith("/customers?$top=25")


def test_unresolved_variables_are_named_with_where_they_appear(folder_auth: Collection) -> None:
    request = by_name(resolve_requests(folder_auth, environment=ENV))[
        "Folder OAuth/Inherits folder"
    ]
    assert request.unresolved == (
        Unresolved("undefinedVar", "header X-Debug"),
        Unresolved("extraScope", "auth oauth2.scope"),  # the collection defines it, disabled
    )


def test_path_variables_and_nested_variables_in_the_url(folder_auth: Collection) -> None:
    request = by_name(resolve_requests(folder_auth, environment=ENV))[
        "Folder OAuth/Nested/Own bearer"
    ]
    assert request.url == "https://collection.invalid/uk/sage200/accounts/v1/customers/27825"


def test_a_url_written_as_a_string(folder_auth: Collection) -> None:
    request = by_name(resolve_requests(folder_auth, environment=ENV))[
        "Folder OAuth/Nested/Explicit inherit"
    ]
    assert [(pair.key, pair.value) for pair in request.query] == [
        ("$filter", "name eq 'O''Brien'"),
        ("$top", "5"),
    ]


def test_a_request_written_as_a_bare_url_is_a_get() -> None:
    collection = parse_collection(
        {
            "info": {"name": "x", "schema": V21},
            "item": [{"name": "r", "request": "https://h/p?a=1"}],
        }
    )
    (request,) = resolve_requests(collection)
    assert (request.method, request.url, request.query[0].key) == ("GET", "https://h/p?a=1", "a")
    assert request.auth is None


def test_a_url_object_with_only_raw() -> None:
    item = {
        "name": "r",
        "request": {"method": "get", "url": {"raw": "https://h/p?x=1"}, "header": "A: 1\n// B: 2"},
    }
    (request,) = resolve_requests(
        parse_collection({"info": {"name": "x", "schema": V21}, "item": [item]})
    )
    assert (request.method, request.url) == ("GET", "https://h/p?x=1")
    assert [(h.key, h.value) for h in request.headers] == [("A", "1")]  # `//` disables a line


# --- auth inheritance ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "auth_type", "defined_at"),
    [
        ("Folder OAuth/Inherits folder", "oauth2", ("Folder OAuth",)),
        ("Folder OAuth/Nested/Own bearer", "bearer", ("Folder OAuth", "Nested", "Own bearer")),
        ("Folder OAuth/Nested/Explicit inherit", "oauth2", ("Folder OAuth",)),
        ("Folder no auth/Inherits noauth", "noauth", ("Folder no auth",)),
        ("Inherits collection", "bearer", ()),
    ],
)
def test_auth_is_inherited_as_postman_does(
    folder_auth: Collection, name: str, auth_type: str, defined_at: tuple[str, ...]
) -> None:
    auth = by_name(resolve_requests(folder_auth, environment=ENV))[name].auth
    assert auth is not None
    assert (auth.type, auth.defined_at) == (auth_type, defined_at)


def test_no_auth_anywhere_is_none() -> None:
    collection = parse_collection(
        {
            "info": {"name": "x", "schema": V21},
            "item": [{"name": "f", "item": [{"name": "r", "request": {"url": "https://h/"}}]}],
        }
    )
    assert resolve_requests(collection)[0].auth is None


def test_oauth2_fields_are_resolved_in_both_export_forms() -> None:
    v21 = resolve_requests(
        load_collection(FIXTURES / "article.postman_collection.json"), environment=ENV
    )[0]
    v20 = resolve_requests(
        load_collection(FIXTURES / "v2.0.postman_collection.json"), environment=ENV
    )[0]
    assert v21.auth is not None
    assert v20.auth is not None
    assert v21.auth.fields == v20.auth.fields
    assert v21.auth.params == v20.auth.params
    assert v21.auth.get("clientId") == "sage200-doctor-fixture-client"
    assert v21.auth.get("headerPrefix") == "Bearer "
    (audience,) = v21.auth.params
    assert (audience.stage, audience.key, audience.value, audience.send_as) == (
        "auth",
        "audience",
        "s200ukipd/sage200",
        "request_url",
    )


# --- examples and bodies ------------------------------------------------------------------------


def test_saved_examples_keep_status_headers_and_body() -> None:
    requests = by_name(
        resolve_requests(
            load_collection(FIXTURES / "article.postman_collection.json"), environment=ENV
        )
    )
    examples = requests["Customers/Filter using the $filter query parameter"].examples
    assert [(example.name, example.status) for example in examples] == [
        ("A1D001", 200),
        ("Bad filter", 400),
    ]
    assert '"reference": "A1D001"' in examples[0].body
    assert examples[0].headers[0].key == "Content-Type"


def test_the_body_mode_is_kept() -> None:
    requests = by_name(
        resolve_requests(
            load_collection(FIXTURES / "caution-post-request.postman_collection.json"),
            environment=ENV,
        )
    )
    assert requests["Customers/Create customer"].body_mode == "raw"
    assert requests["Customers/Get customers"].body_mode is None
