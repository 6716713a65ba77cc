"""Postman exports that point at a running emulator, written as Postman writes them: the article's
collection with its Sage ID URLs turned into variables, and an environment holding the emulator's
settings (secrets typed `secret`, as Postman exports them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parents[1] / "fixtures" / "postman"
ARTICLE = FIXTURES / "article.postman_collection.json"
CLIENT_AUTHENTICATION = {"basic": "header", "body": "body"}


def emulator_collection(
    directory: Path, env: dict[str, str], *, source: Path = ARTICLE, name: str = "emulator"
) -> Path:
    """`source` with the OAuth 2.0 URLs as {{authUrl}} / {{tokenUrl}} and the client
    authentication the emulator's settings use."""
    document: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    settings = {
        "authUrl": "{{authUrl}}",
        "accessTokenUrl": "{{tokenUrl}}",
        "client_authentication": CLIENT_AUTHENTICATION[env.get("SAGE200_CLIENT_AUTH", "basic")],
    }
    for entry in document["auth"]["oauth2"]:
        if entry["key"] in settings:
            entry["value"] = settings[entry["key"]]
    path = directory / f"{name}.postman_collection.json"
    path.write_text(json.dumps(document, indent="\t"), encoding="utf-8")
    return path


def emulator_environment(
    directory: Path, env: dict[str, str], *, extra: dict[str, str] | None = None
) -> Path:
    """A Postman environment export holding the emulator's settings (and `extra` secrets)."""
    plain = {
        "baseUrl": env["SAGE200_API_BASE_URL"].rstrip("/"),
        "authUrl": env["SAGE200_AUTH_URL"],
        "tokenUrl": env["SAGE200_TOKEN_URL"],
        "clientId": env["SAGE200_CLIENT_ID"],
        "callbackUrl": env["SAGE200_REDIRECT_URI"],
        "siteId": env["SAGE200_SITE_ID"],
        "companyId": env["SAGE200_COMPANY_ID"],
        "edition": env["SAGE200_EDITION"],
    }
    secret = {
        "clientSecret": env.get("SAGE200_CLIENT_SECRET"),
        "subscriptionKey": env.get("SAGE200_SUBSCRIPTION_KEY"),
        "refreshToken": env.get("SAGE200_REFRESH_TOKEN"),
        "accessToken": env.get("SAGE200_ACCESS_TOKEN"),
        **(extra or {}),
    }
    values = [_variable(key, value, "default") for key, value in plain.items()]
    values += [_variable(key, value, "secret") for key, value in secret.items() if value]
    document = {
        "id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "name": "Sage 200 emulator",
        "values": values,
        "_postman_variable_scope": "environment",
        "_postman_exported_at": "2025-01-13T10:15:42.118Z",
        "_postman_exported_using": "Postman/11.27.3",
    }
    path = directory / "emulator.postman_environment.json"
    path.write_text(json.dumps(document, indent="\t"), encoding="utf-8")
    return path


def _variable(key: str, value: str, kind: str) -> dict[str, object]:
    return {"key": key, "value": value, "type": kind, "enabled": True}
