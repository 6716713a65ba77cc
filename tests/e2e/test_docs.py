"""Docs that run: every shell block of README.md and docs/*.md marked runnable is run, command by
command, against the built-in emulator, and must exit as the docs say.

A block is runnable when the line before its fence is `<!-- runnable -->` and its fence is
```bash or ```sh. Each line is one command (a trailing `\\` joins the next line); a trailing
comment `# exit N…` says the command is expected to exit N (else 0). Commands run with bash in
a fresh directory of their own, which holds `.env`, `site.env` and `emulator.env` (each pointing
at a running emulator of its own: a run may rotate the refresh token it finds there) and a copy
of `config.example.env`. Commands that install anything are never marked runnable.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from sage200_doctor.config.fleet_file import load_fleet
from sage200_doctor.emulator import format_env_lines, running_emulator
from tests.e2e.conftest import cli_environment
from tests.unit.test_ci_recipes import parse

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = "<!-- runnable -->"
FENCE = re.compile(r"^```(bash|sh)\s*$")
EXPECTED_EXIT = re.compile(r"#\s*exit (\d+)\b")
INSTALLERS = re.compile(r"\b(pip|pipx|uv|apt-get|apt|npm|brew)\b")
ENV_FILES = (".env", "site.env", "emulator.env")


@dataclass(frozen=True)
class Command:
    doc: str
    line: int
    text: str
    exit_code: int

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.text}"


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    commands: tuple[Command, ...]

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def runnable_blocks(path: Path) -> Iterator[Block]:
    doc = str(path.relative_to(ROOT))
    lines = path.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        fence = lines[index + 1] if index + 1 < len(lines) else ""
        if not FENCE.match(fence.strip()):
            raise AssertionError(f"{doc}:{index + 1}: {MARKER} is not followed by ```bash or ```sh")
        end = next(i for i in range(index + 2, len(lines)) if lines[i].strip() == "```")
        yield Block(doc, index + 2, tuple(commands_in(doc, lines[index + 2 : end], index + 3)))


def commands_in(doc: str, lines: list[str], first_line: int) -> Iterator[Command]:
    """One command per line; `\\` at the end of a line continues it on the next."""
    pending, start = "", first_line
    for number, raw in enumerate(lines, start=first_line):
        line = raw.strip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        if not text or text.startswith("#"):
            continue
        expected = EXPECTED_EXIT.search(text)
        yield Command(doc, start, text, int(expected.group(1)) if expected else 0)


BLOCKS = [block for path in DOCS for block in runnable_blocks(path)]


# --- what is marked runnable -------------------------------------------------------------------


def test_the_docs_have_runnable_blocks() -> None:
    assert {block.doc for block in BLOCKS} >= {"README.md", "docs/reports.md"}
    assert all(block.commands for block in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_runnable_commands_install_nothing_and_are_real(block: Block) -> None:
    for command in block.commands:
        words = shlex.split(command.text, comments=True)
        assert not INSTALLERS.search(" ".join(words)), f"installs something: {command}"
        for start, word in enumerate(words):
            if word == "sage200-doctor":  # the flags must exist (a parse error exits 2 or 4)
                rest = words[start + 1 :]
                end = next((i for i, w in enumerate(rest) if w in {">", "&&", "|", ";"}), None)
                parse(rest[:end])  # raises ParseError on an unknown command or flag


# --- running them ------------------------------------------------------------------------------


def prepare(directory: Path, stack: ExitStack) -> None:
    for name in ENV_FILES:
        emulator = stack.enter_context(running_emulator("healthy"))
        (directory / name).write_text(format_env_lines(emulator.env()) + "\n", encoding="utf-8")
    shutil.copyfile(ROOT / "config.example.env", directory / "config.example.env")


def run(command: Command, directory: Path) -> subprocess.CompletedProcess[str]:
    env = cli_environment({"XDG_CACHE_HOME": str(directory / ".cache")})
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # this sage200-doctor
    return subprocess.run(
        ["bash", "-c", command.text],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_runnable_blocks_run_as_documented(block: Block, tmp_path: Path) -> None:
    with ExitStack() as stack:
        prepare(tmp_path, stack)
        for command in block.commands:
            done = run(command, tmp_path)
            said = (
                f"{command}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
            )
            assert done.returncode == command.exit_code, said
            assert "Traceback" not in done.stdout + done.stderr, said


# --- formats documented in docs/ci.md ---------------------------------------------------------


def fleet_example() -> str:
    guide = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(# fleet\.toml\n.*?)```", guide, flags=re.DOTALL)
    assert len(blocks) == 1, "docs/ci.md shows one fleet.toml"
    return str(blocks[0])


def test_the_fleet_file_in_docs_ci_md_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = fleet_example()
    data = tomllib.loads(text)
    for entry in data["environment"]:
        if "env_file" in entry:
            (tmp_path / entry["env_file"]).write_text("SAGE200_EDITION=standard\n", "utf-8")
    monkeypatch.setenv("MART_REFRESH_TOKEN", "refresh-from-the-environment")
    monkeypatch.setenv("MART_SUBSCRIPTION_KEY", "key-from-the-environment")
    (tmp_path / "fleet.toml").write_text(text, encoding="utf-8")
    fleet = {env.name: env for env in load_fleet(tmp_path / "fleet.toml")}
    assert list(fleet) == ["acme-live", "bell-uat", "mart"]
    assert fleet["acme-live"].env_file == tmp_path / "acme-live.env"
    assert fleet["bell-uat"].settings["SAGE200_COMPANY_ID"] == "7"
    assert fleet["mart"].env_file is None
    assert fleet["mart"].settings["SAGE200_REFRESH_TOKEN"] == "refresh-from-the-environment"
