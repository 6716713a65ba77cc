"""The pytest11 entry point: the plugin's options, and nothing else until one is given.

The entry point loads this module into every pytest run on the machine, so it imports nothing of
ours and registers nothing but its options until it is asked to work; then `adapter.py` (one
environment) or `fleet.py` (many) takes over.
"""

from __future__ import annotations

import pytest

OPTIONS = ("sage200_env", "sage200_set", "sage200_run", "sage200_fleet")
ADAPTER = "sage200-doctor-adapter"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sage200-doctor", "Sage 200 API diagnostics")
    add = group.addoption
    add("--sage200-env", metavar="FILE", help="run the Sage 200 diagnostics with this env file")
    add(
        "--sage200-run",
        action="store_true",
        default=False,
        help="run the diagnostics with settings from the environment (and ./.env)",
    )
    add(
        "--sage200-set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override one SAGE200_* setting (repeatable); enables the diagnostics",
    )
    add(
        "--sage200-only",
        metavar="ID",
        action="append",
        default=[],
        help="run only this check (and what it needs); repeatable",
    )
    add("--sage200-fleet", metavar="FILE", help="diagnose every environment of this fleet file")
    add("--sage200-json", metavar="PATH", help="write report.json here")
    add(
        "--sage200-report-dir",
        metavar="DIR",
        help="write report.json, report.html and junit.xml here (as sage200-doctor run does)",
    )
    add("--sage200-baseline", metavar="FILE.toml", help="accepted findings (docs/ci.md)")
    add(
        "--sage200-save-rotated",
        metavar="FILE",
        help="where to save a rotated refresh token that came from the environment",
    )
    add(
        "--sage200-quiet-summary",
        action="store_true",
        default=False,
        help="print the one-line-per-problem summary form (for CI logs)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    # `--sage200-env FILE` (a space) made FILE's folder the rootdir: put the right one back.
    if "--sage200-env" in early_config.invocation_params.args:
        from sage200_doctor.pytest_plugin.rootdir import restore_setup

        restore_setup(early_config, args)


def is_active(config: pytest.Config) -> bool:
    return any(config.getoption(name) for name in OPTIONS)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist decides to distribute (see adapter)
def pytest_configure(config: pytest.Config) -> None:
    if not is_active(config):
        return
    # Imported only when asked to work, so an unrelated pytest run pays nothing for it.
    if config.getoption("sage200_fleet"):
        from sage200_doctor.pytest_plugin.fleet import FleetAdapter

        config.pluginmanager.register(FleetAdapter.from_config(config), ADAPTER)
        return
    from sage200_doctor.pytest_plugin.adapter import DiagnosisAdapter

    config.pluginmanager.register(DiagnosisAdapter.from_config(config), ADAPTER)
