"""Discovery: every command and option says what it does, the main help lists every command,
the exit codes and examples, and shell completion offers commands, scenarios and ids."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sage200_doctor.commands import COMMANDS, build_parser, main
from sage200_doctor.emulator import SCENARIOS


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def listed_help() -> dict[str, str | None]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {choice.dest: choice.help for choice in action._choices_actions}


@pytest.mark.parametrize("name", [name for name, _ in COMMANDS])
def test_every_command_has_a_summary_and_a_description(name: str) -> None:
    assert listed_help()[name], f"{name} has no one-line help in the command list"
    assert subcommands()[name].description, f"{name} --help has no description"


@pytest.mark.parametrize("name", [name for name, _ in COMMANDS])
def test_every_option_and_argument_has_help(name: str) -> None:
    for action in subcommands()[name]._actions:
        label = "/".join(action.option_strings) or action.dest
        assert action.help, f"{name} {label} has no help"
        assert action.help != argparse.SUPPRESS, f"{name} {label} is hidden"


def test_the_main_help_lists_every_command_the_exit_codes_and_examples() -> None:
    text = build_parser().format_help()
    for name, _ in COMMANDS:
        assert f"\n    {name} " in text, name
    for code in ("0  every blocking check passed", "2  the configuration is unusable", "4  usage"):
        assert code in text
    examples = text[text.index("examples:") :].splitlines()[1:5]
    assert [line.split()[1] for line in examples] == ["demo", "run", "triage", "explain"]
    assert 'eval "$(register-python-argcomplete sage200-doctor)"' in text


@pytest.mark.parametrize("name", ["run", "demo", "rotation", "diff"])
def test_commands_with_exit_codes_list_them(name: str) -> None:
    epilog = subcommands()[name].format_help()
    assert "exit codes" in epilog
    assert "example" in epilog


def test_run_describes_only_options_that_exist() -> None:
    """The description once named a `--set` flag that never existed."""
    parser = subcommands()["run"]
    text = parser.format_help()
    named = {word.strip(".,;:()") for word in text.split() if word.startswith("--")}
    known = {s for action in parser._actions for s in action.option_strings}
    assert named <= known, named - known


# --- shell completion (argcomplete) -------------------------------------------------------------


def complete(line: str, tmp_path: Path) -> list[str]:
    """What `sage200-doctor` offers when the shell asks to complete `line` (argcomplete's
    protocol: _ARGCOMPLETE, COMP_LINE and COMP_POINT in, the words out)."""
    out = tmp_path / "completions.txt"
    env = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_STDOUT_FILENAME": str(out),
        "_ARGCOMPLETE_IFS": "\n",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
    }
    script = "import sys; from sage200_doctor.commands import main; sys.exit(main())"
    subprocess.run(
        [sys.executable, "-c", script], env=env, check=True, timeout=60, capture_output=True
    )
    return [word.strip() for word in out.read_text(encoding="utf-8").splitlines() if word]


def test_completion_offers_the_command(tmp_path: Path) -> None:
    assert complete("sage200-doctor de", tmp_path) == ["demo"]
    assert set(complete("sage200-doctor ", tmp_path)) >= {name for name, _ in COMMANDS}


def test_completion_offers_scenarios_and_ids(tmp_path: Path) -> None:
    assert complete("sage200-doctor demo --scenario key-", tmp_path) == [
        name for name in SCENARIOS if name.startswith("key-")
    ]
    assert "faq.errors.401" in complete("sage200-doctor explain faq.errors.", tmp_path)
    assert "token.refresh" in complete("sage200-doctor run --only token.", tmp_path)


def test_without_the_shell_asking_nothing_is_completed() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "sage200_doctor", "--version"],
        env={k: v for k, v in os.environ.items() if not k.startswith("_ARGCOMPLETE")},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert completed.stdout.startswith("sage200-doctor ")


def test_explain_knows_every_check_a_report_can_name(capsys: pytest.CaptureFixture[str]) -> None:
    """postman.writes is in Postman reports only, yet `explain` must know it like any other."""
    assert main(["explain", "postman.writes"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("postman.writes (160): Requests that write are listed, never sent")
    assert "guide.postman.writes" in out
