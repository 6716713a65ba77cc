"""Small HAR captures written by tests: a Sage conversation entry by entry, with unsigned JWTs.

`Capture().token(...).get("sites", ...).write(path)` gives a Chrome-shaped HAR 1.2 file; every
value a test does not set is a healthy default (site, company, subscription key, a token valid
for an hour from the entry's time).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

API = "https://api.columbus.sage.com/uk/sage200extra/accounts/v1"
TOKEN_URL = "https://id.sage.com/oauth/token"
SITE = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
COMPANY = "2"
KEY = "CANARY-SUBSCRIPTION-KEY-5b8e1d"
START = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
SITES = [
    {"site_id": SITE, "site_name": "Demo Site", "company_id": 2, "company_name": "Demo Data Ltd"},
    {"site_id": SITE, "site_name": "Demo Site", "company_id": 3, "company_name": "Demo Two"},
]
DENIED = {"Message": "Authorization has been denied for this request."}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(
    *,
    exp: datetime | None = None,
    aud: str | list[str] = "s200ukipd/sage200",
    iss: str = "https://id.sage.com/",
    scope: str | None = "openid profile email offline_access",
    signature: bytes = b"CANARY-ACCESS-TOKEN-SIGNATURE",
) -> str:
    """An unsigned-looking JWT (the signature is any text: triage never verifies it)."""
    claims: dict[str, Any] = {"iss": iss, "aud": aud, "sub": "auth0|canary"}
    expiry = exp or START + timedelta(hours=1)
    claims |= {
        "iat": int((expiry - timedelta(hours=1)).timestamp()),
        "exp": int(expiry.timestamp()),
    }
    if scope is not None:
        claims["scope"] = scope
    header = {"alg": "RS256", "typ": "JWT", "kid": "canary"}
    parts = [json.dumps(header).encode(), json.dumps(claims).encode(), signature]
    return ".".join(_b64(part) for part in parts)


TOKEN = jwt()


def customer(number: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": 27824 + number,
        "reference": f"C{number:05d}",
        "name": f"Customer {number}",
        "short_name": f"CUST{number}",
        "balance": 100.5 * number,
        "credit_limit": 1000.0,
        "currency_id": 2103,
        "on_hold": False,
        "account_status_type": "AccountStatusActive",
        "date_time_created": "2020-01-01T00:00:00Z",
        "date_time_updated": "2021-01-01T00:00:00Z",
    } | fields


@dataclass
class Capture:
    """A capture being written; each method adds one entry and returns the capture."""

    creator: str = "WebInspector"
    entries: list[dict[str, Any]] = field(default_factory=list)
    clock: datetime = START

    def entry(
        self,
        method: str,
        url: str,
        *,
        status: int | None = 200,
        body: Any = None,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        at: datetime | None = None,
        error: str | None = None,
    ) -> Capture:
        started = at or self.clock
        self.clock = started + timedelta(milliseconds=250)
        request: dict[str, Any] = {
            "method": method,
            "url": url,
            "httpVersion": "http/2.0",
            "headers": _pairs(headers or {}),
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0,
        }
        if form is not None:
            encoded = urlencode(form)
            request["postData"] = {"mimeType": "application/x-www-form-urlencoded", "text": encoded}
        text = body if isinstance(body, str) else (None if body is None else json.dumps(body))
        content: dict[str, Any] = {"size": len(text or ""), "mimeType": "application/json"}
        if text is not None:
            content["text"] = text
        response: dict[str, Any] = {
            "status": status or 0,
            "statusText": "",
            "httpVersion": "http/2.0",
            "headers": _pairs(
                {"content-type": "application/json; charset=utf-8"} | (response_headers or {})
            ),
            "cookies": [],
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        }
        entry: dict[str, Any] = {
            "startedDateTime": started.isoformat().replace("+00:00", "Z"),
            "time": 120.0,
            "request": request,
            "response": response,
        }
        if error:
            entry["_error"] = error
        self.entries.append(entry)
        return self

    def token(
        self,
        *,
        access: str = TOKEN,
        status: int = 200,
        answer: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
    ) -> Capture:
        body = answer or {
            "access_token": access,
            "refresh_token": "CANARY-ROTATED-REFRESH-2c4e6a8b0d",
            "scope": "openid profile email offline_access",
            "expires_in": 3600,
            "token_type": "Bearer",
        }
        fields = form or {
            "grant_type": "refresh_token",
            "refresh_token": "CANARY-REFRESH-7f3a9c2e41d84b6fa0c5",
            "client_id": "the-client-id",
            "client_secret": "CANARY-SECRET-9e1f7c3b5a2d",
        }
        return self.entry("POST", TOKEN_URL, status=status, body=body, form=fields)

    def get(
        self,
        path: str,
        *,
        status: int = 200,
        body: Any = None,
        authorization: str | None = "Bearer " + TOKEN,
        key: str | None = KEY,
        site: str | None = SITE,
        company: str | None = COMPANY,
        base: str = API,
        **options: Any,
    ) -> Capture:
        headers = {"accept": "application/json"}
        if authorization is not None:
            headers["authorization"] = authorization
        if key is not None:
            headers["ocp-apim-subscription-key"] = key
        if not path.startswith("sites"):
            if site is not None:
                headers["x-site"] = site
            if company is not None:
                headers["x-company"] = company
        headers |= options.pop("headers", {})
        return self.entry(
            "GET", f"{base}/{path}", status=status, body=body, headers=headers, **options
        )

    def sites(self, body: Any = None, **options: Any) -> Capture:
        return self.get("sites", body=SITES if body is None else body, **options)

    def har(self) -> dict[str, Any]:
        return {
            "log": {
                "version": "1.2",
                "creator": {"name": self.creator, "version": "1"},
                "entries": self.entries,
            }
        }

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.har()), encoding="utf-8")
        return path


def _pairs(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in values.items()]
