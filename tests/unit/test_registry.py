"""The declared checks are exactly CONTRACT §4: ids, order and prerequisites."""

from __future__ import annotations

import pytest

from sage200_doctor.engine.registry import all_checks, with_prerequisites

CONTRACT = [
    (10, "config.complete", ()),
    (20, "config.values", ("config.complete",)),
    (30, "network.identity", ("config.values",)),
    (40, "network.api", ("config.values",)),
    (50, "gateway.subscription_key", ("network.api",)),
    (60, "token.refresh", ("network.identity",)),
    (70, "token.claims", ("config.values", "token.refresh")),
    (80, "token.scope", ("token.claims",)),
    (85, "token.expiry", ("token.claims",)),
    (90, "header.authorization", ("token.claims", "gateway.subscription_key")),
    (100, "sites.list", ("header.authorization",)),
    (110, "sites.selection", ("sites.list",)),
    (120, "customers.list", ("sites.selection",)),
    (130, "customers.filter", ("customers.list",)),
    (140, "customers.query_conformance", ("customers.list",)),
    # Added between the contract's checks (CONTRACT §4 allows it): the other modules.
    (145, "api.resources", ("sites.selection",)),
    (150, "api.schema", ("sites.list",)),
]


def test_checks_match_the_contract_exactly() -> None:
    assert [(s.order, s.id, s.depends) for s in all_checks()] == CONTRACT


def test_every_check_names_guidance_that_exists() -> None:
    from sage200_doctor.guidance import GUIDANCE

    for spec in all_checks():
        assert spec.guidance, spec.id
        assert set(spec.guidance) <= set(GUIDANCE), spec.id


def test_only_adds_what_a_check_needs() -> None:
    chosen = [s.id for s in with_prerequisites(["sites.list"], all_checks())]
    assert chosen == [
        "config.complete",
        "config.values",
        "network.identity",
        "network.api",
        "gateway.subscription_key",
        "token.refresh",
        "token.claims",
        "header.authorization",
        "sites.list",
    ]


def test_only_rejects_unknown_ids() -> None:
    with pytest.raises(KeyError, match=r"sites\.lst"):
        with_prerequisites(["sites.lst"], all_checks())


def test_a_second_function_cannot_claim_a_declared_id() -> None:
    from sage200_doctor.engine.registry import check

    all_checks()

    def impostor(run: object) -> str:
        return "ok"

    with pytest.raises(ValueError, match="declared twice"):
        check("config.complete", order=10, title="x", verifies="x")(impostor)  # type: ignore[arg-type]
