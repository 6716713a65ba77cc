"""The offline Sage 200 (UK) emulator: identity, gateway and API faces on one loopback port.

It shares no code with the client side (`sage200_doctor.http`, `checks`), so a bug in one
cannot hide the same bug in the other.
"""

from .app import create_app
from .config import EmulatorConfig
from .envfile import format_env_lines
from .scenarios import SCENARIOS, Scenario, scenario_config
from .server import RunningEmulator, running_emulator, serve_forever
from .state import LoggedRequest

__all__ = [
    "SCENARIOS",
    "EmulatorConfig",
    "LoggedRequest",
    "RunningEmulator",
    "Scenario",
    "create_app",
    "format_env_lines",
    "running_emulator",
    "scenario_config",
    "serve_forever",
]
