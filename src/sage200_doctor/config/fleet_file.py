"""Fleet files: many environments in one TOML file (`run --fleet FILE`).

The TOML names each environment and where its settings come from::

    [[environment]]
    name = "acme-live"
    env_file = "acme.env"               # relative to the TOML's folder

    [[environment]]
    name = "beta"
    [environment.settings]
    SAGE200_SITE_ID = "..."
    SAGE200_CLIENT_SECRET = { env = "BETA_SECRET" }   # read from an environment variable

Every problem in the file is reported at once (`FleetError.problems`).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sage200_doctor.errors import UsageError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class FleetError(UsageError):
    """The fleet file cannot be used; `problems` lists every reason (exit 4)."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        listed = "\n  - ".join(problems)
        super().__init__(f"{path}:\n  - {listed}")
        self.path = path
        self.problems = problems


@dataclass(frozen=True)
class FleetEnvironment:
    name: str
    env_file: Path | None = None
    settings: dict[str, str] = field(default_factory=dict)


def load_fleet(path: Path) -> list[FleetEnvironment]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise FleetError(path, [f"cannot read the fleet file ({error.strerror})"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise FleetError(path, [f"not valid TOML: {error}"]) from None
    problems: list[str] = []
    entries = data.get("environment")
    unknown = sorted(set(data) - {"environment"})
    if unknown:
        problems.append(f"unknown top-level key(s): {', '.join(unknown)}")
    if not isinstance(entries, list) or not entries:
        problems.append("no [[environment]] tables")
        raise FleetError(path, problems)
    environments: list[FleetEnvironment] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        env = _environment(entry, index, path.parent, problems)
        if env is None:
            continue
        if env.name in seen:
            problems.append(f"environment {env.name!r}: the name is used twice")
        seen.add(env.name)
        environments.append(env)
    if problems:
        raise FleetError(path, problems)
    return environments


def _environment(
    entry: Any, index: int, folder: Path, problems: list[str]
) -> FleetEnvironment | None:
    if not isinstance(entry, dict):
        problems.append(f"environment #{index}: not a table")
        return None
    name = entry.get("name")
    where = f"environment {name!r}" if isinstance(name, str) else f"environment #{index}"
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{where}: needs a name of letters, digits, '.', '_' or '-'")
    unknown = sorted(set(entry) - {"name", "env_file", "settings"})
    if unknown:
        problems.append(f"{where}: unknown key(s): {', '.join(unknown)}")
    env_file: Path | None = None
    raw_file = entry.get("env_file")
    if raw_file is not None:
        if not isinstance(raw_file, str):
            problems.append(f"{where}: env_file must be a string")
        else:
            env_file = folder / Path(raw_file).expanduser()
            if not env_file.is_file():
                problems.append(f"{where}: env_file {str(env_file)!r} does not exist")
    settings = _settings(entry.get("settings", {}), where, problems)
    if raw_file is None and not settings:
        problems.append(f"{where}: needs env_file or [environment.settings]")
    return FleetEnvironment(str(name), env_file, settings)


def _settings(raw: Any, where: str, problems: list[str]) -> dict[str, str]:
    if not isinstance(raw, dict):
        problems.append(f"{where}: settings must be a table")
        return {}
    settings: dict[str, str] = {}
    for key, value in raw.items():
        if not key.startswith("SAGE200_"):
            problems.append(f"{where}: setting {key!r} does not start with SAGE200_")
        elif isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str):
            if value["env"] in os.environ:
                settings[key] = os.environ[value["env"]]
            else:
                problems.append(f"{where}: {key} reads ${value['env']}, which is not set")
        elif isinstance(value, str | int):
            settings[key] = str(value)
        else:
            problems.append(f'{where}: {key} must be a string or {{ env = "VAR" }}')
    return settings
