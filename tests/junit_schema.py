"""pytest's own JUnit schema (junit-10.xsd, the xunit2 family), for validating junit.xml.

The schema ships in pytest's source distribution, not in its wheel, so the first use downloads
the sdist of the installed pytest from the package index (allowed in CI) and keeps the schema in
a cache folder. It is never vendored into this repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from functools import cache
from pathlib import Path

import pytest

MEMBER = "testing/example_scripts/junit-10.xsd"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sage200-doctor-tests"


@cache
def junit_xsd() -> Path:
    """The path of junit-10.xsd for the installed pytest (downloaded once, then cached)."""
    target = _cache_dir() / f"pytest-{pytest.__version__}-junit-10.xsd"
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
             ":all:", f"pytest=={pytest.__version__}", "--dest", folder],
            check=True,
            capture_output=True,
        )  # fmt: skip
        [archive] = Path(folder).glob("pytest-*.tar.gz")
        with tarfile.open(archive) as sdist:
            member = next(m for m in sdist.getmembers() if m.name.endswith(MEMBER))
            data = sdist.extractfile(member)
            assert data is not None
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data.read())
    return target


def junit_problems(path: Path) -> list[str]:
    """Every way `path` breaks pytest's JUnit schema ([] when it is valid)."""
    import xmlschema

    schema = xmlschema.XMLSchema(str(junit_xsd()))
    return [str(error.reason) for error in schema.iter_errors(str(path))]
