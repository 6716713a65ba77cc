"""Named scenarios: each is a healthy config with one fault injected."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any

from .config import EmulatorConfig
from .faults import FaultRule

DATA_CALLS = r"/accounts/v1/."
"""Every API call but the root (which network.api asks): sites, customers and the rest."""


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    config: EmulatorConfig


def _scenario(name: str, description: str, **settings: Any) -> Scenario:
    return Scenario(name, description, EmulatorConfig(scenario=name, **settings))


_ALL = (
    _scenario("healthy", "Everything works: key, refresh token, site, company and A1D001."),
    _scenario(
        "key-missing",
        "The gateway requires a subscription key and the settings carry none.",
        env_subscription_key="none",
    ),
    _scenario(
        "key-invalid",
        "The settings carry a subscription key the gateway does not know.",
        env_subscription_key="invalid",
    ),
    _scenario(
        "key-optional",
        "The gateway does not require a subscription key and the settings carry none.",
        subscription_key_mode="optional",
        env_subscription_key="none",
    ),
    _scenario(
        "token-expired",
        "The settings carry only an access token that has expired, and no refresh token.",
        env_credentials="expired_access_token",
    ),
    _scenario(
        "wrong-audience",
        "Refreshing works but mints tokens for s200ukish/sage200, which the API rejects.",
        issued_audience="s200ukish/sage200",
    ),
    _scenario(
        "no-offline-access",
        "The access token was granted without offline_access, so there is no refresh token.",
        env_credentials="access_token_without_offline_access",
    ),
    _scenario(
        "refresh-revoked",
        "The refresh token has been revoked: the token endpoint answers invalid_grant.",
        env_credentials="revoked_refresh_token",
    ),
    _scenario(
        "refresh-revoked-access-valid",
        "The refresh token has been revoked, but the access token configured beside it works.",
        env_credentials="revoked_refresh_token",
        env_also_access_token=True,
    ),
    _scenario(
        "bad-client-secret",
        "The client secret in the settings is wrong: the token endpoint answers invalid_client.",
        env_client_secret_valid=False,
    ),
    _scenario(
        "basic-auth-rejected",
        "The identity server accepts only client_secret_post but the settings say basic.",
        client_auth_methods=("client_secret_post",),
        env_client_auth="basic",
    ),
    _scenario(
        "grant-not-allowed",
        "The client may not use the refresh_token grant: unauthorized_client.",
        allowed_grant_types=("authorization_code",),
    ),
    _scenario(
        "rotating-refresh",
        "Each refresh returns a new refresh token and revokes the old one.",
        rotate_refresh_tokens=True,
    ),
    _scenario(
        "refresh-reuse-detection",
        "Refresh tokens rotate, and presenting one already rotated away revokes every token of "
        "its family (Auth0's reuse detection): runs sharing a refresh token must take turns.",
        rotate_refresh_tokens=True,
        refresh_token_reuse_detection=True,
    ),
    _scenario(
        "no-space-bearer",
        "The supplied Authorization header is 'Bearer<token>' with no space after Bearer.",
        env_authorization_no_space=True,
    ),
    _scenario(
        "user-not-api-enabled",
        "The Sage account is not enabled for API access: the API denies every token it is sent.",
        api_user_enabled=False,
    ),
    _scenario(
        "sites-empty",
        "GET sites answers an empty list, as when the site's API set-up was lost.",
        sites_empty=True,
    ),
    _scenario(
        "site-not-listed",
        "The configured X-Site is a well-formed GUID that is not in the sites list.",
        env_selection="site_not_listed",
    ),
    _scenario(
        "company-not-listed",
        "The configured X-Site is listed but the X-Company is not one of its companies.",
        env_selection="company_not_listed",
    ),
    _scenario(
        "customers-forbidden",
        "The user's role lacks the Sales Ledger module, so customers answer 403.",
        sales_ledger_access=False,
    ),
    # go-live coverage of other modules (check api.resources): without SAGE200_RESOURCES these
    # are reported as facts; a listed resource that cannot be read fails the run.
    _scenario(
        "modules-denied",
        "The user's role lacks Sales Order Processing and Stock Control: their endpoints answer 403.",
        denied_modules=("sop", "stock"),
    ),
    _scenario(
        "old-professional-site",
        "An on-premise Professional site not updated since 2020: endpoints Sage added later "
        "answer 404.",
        edition="professional",
        site_version=date(2020, 12, 31),
    ),
    _scenario(
        "edition-mismatch",
        "The site is served on the Professional path but the settings say Standard.",
        edition="professional",
        env_edition="standard",
    ),
    _scenario(
        "reference-missing",
        "The configured customer reference does not exist in the company.",
        env_customer_reference="NOSUCH01",
    ),
    _scenario(
        "filter-ignored",
        "The server ignores $filter and returns the collection unfiltered.",
        filter_ignored=True,
    ),
    _scenario(
        "orderby-ignored",
        "The server ignores $orderby and returns the collection in id order.",
        orderby_ignored=True,
    ),
    _scenario(
        "schema-drift",
        "GET sites returns company_id as a string instead of an integer.",
        company_id_as_string=True,
    ),
    _scenario(
        "tunnel-down",
        "The gateway cannot reach the site: every data call, sites included, answers 504.",
        tunnel_down=True,
    ),
    _scenario(
        "rate-limited",
        "Every 4th API request answers 429 with Retry-After: 1.",
        rate_limit_every=4,
        rate_limit_retry_after_s=1,
    ),
    # API Management's own limits on data calls (not the user's role): its policies' answers.
    _scenario(
        "gateway-rate-limit",
        "API Management's rate limit never lifts within the run: every data call answers 429 "
        "'Rate limit is exceeded' with Retry-After: 1.",
        faults=(FaultRule("rate-limit-forever", "api", DATA_CALLS),),
        rate_limit_retry_after_s=1,
    ),
    _scenario(
        "gateway-quota",
        "The subscription's call-volume quota is used up: every data call answers 403 'Out of "
        "call volume quota', replenished in an hour.",
        faults=(FaultRule("quota-exceeded", "api", DATA_CALLS),),
    ),
    _scenario(
        "customers-quota",
        "The call-volume quota runs out after the sites list: GET customers answers 403 'Out "
        "of call volume quota', replenished in an hour.",
        faults=(FaultRule("quota-exceeded", "api", r"/customers"),),
    ),
    # ... and what is not the gateway at all.
    _scenario(
        "proxy-error-page",
        "A proxy in front of the API host answers every request with its own 502 error page: "
        "the gateway is never reached.",
        faults=(FaultRule("html-error-page", "api"),),
    ),
    _scenario(
        "clock-ahead",
        "This machine's clock is two hours ahead of Sage's: a fresh token looks expired here, "
        "but the API accepts it.",
        clock_offset_s=-7200,
    ),
    # query conformance: documented variations (facts, the run passes) ...
    _scenario(
        "filter-case-sensitive",
        "String comparisons in $filter and $orderby are case-sensitive.",
        strings_case_sensitive=True,
    ),
    _scenario(
        "top-capped-at-100",
        "$top defaults to 100 and larger values are cut to 100 rows.",
        top_default=100,
        top_max=100,
    ),
    _scenario(
        "skip-without-orderby-allowed",
        "$skip is accepted without $orderby (the documentation says it is an error).",
        skip_requires_orderby=False,
    ),
    _scenario(
        "string-functions-unsupported",
        "contains, startswith and endswith answer 400, as Professional before July 2017.",
        string_functions_supported=False,
    ),
    # ... and wrong answers (the run fails on customers.query_conformance).
    _scenario(
        "filter-and-as-or",
        "The server evaluates `and` in $filter as `or`.",
        filter_and_as_or=True,
    ),
    _scenario(
        "filter-datetime-as-date",
        "The server compares date-times in $filter by their date only, ignoring the time.",
        datetime_compared_as_date=True,
    ),
)

SCENARIOS: dict[str, Scenario] = {scenario.name: scenario for scenario in _ALL}


def scenario_config(name: str) -> EmulatorConfig:
    """The config of a named scenario, or of several joined with '+' (their faults together:
    each adds the settings it changes from a healthy config; a later one wins a conflict).
    KeyError naming the valid ones for an unknown name."""
    parts = name.split("+")
    unknown = [part for part in parts if part not in SCENARIOS]
    if unknown:
        valid = ", ".join(sorted(SCENARIOS))
        raise KeyError(f"unknown scenario {unknown[0]!r}; valid scenarios: {valid}")
    if len(parts) == 1:
        return SCENARIOS[name].config
    healthy = EmulatorConfig()
    changes: dict[str, Any] = {}
    for part in parts:
        config = SCENARIOS[part].config
        for item in dataclasses.fields(config):
            value = getattr(config, item.name)
            if item.name != "scenario" and value != getattr(healthy, item.name):
                changes[item.name] = value
    return dataclasses.replace(healthy, scenario=name, **changes)


def describe(name: str) -> str:
    """A scenario's description; for a combination, its parts' joined."""
    return " + ".join(SCENARIOS[part].description for part in name.split("+"))


def with_settings(name: str, **settings: Any) -> EmulatorConfig:
    """A named scenario with some settings changed (e.g. explicit canary secrets)."""
    return dataclasses.replace(scenario_config(name), **settings)
