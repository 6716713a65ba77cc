"""What the command line imports before its first request: nothing it does not use."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stdout.split())


def test_the_command_line_does_not_load_httpx_s_own_command_line() -> None:
    loaded = _loaded_after("import sage200_doctor.commands\nimport httpx")
    assert "httpx" in loaded
    assert not {"click", "rich", "pygments"} & loaded


def test_without_the_stand_in_httpx_would_load_it() -> None:
    """The test above could pass only because nothing installs click and rich: it does not."""
    if not all(importlib.util.find_spec(name) for name in ("click", "rich")):
        pytest.skip("click and rich are not both installed here")
    assert {"click", "rich"} <= _loaded_after("import httpx")


def test_the_stand_in_says_what_it_is() -> None:
    code = "import sage200_doctor.commands, httpx\ntry:\n    httpx.main()\nexcept RuntimeError as e:\n    print('refused:', e)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "refused: httpx's command line is not loaded" in done.stdout
