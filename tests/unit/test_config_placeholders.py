"""config.values knows config.example.env's made-up values: a copied file that was never filled
in is a configuration error naming the keys, not "all well-formed"."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from dotenv import dotenv_values

from sage200_doctor.checks.config import placeholder_keys
from sage200_doctor.config.secret import Secret

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.env"


def example_values(*, commented_too: bool) -> dict[str, str]:
    text = EXAMPLE.read_text(encoding="utf-8")
    if commented_too:  # what a user gets by uncommenting every `# SAGE200_…=` line
        text = "\n".join(line.removeprefix("# ") for line in text.splitlines())
    values = dotenv_values(stream=io.StringIO(text))
    return {k: v for k, v in values.items() if k.startswith("SAGE200_") and v is not None}


def test_the_values_set_in_the_example_file_are_all_recognised() -> None:
    values = example_values(commented_too=False)
    assert placeholder_keys(values) == [
        "SAGE200_CLIENT_ID",
        "SAGE200_CLIENT_SECRET",
        "SAGE200_REFRESH_TOKEN",
        "SAGE200_SUBSCRIPTION_KEY",
        "SAGE200_SITE_ID",
        "SAGE200_CUSTOMER_REFERENCE",
    ]
    # The rest are real values a user may keep: the edition and a company id.
    assert set(values) - set(placeholder_keys(values)) == {"SAGE200_EDITION", "SAGE200_COMPANY_ID"}


def test_the_commented_examples_are_recognised_when_uncommented() -> None:
    found = set(placeholder_keys(example_values(commented_too=True)))
    assert {"SAGE200_ACCESS_TOKEN", "SAGE200_AUTHORIZATION"} <= found


def test_secrets_are_matched_without_being_shown() -> None:
    assert placeholder_keys({"SAGE200_CLIENT_SECRET": Secret("example-client-secret-not-real")})
    assert repr(Secret("example-client-secret-not-real")) != "example-client-secret-not-real"


@pytest.mark.parametrize(
    "value",
    [
        "A1D001",
        "6800e15c-6a18-4a3d-bc22-a09f89ac2d01",
        "exampleco",  # a word that merely starts like one
        "https://example.com/callback",
        "1",
        "real-token-value",
    ],
)
def test_real_looking_values_are_not_called_examples(value: str) -> None:
    assert placeholder_keys({"SAGE200_X": value}) == []
