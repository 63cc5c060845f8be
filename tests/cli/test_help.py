"""Every option of every subcommand says what it does in ``--help``."""

from __future__ import annotations

import argparse

import pytest

from sidecar import cli
from sidecar.runtime import run_command
from tests.cli.helpers import run_sidecar


def _subcommand_parsers() -> dict[str, argparse.ArgumentParser]:
    parsers = {"stdio": cli._stdio_parser(), "run": run_command._parser()}
    for action in cli._parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, parser in action.choices.items():
                parsers.setdefault(name, parser)
    return parsers


@pytest.mark.parametrize("command", ["stdio", "serve", "run", "doctor"])
def test_every_option_has_help_text(command: str) -> None:
    parser = _subcommand_parsers()[command]
    options = [action for action in parser._actions if action.option_strings]
    assert len(options) > 1, "the subcommand's own parser holds its options"
    lacking = [action.option_strings[0] for action in options if not (action.help or "").strip()]
    assert lacking == []

    done = run_sidecar(command, "--help")

    assert done.returncode == 0, done.stderr
    for action in options:
        assert action.option_strings[0] in done.stdout
        if action.help != argparse.SUPPRESS:
            assert str(action.help).split("%")[0].split()[0] in done.stdout


def test_the_command_list_names_every_subcommand() -> None:
    done = run_sidecar("--help")

    assert done.returncode == 0
    for command in ("stdio", "serve", "run", "doctor"):
        assert command in done.stdout
