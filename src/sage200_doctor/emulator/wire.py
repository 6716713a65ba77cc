"""Small helpers shared by the three faces: state lookup, face tagging, form bodies."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.requests import HTTPConnection, Request

from .state import EmulatorState, Face


class FormError(ValueError):
    """A request body that is not a usable set of form fields."""


def emulator_state(connection: HTTPConnection) -> EmulatorState:
    state: EmulatorState = connection.app.state.emulator
    return state


def answered_by(request: Request, face: Face) -> None:
    """Tag the request with the face that answered it, for the request log."""
    request.state.face = face


async def read_fields(request: Request, *, allow_json: bool = False) -> dict[str, str]:
    """Form fields of a urlencoded body (python-multipart is not needed for this one format).

    A repeated field is an error, as RFC 6749 §3.2 requires of the token endpoint.
    """
    body = (await request.body()).decode("utf-8", errors="replace")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if allow_json and content_type == "application/json":
        return _json_fields(body)
    if content_type != "application/x-www-form-urlencoded":
        raise FormError("The request body must be application/x-www-form-urlencoded.")
    fields: dict[str, str] = {}
    for name, value in parse_qsl(body, keep_blank_values=True):
        if name in fields:
            raise FormError(f"The parameter '{name}' was given more than once.")
        fields[name] = value
    return fields


def _json_fields(body: str) -> dict[str, str]:
    try:
        data = json.loads(body)
    except ValueError:
        raise FormError("The request body is not valid JSON.") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise FormError("The JSON body must be an object of string values.")
    return {str(key): str(value) for key, value in data.items()}
