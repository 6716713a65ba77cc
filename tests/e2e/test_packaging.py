"""The wheel: everything the installed tool needs is inside it (checks, data, schemas, styles)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e

NEEDED = (
    "sage200_doctor/checks/token.py",
    "sage200_doctor/checks/resources.py",
    "sage200_doctor/catalogue/resources.json",
    "sage200_doctor/catalogue/LICENSE-sage-openapi.txt",
    "sage200_doctor/postman/schemas/collection-v2.1.json",
    "sage200_doctor/postman/schemas/collection-v2.0.json",
    "sage200_doctor/report/report.css",
    "sage200_doctor/report/pytest_html.css",
    "sage200_doctor/report/report.schema.json",
    "sage200_doctor/http/openapi.json",
    "sage200_doctor/py.typed",
)


def test_the_wheel_holds_the_checks_and_every_data_file(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    [wheel] = tmp_path.glob("sage200_doctor-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in NEEDED if name not in names]
    assert missing == []
    assert not [name for name in names if name.startswith(("tests/", "benchmarks/", "tools/"))]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "sage200_doctor = sage200_doctor.pytest_plugin.plugin" in text
    assert "sage200-doctor = sage200_doctor.commands:main" in text
