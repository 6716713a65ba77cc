"""Everything an emulator instance remembers, held on `app.state.emulator`.

Handlers run on the server's event loop while tests read the request log from another thread,
so only the log is guarded by a lock; grants and codes are touched by handlers alone.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

from starlette.requests import HTTPConnection

from .config import EmulatorConfig
from .customers import CustomerTable
from .seed import Company, Site, build_sites

Face = Literal["identity", "gateway", "api", "emulator"]


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    status: int
    face: Face
    arrived: float = field(default=0.0, compare=False)
    """When the request reached the emulator (epoch seconds, before any injected latency):
    requests sent together arrive together, so waves can be counted from the server's side."""
    answered: float = field(default=0.0, compare=False)
    """When the last byte of the answer left (epoch seconds)."""
    fault: str | None = None
    """The fault (emulator/faults.py) that answered instead of the service, if any."""


@dataclass
class RefreshGrant:
    client_id: str
    scope: tuple[str, ...]
    audience: str
    consented_at: float  # the refresh token's lifetime runs from the original consent
    revoked: bool = False
    # Every refresh token descended from one sign-in shares a family (reuse detection).
    family: str = field(default_factory=lambda: secrets.token_hex(8))
    rotated: bool = False  # replaced by a newer token (as opposed to revoked outright)


@dataclass
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    audience: str
    code_challenge: str | None
    nonce: str | None
    expires_at: float
    used: bool = False


@dataclass(frozen=True)
class PendingAuthorization:
    """An /authorize request waiting for the user's decision on the consent page."""

    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    audience: str
    state: str | None
    code_challenge: str | None
    nonce: str | None
    expires_at: float


def resolve_secrets(config: EmulatorConfig) -> EmulatorConfig:
    """Fill every secret the caller left as None with a fresh random value."""
    return dataclasses.replace(
        config,
        client_secret=config.client_secret or secrets.token_urlsafe(32),
        subscription_key=config.subscription_key or secrets.token_hex(16),
        secondary_subscription_key=config.secondary_subscription_key or secrets.token_hex(16),
    )


@dataclass
class EmulatorState:
    config: EmulatorConfig
    latency_ms: int = 0
    public_base_url: str | None = None
    sites: tuple[Site, ...] = ()
    customers: dict[int, CustomerTable] = field(default_factory=dict)
    refresh_grants: dict[str, RefreshGrant] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    pending: dict[str, PendingAuthorization] = field(default_factory=dict)
    gateway_requests: int = 0
    _log: list[LoggedRequest] = field(default_factory=list)
    _log_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.config = resolve_secrets(self.config)
        self.sites = build_sites(self.config.customer_count)

    def issuer(self, connection: HTTPConnection | None = None) -> str:
        """`{base_url}/`; from the running server when known, else from the request's host."""
        if self.public_base_url is not None:
            return f"{self.public_base_url}/"
        if connection is None:
            raise RuntimeError("the emulator's public base URL is not known yet")
        return str(connection.base_url).rstrip("/") + "/"

    def visible_sites(self) -> tuple[Site, ...]:
        return () if self.config.sites_empty else self.sites

    def customer_table(self, company: Company) -> CustomerTable:
        if company.company_id not in self.customers:
            self.customers[company.company_id] = CustomerTable(company)
        return self.customers[company.company_id]

    def issue_refresh_token(self, grant: RefreshGrant) -> str:
        token = secrets.token_urlsafe(48)
        self.refresh_grants[token] = grant
        return token

    def revoke_family(self, family: str) -> None:
        for grant in self.refresh_grants.values():
            if grant.family == family:
                grant.revoked = True

    def refresh_grant(self, token: str, client_id: str) -> RefreshGrant | None:
        """The grant behind a usable refresh token, or None (unknown, revoked or expired)."""
        grant = self.refresh_grants.get(token)
        if grant is None or grant.revoked or grant.client_id != client_id:
            return None
        if time.time() >= grant.consented_at + self.config.refresh_token_lifetime_s:
            return None
        return grant

    def record(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            self._log.append(entry)

    def request_log(self) -> list[LoggedRequest]:
        with self._log_lock:
            return list(self._log)
