"""Helpers shared by the emulator contract tests (a uniquely named module, not conftest)."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from sage200_doctor.emulator import EmulatorConfig, RunningEmulator

DENIED = {"Message": "Authorization has been denied for this request."}
MISSING_KEY = {
    "statusCode": 401,
    "message": "Access denied due to missing subscription key. Make sure to include "
    "subscription key when making requests to an API.",
}
INVALID_KEY = {
    "statusCode": 401,
    "message": "Access denied due to invalid subscription key. Make sure to provide a valid "
    "key for an active subscription.",
}

CANARY_SECRET = "canary-client-secret-7f3e9a"
CANARY_KEY = "canary-primary-key-2b8d41"
CANARY_SECONDARY_KEY = "canary-secondary-key-9c0e77"


class Session:
    """One emulator plus a client, with the few calls every test needs."""

    def __init__(self, emulator: RunningEmulator, client: httpx.Client) -> None:
        self.emulator = emulator
        self.client = client
        self.env = emulator.env()

    @property
    def api_base(self) -> str:
        return f"{self.emulator.base_url}/uk/sage200extra/accounts/v1/"

    def token_request(self, data: dict[str, str], *, basic: bool = True) -> httpx.Response:
        config = self.emulator.config
        if basic:
            auth = (config.client_id, config.client_secret or "")
            return self.client.post(f"{self.emulator.base_url}/oauth/token", data=data, auth=auth)
        body = {"client_id": config.client_id, "client_secret": config.client_secret or ""}
        return self.client.post(f"{self.emulator.base_url}/oauth/token", data={**body, **data})

    def refresh(self, refresh_token: str | None = None) -> httpx.Response:
        token = refresh_token or self.env["SAGE200_REFRESH_TOKEN"]
        return self.token_request({"grant_type": "refresh_token", "refresh_token": token})

    def access_token(self) -> str:
        response = self.refresh()
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def headers(self, *, token: str | None = None, site: bool = True) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {token or self.access_token()}",
            "ocp-apim-subscription-key": self.emulator.config.subscription_key or "",
        }
        if site:
            headers["X-Site"] = self.env["SAGE200_SITE_ID"]
            headers["X-Company"] = self.env["SAGE200_COMPANY_ID"]
        return headers

    def get(
        self, path: str, *, headers: dict[str, str] | None = None, **params: Any
    ) -> httpx.Response:
        return self.client.get(
            self.api_base + path, headers=headers or self.headers(), params=params
        )


def canary(config: EmulatorConfig) -> EmulatorConfig:
    return dataclasses.replace(
        config,
        client_secret=CANARY_SECRET,
        subscription_key=CANARY_KEY,
        secondary_subscription_key=CANARY_SECONDARY_KEY,
    )
