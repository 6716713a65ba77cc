"""The article's lint: the article's own collection passes, and each of its cautions is caught with
the right check, outcome and guidance, at the right place, without naming a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sage200_doctor.guidance import guidance_for
from sage200_doctor.postman import (
    Auth,
    AuthParam,
    Finding,
    PostmanError,
    lint_collection,
    load_collection,
    load_environment,
    parse_collection,
)
from sage200_doctor.postman.auth_lint import lint_auth

FIXTURES = Path(__file__).parents[1] / "fixtures" / "postman"
ENV = load_environment(FIXTURES / "article.postman_environment.json")
CANARIES = tuple(v.value for v in ENV.variables if v.value.startswith("CANARY-"))
V21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


def lint(name: str, *, api_base_url: str | None = None) -> list[Finding]:
    collection = load_collection(FIXTURES / name)
    return lint_collection(collection, environment=ENV, api_base_url=api_base_url)


def failures(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.outcome == "failed"]


def test_the_article_collection_passes_without_any_finding() -> None:
    assert lint("article.postman_collection.json") == []


def test_the_v2_0_export_of_it_passes_too() -> None:
    assert lint("v2.0.postman_collection.json") == []


@pytest.mark.parametrize(
    ("fixture", "check", "outcome", "guidance", "where"),
    [
        (
            "caution-bearer-no-space",
            "header.authorization",
            "failed",
            "faq.postman.bearer-space",
            "request 'Manual token/Get sites (token typed by hand)'",
        ),
        (
            "caution-bearer-no-space",
            "header.authorization",
            "warning",
            "faq.postman.bearer-space",
            "the collection",
        ),
        (
            "caution-no-offline-access",
            "token.scope",
            "failed",
            "faq.postman.offline-access",
            "the collection",
        ),
        (
            "caution-no-subscription-key",
            "gateway.subscription_key",
            "warning",
            "faq.postman.subscription-key",
            "request 'Sites/Get sites'",
        ),
        (
            "caution-no-site-company",
            "sites.selection",
            "failed",
            "faq.postman.site-company",
            "request 'Customers/Get customers'",
        ),
        (
            "caution-typographic-quotes",
            "customers.filter",
            "failed",
            "faq.query.odata",
            "request 'Customers/Filter using the $filter query parameter'",
        ),
        (
            "caution-wrong-edition",
            "config.values",
            "failed",
            "faq.errors.404",
            "request 'Customers/Get customers'",
        ),
        (
            "caution-post-request",
            "postman.writes",
            "warning",
            None,
            "request 'Customers/Create customer'",
        ),
    ],
)
def test_each_caution_of_the_article_is_caught(
    fixture: str, check: str, outcome: str, guidance: str | None, where: str
) -> None:
    findings = lint(f"{fixture}.postman_collection.json")
    matching = [f for f in findings if (f.check, f.outcome, f.where) == (check, outcome, where)]
    assert matching, [(f.check, f.outcome, f.where) for f in findings]
    if guidance is not None:
        assert guidance in matching[0].judgement.guidance


@pytest.mark.parametrize(
    ("fixture", "checks"),
    [
        ("caution-no-offline-access", {"token.scope"}),
        ("caution-no-subscription-key", {"gateway.subscription_key"}),
        ("caution-no-site-company", {"sites.selection"}),
        ("caution-typographic-quotes", {"customers.filter"}),
        ("caution-wrong-edition", {"config.values"}),
        ("caution-post-request", {"postman.writes"}),
        ("caution-bearer-no-space", {"header.authorization"}),
    ],
)
def test_each_caution_fixture_trips_only_its_own_rule(fixture: str, checks: set[str]) -> None:
    assert {f.check for f in lint(f"{fixture}.postman_collection.json")} == checks


def test_the_sites_call_needs_no_site_or_company() -> None:
    findings = lint("caution-no-site-company.postman_collection.json")
    assert all(f.path[0] == "Customers" for f in findings)


def test_the_wrong_edition_is_only_wrong_against_a_configured_edition() -> None:
    collection = load_collection(FIXTURES / "caution-wrong-edition.postman_collection.json")
    without_edition = [v for v in ENV.variables if v.key != "edition"]
    environment = type(ENV)(ENV.kind, ENV.name, tuple(without_edition))
    assert lint_collection(collection, environment=environment) == []
    assert failures(lint_collection(collection, environment=environment, edition="standard"))
    assert lint_collection(collection, environment=environment, edition="professional") == []


def test_requests_outside_the_api_are_not_linted() -> None:
    (finding,) = lint("folder-auth.postman_collection.json")
    assert (finding.check, finding.outcome, finding.scope) == (
        "config.values",
        "warning",
        "collection",
    )


def test_a_configured_base_makes_a_test_server_count() -> None:
    findings = lint(
        "folder-auth.postman_collection.json",
        api_base_url="https://collection.invalid/uk/sage200/accounts/v1/",
    )
    summaries = {(f.check, f.outcome, f.where): f.judgement.summary for f in findings}
    assert (
        "header.authorization",
        "failed",
        "request 'Folder no auth/Inherits noauth'",
    ) in summaries
    assert not any(where == "folder 'Folder OAuth'" for _, _, where in summaries)  # as the article
    unresolved = summaries[("config.values", "warning", "request 'Folder OAuth/Inherits folder'")]
    assert "{{undefinedVar}} in header X-Debug" in unresolved


def test_auth_findings_are_placed_where_the_auth_is_defined() -> None:
    findings = lint(
        "folder-auth.postman_collection.json", api_base_url="https://collection.invalid/"
    )
    auth_places = {
        f.where for f in findings if f.check == "token.claims" or f.check == "token.scope"
    }
    assert auth_places <= {"folder 'Folder OAuth'"}


def test_an_unknown_edition_mix_warns() -> None:
    document = json.loads((FIXTURES / "article.postman_collection.json").read_text("utf-8"))
    document["item"][0]["item"][0]["request"]["url"] = (
        "https://api.columbus.sage.com/uk/sage200extra/accounts/v1/sites"
    )
    findings = lint_collection(parse_collection(document))
    assert any(f.scope == "collection" and "mix" in f.judgement.summary for f in findings)


# --- the OAuth 2.0 settings, one rule at a time -------------------------------------------------

GOOD = {
    "grant_type": "authorization_code",
    "authUrl": "https://id.sage.com/authorize",
    "accessTokenUrl": "https://id.sage.com/oauth/token",
    "clientId": "client",
    "scope": "openid profile email offline_access",
    "headerPrefix": "Bearer ",
    "addTokenTo": "header",
    "redirect_uri": "https://localhost/callback",
}
AUDIENCE = (AuthParam("auth", "audience", "s200ukipd/sage200"),)


def oauth(params: tuple[AuthParam, ...] = AUDIENCE, **changes: str | None) -> Auth:
    fields = {**GOOD, **changes}
    return Auth("oauth2", tuple((k, v) for k, v in fields.items() if v is not None), params)


def test_the_articles_oauth_settings_pass() -> None:
    assert lint_auth(oauth()) == []
    assert (
        lint_auth(
            oauth(grant_type="authorization_code_with_pkce", headerPrefix=None, addTokenTo=None)
        )
        == []
    )


@pytest.mark.parametrize(
    ("changes", "params", "check", "outcome", "phrase"),
    [
        ({"grant_type": "client_credentials"}, AUDIENCE, "config.values", "failed", "grant type"),
        ({"authUrl": ""}, AUDIENCE, "config.values", "failed", "No Auth URL"),
        (
            {
                "authUrl": "https://id.sage.com/oauth/token",
                "accessTokenUrl": "https://id.sage.com/authorize",
            },
            AUDIENCE,
            "config.values",
            "failed",
            "swapped",
        ),
        (
            {"accessTokenUrl": "https://login.example/oauth/token"},
            AUDIENCE,
            "config.values",
            "failed",
            "different hosts",
        ),
        (
            {
                "authUrl": "http://127.0.0.1:1/authorize",
                "accessTokenUrl": "http://127.0.0.1:1/oauth/token",
            },
            AUDIENCE,
            "config.values",
            "warning",
            "not Sage ID",
        ),
        ({"clientId": " "}, AUDIENCE, "config.complete", "failed", "Client ID"),
        ({"scope": "openid profile email"}, AUDIENCE, "token.scope", "failed", "offline_access"),
        ({"scope": None}, AUDIENCE, "token.scope", "failed", "offline_access"),
        (
            {"headerPrefix": "Bearer"},
            AUDIENCE,
            "header.authorization",
            "warning",
            "not exactly 'Bearer '",
        ),
        ({"headerPrefix": ""}, AUDIENCE, "header.authorization", "failed", "empty"),
        (
            {"headerPrefix": "bearer "},
            AUDIENCE,
            "header.authorization",
            "warning",
            "written 'bearer'",
        ),
        ({"headerPrefix": "Token"}, AUDIENCE, "header.authorization", "failed", "not 'Bearer'"),
        ({"addTokenTo": "queryParams"}, AUDIENCE, "header.authorization", "failed", "query string"),
        ({}, (), "token.claims", "failed", "No audience"),
        (
            {},
            (AuthParam("auth", "audience", "s200ukipd/sage200", enabled=False),),
            "token.claims",
            "failed",
            "No audience",
        ),
        (
            {},
            (AuthParam("auth", "audience", "other"),),
            "token.claims",
            "failed",
            "is not s200ukipd/sage200",
        ),
        (
            {},
            (AuthParam("token", "audience", "s200ukipd/sage200"),),
            "token.claims",
            "failed",
            "only with the token request",
        ),
        ({"redirect_uri": ""}, AUDIENCE, "config.values", "failed", "Callback URL"),
    ],
)
def test_each_oauth_setting_is_judged(
    changes: dict[str, str | None],
    params: tuple[AuthParam, ...],
    check: str,
    outcome: str,
    phrase: str,
) -> None:
    (judgement,) = lint_auth(oauth(params, **changes))
    assert (judgement.check, judgement.outcome) == (check, outcome)
    assert phrase in judgement.summary
    assert judgement.guidance


def test_an_audience_in_the_auth_url_counts() -> None:
    assert (
        lint_auth(oauth((), authUrl="https://id.sage.com/authorize?audience=s200ukipd/sage200"))
        == []
    )


def test_authorize_in_the_browser_needs_no_callback_url() -> None:
    assert lint_auth(oauth(redirect_uri="", useBrowser="true")) == []


def test_a_bearer_token_pasted_with_its_scheme() -> None:
    (judgement,) = lint_auth(Auth("bearer", (("token", "Bearer CANARY-x"),)))
    assert judgement.check == "header.authorization"
    assert "CANARY" not in judgement.summary + judgement.detail
    assert lint_auth(Auth("bearer", (("token", "abc"),))) == []


def test_other_auth_types_are_refused() -> None:
    (judgement,) = lint_auth(Auth("basic", (("username", "u"),)))
    assert (judgement.check, judgement.outcome) == ("header.authorization", "failed")


# --- contracts: guidance ids exist, secrets are never named -------------------------------------


def all_findings() -> list[Finding]:
    findings = []
    for path in sorted(FIXTURES.glob("*.postman_collection.json")):
        collection = load_collection(path)
        findings += lint_collection(collection, environment=ENV)
        findings += lint_collection(
            collection,
            environment=ENV,
            edition="professional",
            api_base_url="https://collection.invalid/",
        )
    return findings


def test_every_guidance_id_is_in_the_catalogue() -> None:
    for finding in all_findings():
        for guidance in finding.judgement.guidance:
            guidance_for(guidance)  # raises for an unknown id


def test_no_finding_names_a_secret_value() -> None:
    findings = all_findings()
    assert findings
    for finding in findings:
        text = " ".join((finding.where, finding.judgement.summary, finding.judgement.detail))
        for canary in CANARIES:
            assert canary not in text


def test_no_error_message_names_a_secret_value(tmp_path: Path) -> None:
    for path in (
        FIXTURES / "article.postman_environment.json",
        FIXTURES / "workspace.postman_globals.json",
    ):
        with pytest.raises(PostmanError, match=r".") as raised:
            load_collection(path)
        assert not any(canary in str(raised.value) for canary in CANARIES)
    broken = tmp_path / "broken.json"
    broken.write_text(f'{{"values": [{{"key": "k", "value": "{CANARIES[0]}"}}', "utf-8")
    with pytest.raises(PostmanError, match="not JSON") as raised:
        load_environment(broken)
    assert CANARIES[0] not in str(raised.value)
