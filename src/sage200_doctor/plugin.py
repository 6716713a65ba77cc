"""pytest glue: options, one test item per check in run order, gating, and report hooks.

Inert unless one of its options is given: the entry point loads this module into every pytest
run on the machine, so it registers nothing but its options until it is asked to work.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sage200_doctor.suite import DoctorRun

OPTIONS = ("sage200_env", "sage200_set", "sage200_run", "sage200_fleet")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sage200-doctor", "Sage 200 API diagnostics")
    group.addoption(
        "--sage200-env", metavar="FILE", help="run the Sage 200 diagnostics with this env file"
    )
    group.addoption(
        "--sage200-run",
        action="store_true",
        default=False,
        help="run the diagnostics with settings from the environment (and ./.env)",
    )
    group.addoption(
        "--sage200-set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override one SAGE200_* setting (repeatable); enables the diagnostics",
    )
    group.addoption(
        "--sage200-only",
        metavar="ID",
        action="append",
        default=[],
        help="run only this check (and what it needs); repeatable",
    )
    group.addoption(
        "--sage200-fleet",
        metavar="FILE",
        help="run the diagnostics against every environment of this fleet TOML file",
    )
    group.addoption("--sage200-json", metavar="PATH", help="write report.json here")
    group.addoption(
        "--sage200-save-rotated",
        metavar="FILE",
        help="where to save a rotated refresh token that came from the environment",
    )
    group.addoption(
        "--sage200-quiet-summary",
        action="store_true",
        default=False,
        help="print the one-line-per-problem summary form (for CI logs)",
    )


def is_active(config: pytest.Config) -> bool:
    return any(config.getoption(name) for name in OPTIONS)


def pytest_configure(config: pytest.Config) -> None:
    if not is_active(config):
        return
    if config.getoption("sage200_fleet"):
        from sage200_doctor.fleet_suite import FleetHooks

        config.pluginmanager.register(FleetHooks(config), FLEET_PLUGIN)
        return
    # Imported only when asked to work, so an unrelated pytest run pays nothing for it.
    from sage200_doctor.suite import DoctorHooks, DoctorRun

    run = DoctorRun.from_config(config)
    config.stash[RUN_KEY] = run
    config.pluginmanager.register(DoctorHooks(run), "sage200-doctor-hooks")
    if html_report_loaded(config):
        from sage200_doctor.report.html import HtmlHooks

        config.pluginmanager.register(HtmlHooks(run), "sage200-doctor-html")


def html_report_loaded(config: pytest.Config) -> bool:
    """pytest-html is registered under its entry-point name, or its module name with -p."""
    return any(config.pluginmanager.hasplugin(name) for name in ("html", "pytest_html.plugin"))


def doctor_run(config: pytest.Config) -> DoctorRun | None:
    return config.stash.get(RUN_KEY, None)


def option_path(config: pytest.Config, name: str) -> Path | None:
    value: Any = config.getoption(name)
    return Path(value) if value else None


FLEET_PLUGIN = "sage200-doctor-fleet"
RUN_KEY: pytest.StashKey[DoctorRun] = pytest.StashKey()
