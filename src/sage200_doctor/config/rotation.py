"""Never lose a rotated refresh token (CONTRACT §7).

When Sage ID rotates the refresh token on use, the one in the user's configuration stops
working the moment the new one is issued. The new one is written back to the env file it came
from (atomically, with a backup), or, when it came from an environment variable, to the file
named by --save-rotated, or failing that to a private file in the user's home.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sage200_doctor.config.envfile import update_env_file
from sage200_doctor.config.settings import Settings

KEY = "SAGE200_REFRESH_TOKEN"


@dataclass
class RotationRecord:
    """Where a rotated refresh token was saved, so the run can say so (never the value)."""

    saved_to: Path | None
    backup: Path | None
    note: str


def fallback_directory() -> Path:
    return Path.home() / ".sage200-doctor"


def keep_rotated_refresh_token(
    settings: Settings, new_token: str | None, *, save_rotated: Path | None
) -> RotationRecord | None:
    """Save `new_token` where the user will find it; None when nothing was rotated."""
    configured = settings.refresh_token
    if new_token is None or configured is None or new_token == configured.reveal().strip():
        return None
    source = settings.sources.get(KEY)
    if source == "file" and settings.env_file is not None:
        backup = update_env_file(settings.env_file, {KEY: new_token})
        return RotationRecord(
            settings.env_file,
            backup,
            f"Sage ID rotated the refresh token; the new one was saved to {settings.env_file} "
            f"(previous file kept as {backup}).",
        )
    target = save_rotated or fallback_directory() / f"rotated-{time.strftime('%Y%m%dT%H%M%S')}.env"
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    backup = update_env_file(target, {KEY: new_token})
    return RotationRecord(
        target,
        backup,
        f"Sage ID rotated the refresh token, which came from the {source or 'command line'}: "
        f"the new one was saved to {target}. Update your secret store from there.",
    )
