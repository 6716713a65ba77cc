"""Every behaviour setting of the emulator, in one frozen dataclass.

The defaults describe a healthy Sage 200 set-up. Where the real service's behaviour is unknown
(reference §9 "Unknowns"), the emulator does not guess: the behaviour is a setting here, and the
default is the most plausible choice, documented next to the field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sage200_doctor.catalogue.access import MODULE_ACCESS

from .faults import FaultRule

Edition = Literal["standard", "professional"]
ClientAuthMethod = Literal["client_secret_basic", "client_secret_post"]
GrantType = Literal["authorization_code", "refresh_token"]
KeyMode = Literal["required", "optional"]
CountShape = Literal["integer", "envelope", "header"]
TopOverMax = Literal["cap", "error"]
EnvKey = Literal["primary", "secondary", "invalid", "none"]
EnvCredentials = Literal[
    "refresh_token",
    "access_token",
    "expired_access_token",
    "access_token_without_offline_access",
    "revoked_refresh_token",
]
EnvClientAuth = Literal["basic", "body"]
EnvSelection = Literal["listed", "site_not_listed", "company_not_listed"]

DEFAULT_AUDIENCE = "s200ukipd/sage200"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"
DEFAULT_SCOPE = "openid profile email offline_access"
EDITION_PATHS: dict[Edition, str] = {"standard": "sage200", "professional": "sage200extra"}


@dataclass(frozen=True, kw_only=True)
class EmulatorConfig:
    """Behaviour of one emulator instance; `dataclasses.replace` it to inject a fault.

    Secrets left as None (client_secret, subscription keys) are drawn at random per
    emulator instance; `RunningEmulator.config` shows the values actually in use.
    """

    scenario: str = "custom"
    edition: Edition = "professional"
    # None: the site is served on the configured edition's path only.
    served_editions: tuple[Edition, ...] | None = None

    # identity (Sage ID look-alike)
    client_id: str = "sage200-doctor-emulator"
    client_secret: str | None = None
    # A public (desktop) client authenticates with client_id alone at the token endpoint.
    public_client: bool = False
    redirect_uris: tuple[str, ...] = (DEFAULT_REDIRECT_URI,)
    username: str = "api.user@example.com"
    password: str = "sage200-demo"  # noqa: S105 - the seeded user's documented demo password
    audience: str = DEFAULT_AUDIENCE
    # None: tokens are issued for `audience`; else for this one (the API still expects `audience`).
    issued_audience: str | None = None
    # Basic is not evidenced for Sage ID (reference §2.1), so which methods work is a setting.
    client_auth_methods: tuple[ClientAuthMethod, ...] = (
        "client_secret_basic",
        "client_secret_post",
    )
    allowed_grant_types: tuple[GrantType, ...] = ("authorization_code", "refresh_token")
    rotate_refresh_tokens: bool = False
    # Auth0's automatic reuse detection, on when rotation is: presenting a refresh token that
    # was already rotated away revokes its whole family (every token descended from the same
    # sign-in), so the legitimate holder must sign in again. Auth0's "reuse interval" (leeway
    # for a retried request) is modelled as zero. No effect without rotate_refresh_tokens.
    refresh_token_reuse_detection: bool = False
    access_token_lifetime_s: int = 3600
    # Absolute from the original consent, not sliding (reference §2.2).
    refresh_token_lifetime_s: float = 90 * 24 * 3600
    authorization_code_lifetime_s: int = 60

    # gateway (Azure API Management look-alike)
    subscription_key: str | None = None
    secondary_subscription_key: str | None = None
    subscription_key_mode: KeyMode = "required"
    rate_limit_every: int = 0  # 0: off; N: every Nth request past the key check answers 429
    rate_limit_retry_after_s: int = 1
    tunnel_down: bool = False
    # The services' clock against the machine's (emulator/clock.py): tokens are minted and
    # checked, and answers dated, by it. -7200: this machine's clock looks two hours ahead.
    clock_offset_s: int = 0

    # API (ASP.NET Web API look-alike)
    bearer_scheme_case_sensitive: bool = False
    bearer_extra_spaces_allowed: bool = False
    current_user_needs_site: bool = False
    site_denied_status: Literal[401, 403] = 401
    sales_ledger_access: bool = True
    # False: the signed-in Sage account is not enabled for API access: every token is denied.
    api_user_enabled: bool = True  # False: the "sales" module is denied (see modules_denied)
    # Modules (catalogue keys: "sop", "stock", ...) the user's role lacks: their endpoints 403.
    denied_modules: tuple[str, ...] = ()
    # The site's Sage 200 version as a date: endpoints Sage's changelog dates later answer 404.
    # None: current (Standard Online always is; on-premise Professional may lag behind).
    site_version: date | None = None
    top_default: int = 500
    top_max: int = 5000
    top_over_max: TopOverMax = "cap"
    # $count=true: "integer" = bare JSON number (the documented "returns the number of entities"),
    # "envelope" = {"@odata.count": n, "value": [...]}, "header" = array + X-Total-Count header.
    count_shape: CountShape = "integer"
    strings_case_sensitive: bool = False
    filter_ignored: bool = False
    orderby_ignored: bool = False
    sites_empty: bool = False
    company_id_as_string: bool = False
    customer_count: int = 300  # customers in the default company (33)

    # what RunningEmulator.env() hands to a diagnostic run
    env_edition: Edition | None = None
    env_subscription_key: EnvKey = "primary"
    env_credentials: EnvCredentials = "refresh_token"
    # A refresh-token kind of env_credentials plus a working access token beside it (both set).
    env_also_access_token: bool = False
    env_client_secret_valid: bool = True
    env_client_auth: EnvClientAuth = "basic"
    env_authorization_no_space: bool = False
    env_selection: EnvSelection = "listed"
    env_customer_reference: str = "A1D001"

    # fault injection (emulator/faults.py): answers from something in front of the service.
    # The first rule matching a request decides; else, with a chaos seed, each request gets a
    # random fault at chaos_rate (reproducible per seed and request order).
    faults: tuple[FaultRule, ...] = ()
    chaos_seed: int | None = None
    chaos_rate: float = 0.2
    slow_fault_s: float = 30.0  # the "slow" fault: past the client's default 20 s timeout
    # The "quota-exceeded" fault: when API Management says the call-volume quota renews
    # (its message "Quota will be replenished in HH:MM:SS." and Retry-After).
    quota_renewal_s: int = 3600

    # query conformance: capability differences (documented variations) and wrong answers.
    # False: contains/startswith/endswith answer 400, as Professional before July 2017 did.
    string_functions_supported: bool = True
    # False: $skip without $orderby is accepted (the documentation says it is an error).
    skip_requires_orderby: bool = True
    # Wrong answers: `and` evaluated as `or`; date-times compared by their date only.
    filter_and_as_or: bool = False
    datetime_compared_as_date: bool = False

    def __post_init__(self) -> None:
        if self.customer_count < 0 or self.rate_limit_every < 0:
            raise ValueError("customer_count and rate_limit_every must not be negative")
        if not 0 < self.top_default <= self.top_max:
            raise ValueError("top_default must be between 1 and top_max")
        if not self.redirect_uris:
            raise ValueError("at least one redirect URI must be registered")
        if not 0.0 <= self.chaos_rate <= 1.0 or self.slow_fault_s <= 0:
            raise ValueError("chaos_rate must be between 0 and 1, slow_fault_s above 0")
        unknown = sorted(set(self.denied_modules) - set(MODULE_ACCESS))
        if unknown:
            known = ", ".join(MODULE_ACCESS)
            raise ValueError(f"unknown module(s) in denied_modules: {unknown}; known: {known}")

    @property
    def editions_served(self) -> tuple[Edition, ...]:
        return self.served_editions or (self.edition,)

    @property
    def audience_to_issue(self) -> str:
        return self.issued_audience or self.audience

    @property
    def modules_denied(self) -> frozenset[str]:
        """`denied_modules`, plus "sales" when `sales_ledger_access` is off (the same fault)."""
        denied = set(self.denied_modules)
        if not self.sales_ledger_access:
            denied.add("sales")
        return frozenset(denied)


SECRET_FIELDS = frozenset(
    {"client_secret", "subscription_key", "secondary_subscription_key", "password"}
)


def public_settings(config: EmulatorConfig) -> dict[str, object]:
    """The settings that are safe to show (no secrets), for /_emulator/config."""
    return {
        field.name: getattr(config, field.name)
        for field in dataclasses.fields(config)
        if field.name not in SECRET_FIELDS
    }


def with_chaos(
    config: EmulatorConfig, seed: int | None, rate: float | None = None
) -> EmulatorConfig:
    """`config` in chaos mode (unchanged when `seed` is None); `rate` None keeps its rate."""
    if seed is None:
        return config
    return dataclasses.replace(
        config, chaos_seed=seed, chaos_rate=config.chaos_rate if rate is None else rate
    )
