"""The Authorization header lint names each mistake a person makes when pasting a token."""

from __future__ import annotations

import pytest

from sage200_doctor.rules.authorization import bare_token, lint_authorization

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"Bearer{TOKEN}", "no space after 'Bearer'"),
        (TOKEN, "Bearer scheme is missing"),
        (f"Bearer  {TOKEN}", "more than one space"),
        (f"Bearer\t{TOKEN}", "more than one space (or a tab)"),
        (f'Bearer "{TOKEN}"', "wrapped in quotes"),
        (f"Bearer “{TOKEN}”", "wrapped in quotes"),
        (f"Bearer {TOKEN}\n", "line break"),
        (f"Bearer {TOKEN} ", "trailing whitespace"),
        (f"Bearer Bearer {TOKEN}", "'Bearer' appears twice"),
        (f"bearer {TOKEN}", "written 'bearer'"),
    ],
)
def test_each_mistake_is_named(value: str, expected: str) -> None:
    assert any(expected in issue for issue in lint_authorization(value))


def test_a_well_formed_header_has_no_issue() -> None:
    assert lint_authorization(f"Bearer {TOKEN}") == []


@pytest.mark.parametrize(
    "value", [f"Bearer{TOKEN}", f'Bearer "{TOKEN}"', f"Bearer Bearer {TOKEN} \n", f"  “{TOKEN}”"]
)
def test_the_token_is_recovered_from_a_mangled_header(value: str) -> None:
    assert bare_token(value) == TOKEN
