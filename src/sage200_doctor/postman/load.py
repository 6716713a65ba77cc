"""Reading Postman exports: collections (v2.0, v2.1) validated against Postman's published
schemas, and environment or globals exports.

Anything else gets one `PostmanError` whose message names what the file looks like (an
environment passed as the collection, a v1 collection, OpenAPI, a HAR, not JSON) and what to do.
Messages name keys and positions, never values: exports carry secrets.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Final, Literal, cast

import jsonschema
from jsonschema.exceptions import ValidationError

from .model import Collection, PostmanError, Variable, VariableScope

SCHEMA_FILES: Final = {"2.0.0": "collection-v2.0.json", "2.1.0": "collection-v2.1.json"}
"""Our schemas of the collection structure (schemas/README.md: written after Postman's)."""
_SCHEMA_URL: Final = re.compile(r"collection/v(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.\d+)?/")
_REEXPORT: Final = (
    "Export it from Postman as Collection v2.1 (the recommended format) and try again."
)
_MAX_ERRORS: Final = 5

Version = Literal["2.0.0", "2.1.0"]


def load_collection(path: Path) -> Collection:
    """Read and validate the collection export at `path`."""
    return parse_collection(_read_json(path, "collection"), source=path)


def load_environment(
    path: Path, *, kind: Literal["environment", "globals"] = "environment"
) -> VariableScope:
    """Read an environment (or, with `kind="globals"`, a globals) export at `path`."""
    return parse_environment(_read_json(path, kind), source=path, kind=kind)


def parse_collection(document: object, *, source: Path | None = None) -> Collection:
    """Validate an already-decoded collection export (see `load_collection`)."""
    checked, version = _collection_version(_unwrap(document, "collection"), source)
    normalized = _without_explicit_inherit(checked)
    _validate(normalized, version, source)
    info = cast(Mapping[str, object], normalized["info"])
    name = str(info.get("name") or "")
    variables = _collection_variables(normalized.get("variable"), name, source)
    return Collection(name, version, normalized, variables, source)


def parse_environment(
    document: object,
    *,
    source: Path | None = None,
    kind: Literal["environment", "globals"] = "environment",
) -> VariableScope:
    """Validate an already-decoded environment or globals export (see `load_environment`)."""
    document = _unwrap(document, kind)
    values = document.get("values") if isinstance(document, dict) else None
    if not isinstance(document, dict) or not isinstance(values, list):
        raise PostmanError(
            f"{_name(source)} is not a Postman {kind} export: {_looks_like(document)}"
        )
    variables = []
    for index, entry in enumerate(values):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise PostmanError(
                f"{_name(source)}: values[{index}] of this {kind} export has no text `key`."
            )
        variables.append(
            Variable(
                key=entry["key"],
                value=text_of(entry.get("value")),
                enabled=entry.get("enabled", True) is not False,
                secret=entry.get("type") == "secret",
            )
        )
    return VariableScope(kind, str(document.get("name") or kind), tuple(variables), source)


def text_of(value: object) -> str:
    """A JSON value as the text Postman substitutes for it (booleans as `true`/`false`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


# --- reading and telling formats apart ----------------------------------------------------------


def _read_json(path: Path, expected: str) -> object:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise PostmanError(f"{_name(path)} cannot be read: {error.strerror or error}.") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PostmanError(f"{_name(path)} is not UTF-8 text, so not a Postman export.") from None
    if not text.strip():
        raise PostmanError(f"{_name(path)} is empty; expected a Postman {expected} export.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        hint = _yaml_hint(text)
        raise PostmanError(
            f"{_name(path)} is not JSON ({error.msg} at line {error.lineno}, column "
            f"{error.colno}){hint}; expected a Postman {expected} export."
        ) from None


def _yaml_hint(text: str) -> str:
    head = text.lstrip()[:200]
    if re.match(r"(openapi|swagger)\s*:", head):
        return ": it looks like an OpenAPI description in YAML, not a Postman export"
    return ""


def _unwrap(document: object, expected: str) -> object:
    """The Postman API wraps exports as `{"collection": {...}}` / `{"environment": {...}}`."""
    if isinstance(document, dict) and len(document) == 1:
        inner = document.get(expected if expected != "globals" else "environment")
        if isinstance(inner, dict):
            return inner
    return document


def _looks_like(document: object) -> str:
    """What a document that is not the expected export seems to be, in a phrase."""
    if not isinstance(document, dict):
        return f"the file holds a JSON {type(document).__name__}, not an object."
    scope = document.get("_postman_variable_scope")
    if scope in ("environment", "globals") or ("values" in document and "info" not in document):
        label = "a globals" if scope == "globals" else "an environment"
        return f"it is {label} export (pass it with --environment or --globals)."
    if "info" in document and "item" in document:
        return "it is a collection export (pass it as the collection)."
    if "requests" in document and ("order" in document or "folders" in document):
        return f"it is a collection in the old v1 format. {_REEXPORT}"
    if "openapi" in document or "swagger" in document:
        return "it is an OpenAPI/Swagger description, not a Postman export."
    log = document.get("log")
    if isinstance(log, dict) and "entries" in log:
        return "it is a HAR file (a browser's network log), not a Postman export."
    if "collections" in document and ("environments" in document or "version" in document):
        return "it is a whole Postman data dump; export the one collection instead."
    if document.get("_type") == "export" or "__export_format" in document:
        return "it is an Insomnia export, not a Postman export."
    keys = ", ".join(sorted(str(key) for key in document)[:8])
    return f"it has none of the keys Postman writes (top-level keys: {keys or 'none'})."


def _collection_version(document: object, source: Path | None) -> tuple[dict[str, object], Version]:
    info = document.get("info") if isinstance(document, dict) else None
    if not isinstance(document, dict) or not isinstance(info, dict) or "item" not in document:
        raise PostmanError(f"{_name(source)} is not a Postman collection: {_looks_like(document)}")
    match = _SCHEMA_URL.search(str(info.get("schema") or ""))
    if match is None:
        raise PostmanError(
            f"{_name(source)} does not say which collection format it uses (info.schema). "
            + _REEXPORT
        )
    version = f"{match['major']}.{match['minor'] or 0}.0"
    if version not in SCHEMA_FILES:
        raise PostmanError(
            f"{_name(source)} uses collection format v{version}; v2.0 and v2.1 are supported. "
            + _REEXPORT
        )
    return document, cast(Version, version)


def _without_explicit_inherit(document: dict[str, object]) -> dict[str, object]:
    """A copy without `"auth": {"type": "inherit"}`.

    Postman writes an inheriting item by leaving `auth` out; some generators write an explicit
    `inherit`, which the published schema does not list. Both mean the same, so both are read.
    """
    copied = copy.deepcopy(document)
    _drop_inherit(copied)
    return copied


def _drop_inherit(node: object) -> None:
    if isinstance(node, dict):
        auth = node.get("auth")
        if isinstance(auth, dict) and auth.get("type") == "inherit":
            del node["auth"]
        for child in node.values():
            _drop_inherit(child)
    elif isinstance(node, list):
        for child in node:
            _drop_inherit(child)


# --- validation against the format's structure (schemas/README.md) ----------------------------------------------------


@functools.cache
def _validator(version: Version) -> jsonschema.Draft4Validator:
    text = (
        resources.files(__package__).joinpath("schemas", SCHEMA_FILES[version]).read_text("utf-8")
    )
    return jsonschema.Draft4Validator(json.loads(text))


def _validate(document: Mapping[str, object], version: Version, source: Path | None) -> None:
    errors = list(_validator(version).iter_errors(document))
    if not errors:
        return
    picked = [_deepest(error) for error in errors][:_MAX_ERRORS]
    listing = "; ".join(f"{_location(error.absolute_path)}: {_reason(error)}" for error in picked)
    more = f" (and {len(errors) - len(picked)} more)" if len(errors) > len(picked) else ""
    raise PostmanError(
        f"{_name(source)} does not match the Postman collection v{version} format: {listing}{more}."
    )


def _deepest(error: ValidationError) -> ValidationError:
    """For `oneOf`/`anyOf` failures, the innermost failure of any alternative: the one furthest
    into the document is nearly always the real mistake (a header value that is not text, say)."""
    leaves = list(_leaves(error))
    return max(leaves, key=lambda leaf: len(leaf.absolute_path))


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    if not error.context:
        yield error
    for inner in error.context or ():
        yield from _leaves(inner)


def _reason(error: ValidationError) -> str:
    # jsonschema's own messages quote the offending value; ours name only keys and types.
    if error.validator == "required":
        return error.message  # "'key' is a required property": a key name from the schema
    if error.validator == "type":
        return f"should be of type {error.validator_value}"
    if error.validator == "enum":
        return "is not one of the values the format allows"
    return f"does not satisfy the schema's {error.validator!r} rule"


def _location(path: Iterable[object]) -> str:
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return text.lstrip(".") or "the top level"


def _collection_variables(raw: object, name: str, source: Path | None) -> VariableScope:
    variables = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, dict):
            continue
        key = entry.get("key", entry.get("id"))
        if isinstance(key, str):
            variables.append(
                Variable(
                    key=key,
                    value=text_of(entry.get("value")),
                    enabled=entry.get("disabled") is not True,
                    secret=entry.get("type") == "secret",
                )
            )
    return VariableScope("collection", name, tuple(variables), source)


def _name(source: Path | None) -> str:
    return source.name if source is not None else "The document"
