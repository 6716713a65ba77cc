"""Fixtures for the emulator contract tests: real servers on 127.0.0.1, real HTTP via httpx."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from sage200_doctor.emulator import EmulatorConfig, running_emulator, scenario_config

from .emulator_support import Session, canary


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0, follow_redirects=False) as http:
        yield http


@pytest.fixture(scope="module")
def healthy(client: httpx.Client) -> Iterator[Session]:
    """A shared healthy emulator for tests that do not change its state in a way others see."""
    with running_emulator(canary(scenario_config("healthy"))) as emulator:
        yield Session(emulator, client)


@pytest.fixture
def start(client: httpx.Client) -> Iterator[Callable[..., Session]]:
    """Start a scenario-specific emulator (by name or config, with settings); stopped after."""
    with ExitStack() as stack:

        def _start(config: EmulatorConfig | str = "healthy", **settings: Any) -> Session:
            base = scenario_config(config) if isinstance(config, str) else config
            emulator = stack.enter_context(
                running_emulator(canary(dataclasses.replace(base, **settings)))
            )
            return Session(emulator, client)

        yield _start
