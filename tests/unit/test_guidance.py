"""guidance.py: the catalogue of CONTRACT.md §5 and its plain-text rendering."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from sage200_doctor.guidance import (
    DENIED,
    GUIDANCE,
    OWNER_LABELS,
    Guidance,
    Owner,
    guidance_for,
    render_text,
)

REPO = Path(__file__).resolve().parents[2]
CONTRACT_IDS = (
    "faq.setup.configure",
    "faq.setup.contact",
    "faq.errors.401",
    "faq.errors.403",
    "faq.errors.404",
    "faq.postman.bearer-space",
    "faq.postman.offline-access",
    "faq.postman.subscription-key",
    "faq.postman.site-company",
    "faq.query.odata",
    "guide.auth.credentials",
    "guide.auth.reconsent",
    "guide.network",
    "guide.config",
)
ADDED_IDS = ("guide.gateway.limits", "guide.postman.writes", "guide.clock")
"""Added to the contract's list (CHANGELOG): gateway limits are not the user's role; a Postman
request that writes is listed, never sent; a wrong clock is not an expired token."""
FAQ = "https://developer.sage.com/200/guides/api_faq/"
POSTMAN = "https://developer.sage.com/200/guides/postman/"
AUTH = "https://developer.sage.com/200/guides/authenticating/"
QUERY = "https://developer.sage.com/200/guides/query-parameters/"
ENTRIES = list(GUIDANCE.values())


def test_the_contract_ids_in_contract_order_then_the_added_ones() -> None:
    assert [g for g in GUIDANCE if g in CONTRACT_IDS] == list(CONTRACT_IDS)
    assert set(GUIDANCE) == set(CONTRACT_IDS) | set(ADDED_IDS)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.id)
def test_every_entry_is_complete(entry: Guidance) -> None:
    assert GUIDANCE[entry.id] is entry
    assert entry.title.strip()
    assert entry.meaning.strip()
    assert entry.source.strip()
    assert entry.causes
    assert entry.steps
    assert all(text.strip() for text in entry.causes + entry.steps)
    assert entry.owner in typing.get_args(Owner)


@pytest.mark.parametrize(
    ("guidance_id", "url"),
    [
        ("faq.setup.configure", FAQ),
        ("faq.setup.contact", FAQ),
        ("faq.errors.401", FAQ),
        ("faq.errors.403", FAQ),
        ("faq.errors.404", FAQ),
        ("faq.postman.bearer-space", POSTMAN),
        ("faq.postman.offline-access", POSTMAN),
        ("faq.postman.subscription-key", POSTMAN),
        ("faq.postman.site-company", POSTMAN),
        ("faq.query.odata", QUERY),
        ("guide.auth.credentials", AUTH),
        ("guide.auth.reconsent", AUTH),
        ("guide.network", "docs/network.md"),
        ("guide.config", "docs/configuration.md"),
        ("guide.gateway.limits", "docs/network.md"),
        ("guide.postman.writes", "docs/postman.md"),
        ("guide.clock", "docs/hostile-world.md"),
    ],
)
def test_each_entry_links_its_page(guidance_id: str, url: str) -> None:
    assert guidance_for(guidance_id).url == url


@pytest.mark.parametrize(
    "guidance_id",
    [
        "guide.network",
        "guide.config",
        "guide.gateway.limits",
        "guide.postman.writes",
        "guide.clock",
    ],
)
def test_our_own_docs_exist(guidance_id: str) -> None:
    assert (REPO / guidance_for(guidance_id).url).is_file()


@pytest.mark.parametrize(
    ("guidance_id", "owner"),
    [
        ("faq.setup.configure", "partner"),
        ("faq.setup.contact", "partner"),
        ("faq.errors.401", "developer"),
        ("faq.errors.403", "customer-it"),
        ("faq.errors.404", "developer"),
        ("faq.postman.bearer-space", "developer"),
        ("faq.postman.offline-access", "developer"),
        ("faq.postman.subscription-key", "developer"),
        ("faq.postman.site-company", "developer"),
        ("faq.query.odata", "developer"),
        ("guide.auth.credentials", "developer"),
        ("guide.auth.reconsent", "developer"),
        ("guide.network", "customer-it"),
        ("guide.config", "developer"),
        ("guide.postman.writes", "developer"),
        ("guide.clock", "customer-it"),
    ],
)
def test_owners(guidance_id: str, owner: str) -> None:
    assert guidance_for(guidance_id).owner == owner


def test_every_owner_has_a_label() -> None:
    assert set(OWNER_LABELS) == set(typing.get_args(Owner))


def test_exact_error_string_is_quoted_where_users_meet_it() -> None:
    assert DENIED == "Authorization has been denied for this request."
    assert DENIED in guidance_for("faq.postman.bearer-space").meaning
    assert DENIED in guidance_for("faq.errors.401").meaning


def test_the_entries_name_what_the_checks_look_for() -> None:
    assert "ocp-apim-subscription-key" in guidance_for("faq.postman.subscription-key").title
    assert "offline_access" in guidance_for("faq.postman.offline-access").title
    assert "invalid_grant" in guidance_for("guide.auth.reconsent").meaning
    credentials = guidance_for("guide.auth.credentials")
    assert "invalid_client" in credentials.meaning
    assert "unauthorized_client" in credentials.meaning
    assert any("Developer Services" in step for step in credentials.steps)
    assert any("$orderby" in cause for cause in guidance_for("faq.query.odata").causes)
    assert any("SAGE200_CA_BUNDLE" in step for step in guidance_for("guide.network").steps)


def test_unknown_id_is_a_key_error_with_did_you_mean() -> None:
    with pytest.raises(KeyError) as raised:
        guidance_for("faq.error.403")
    message = str(raised.value)
    assert message.startswith("unknown guidance id 'faq.error.403'")
    assert "did you mean faq.errors.403" in message


def test_unknown_id_with_nothing_close_lists_the_known_ids() -> None:
    with pytest.raises(KeyError, match=r"known: faq\.setup\.configure"):
        guidance_for("zzz")


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.id)
def test_render_text_has_every_part(entry: Guidance) -> None:
    text = render_text(entry)
    flat = " ".join(text.split())
    assert entry.url in text
    assert entry.id in text
    assert entry.title in text
    assert OWNER_LABELS[entry.owner] in flat
    assert " ".join(entry.meaning.split()) in flat
    for part in entry.causes + entry.steps:
        assert " ".join(part.split()) in flat
    for heading in ("What it means", "Likely causes", "What to do", "Who usually fixes it"):
        assert heading in text


def test_render_text_wraps_to_the_width() -> None:
    text = render_text(guidance_for("faq.setup.configure"), width=60)
    assert max(len(line) for line in text.splitlines() if "://" not in line) <= 60
    assert "  1. " in text
    assert "  - " in text
