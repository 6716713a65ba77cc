"""The documented shapes of the answers the checks read, as JSON Schema, from `openapi.json`.

`openapi.json` is the project's own compact OpenAPI 3.0 description of the calls it makes,
written from Sage's published description of the API (see the reference notes). The emulator's
tests run schemathesis against it; api.schema validates a run's answers with the same schemas,
turned here into plain JSON Schema (OpenAPI 3.0's `nullable` becomes a `null` type, `$ref`s are
inlined).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

# shape name (as checks record answers in Diagnosis.seen_bodies) -> (path, status)
_OPERATIONS = {
    "sites": ("/sites", "200"),
    "current_user": ("/current_user", "200"),
    "customers": ("/customers", "200"),
    "customer": ("/customers/{id}", "200"),
}


@cache
def openapi() -> dict[str, Any]:
    """The OpenAPI description shipped with the package."""
    text = files("sage200_doctor.http").joinpath("openapi.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def response_schema(path: str, status: str = "200") -> dict[str, Any]:
    """The JSON Schema of a documented JSON answer (GET `path`, `status`)."""
    document = openapi()
    answer = document["paths"][path]["get"]["responses"][status]
    answer = _resolve(document, answer)
    schema: dict[str, Any] = _json_schema(document, answer["content"]["application/json"]["schema"])
    return schema


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _json_schema(document: dict[str, Any], node: Any) -> Any:
    if isinstance(node, list):
        return [_json_schema(document, item) for item in node]
    if not isinstance(node, dict):
        return node
    node = _resolve(document, node)
    converted = {
        key: _json_schema(document, value)
        for key, value in node.items()
        if key not in ("nullable", "example", "readOnly", "properties")
    }
    if "properties" in node:  # property names are data, not keywords: keep every one
        properties = node["properties"].items()
        converted["properties"] = {name: _json_schema(document, s) for name, s in properties}
    if node.get("nullable") and "type" in node:
        converted["type"] = [node["type"], "null"]
    return converted


SHAPES: dict[str, dict[str, Any]] = {
    name: response_schema(path, status) for name, (path, status) in _OPERATIONS.items()
}
