"""The CI recipes in docs/ci/ parse, keep their reports, map secrets onto real settings, and
every `sage200-doctor …` command line in them is a real subcommand with real flags."""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sage200_doctor.commands import build_parser
from sage200_doctor.commands import rotation as rotation_gate
from sage200_doctor.config.settings import KNOWN_KEYS

DOCS = Path(__file__).resolve().parents[2] / "docs"
RECIPES = {"github": DOCS / "ci" / "github-actions.yml", "gitlab": DOCS / "ci" / "gitlab-ci.yml"}
SEPARATORS = {"&&", "||", ";", "|", "&"}
SCRIPT_KEYS = {"run", "script", "before_script", "after_script"}
REDIRECTS = re.compile(r"^\d*[<>]")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(RECIPES[name].read_text(encoding="utf-8"))
    return data


def strings(node: Any) -> Iterator[str]:
    """Every string value in a parsed YAML document (scripts, run: blocks, …)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def scripts(node: Any) -> Iterator[str]:
    """The shell scripts: GitHub's `run:`, GitLab's `script:` / `before_script:` / `after_script:`."""
    for mapping in mappings(node):
        for key, value in mapping.items():
            if key in SCRIPT_KEYS:
                yield from strings(value)


def mappings(node: Any) -> Iterator[dict[Any, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from mappings(value)
    elif isinstance(node, list):
        for item in node:
            yield from mappings(item)


def doctor_commands(script: str) -> Iterator[list[str]]:
    """The argument lists of `sage200-doctor` commands in a shell script (not `pip install …`)."""
    logical = re.sub(r"\\\n\s*", " ", script)
    for line in logical.splitlines():
        if "sage200-doctor" not in line or line.lstrip().startswith("#"):
            continue
        tokens = shlex.split(line, comments=True)
        start = 0
        for index, token in enumerate([*tokens, ";"]):
            if token in SEPARATORS:
                command = tokens[start:index]
                if command and command[0] == "sage200-doctor":
                    yield [t for t in command[1:] if not REDIRECTS.match(t)]
                start = index + 1


def commands_in(name: str) -> list[list[str]]:
    return [args for text in scripts(load(name)) for args in doctor_commands(text)]


def real_parser() -> argparse.ArgumentParser:
    """The CLI's own parser, every command registered."""
    return build_parser()


class ParseError(Exception):
    pass


class StrictParser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise ParseError(message)


def parse(args: list[str]) -> argparse.Namespace:
    parser = real_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                subparser.error = StrictParser.error.__get__(subparser)  # type: ignore[method-assign]
    parser.error = StrictParser.error.__get__(parser)  # type: ignore[method-assign]
    return parser.parse_args(args)


# --- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_doctor_command_is_real(name: str) -> None:
    commands = commands_in(name)
    used = {args[0] for args in commands}
    assert {"run", "rotation"} <= used, used
    for args in commands:
        parse(args)  # raises ParseError on an unknown subcommand or flag


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_the_rotation_gate_expects_the_old_credentials_revoked(name: str) -> None:
    gates = [parse(args) for args in commands_in(name) if args[0] == "rotation"]
    assert gates
    for gate in gates:
        assert gate.expect_old_revoked
        assert gate.report_dir.startswith("reports/")


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_sage200_variable_is_a_real_setting(name: str) -> None:
    named = {
        key
        for mapping in mappings(load(name))
        for key in mapping
        if isinstance(key, str) and key.startswith("SAGE200_")
    }
    assert named, "the recipe maps no SAGE200_* settings"
    assert named <= set(KNOWN_KEYS), named - set(KNOWN_KEYS)
    for text in strings(load(name)):
        for key in re.findall(r"\bSAGE200_[A-Z_]+(?==)", text):
            assert key in KNOWN_KEYS, key


def test_github_maps_secrets_and_keeps_the_reports() -> None:
    workflow = load("github")
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "workflow_dispatch" in triggers
    jobs = workflow["jobs"]
    diagnose = jobs["diagnose"]["env"]
    for key in ("SAGE200_CLIENT_SECRET", "SAGE200_REFRESH_TOKEN", "SAGE200_SUBSCRIPTION_KEY"):
        assert diagnose[key] == "${{ secrets." + key + " }}"
    for job in jobs.values():
        uploads = [
            s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")
        ]
        assert uploads, job
        assert all(
            step["if"] == "always()" and step["with"]["path"] == "reports/" for step in uploads
        )
    # The gate's job carries no SAGE200_* credential in its environment (the gate refuses them).
    gate_env = {k for step in jobs["rotation-gate"]["steps"] for k in step.get("env", {})}
    assert not {k for k in gate_env if k.startswith("SAGE200_")}


def test_gitlab_maps_secrets_and_keeps_the_reports() -> None:
    pipeline = load("gitlab")
    diagnose, gate = pipeline["diagnose"], pipeline["rotation-gate"]
    for key in ("SAGE200_CLIENT_SECRET", "SAGE200_REFRESH_TOKEN", "SAGE200_SUBSCRIPTION_KEY"):
        assert diagnose["variables"][key] == "$S200_" + key.removeprefix("SAGE200_")
    credentials = set(rotation_gate.CREDENTIAL_KEYS)
    assert not credentials & set(gate.get("variables", {}))
    assert not credentials & set(pipeline.get("variables", {}))
    for job in (pipeline[".sage200-doctor"], gate):
        assert job["artifacts"]["when"] == "always"
        assert job["artifacts"]["paths"] == ["reports/"]
    assert "rm -f old.env new.env" in " ".join(gate["after_script"])


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_docs_ci_md_shows_the_files_as_they_are(name: str) -> None:
    guide = (DOCS / "ci.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", guide, flags=re.DOTALL)
    assert RECIPES[name].read_text(encoding="utf-8") in blocks


def test_the_command_finder_is_not_fooled() -> None:
    script = (
        "python -m pip install sage200-doctor\n"
        "# sage200-doctor run --nonsense\n"
        "sage200-doctor run --quiet && sage200-doctor diff a.json b.json 2>/dev/null \\\n"
        "  --json\n"
    )
    assert list(doctor_commands(script)) == [
        ["run", "--quiet"],
        ["diff", "a.json", "b.json", "--json"],
    ]
    with pytest.raises(ParseError):
        parse(["run", "--no-such-flag"])
    with pytest.raises(ParseError):
        parse(["rotate", "--old", "a"])
