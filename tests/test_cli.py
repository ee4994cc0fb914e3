"""The `ponos` command: help for every subcommand, clean errors with exit codes."""

from __future__ import annotations

import argparse

import pytest

from ponos.cli import build_parser
from tests.helpers import run_cli


def _all_command_paths(parser: argparse.ArgumentParser, prefix=()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths += _all_command_paths(sub, (*prefix, name))
    return paths


COMMAND_PATHS = _all_command_paths(build_parser())


def test_top_level_help_lists_every_command_group():
    result = run_cli("--help")
    assert result.returncode == 0
    top = {path[0] for path in COMMAND_PATHS if len(path) == 1}
    assert {"aggregator", "executor"} <= top
    for name in top:
        assert name in result.stdout


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "ponos")
def test_every_subcommand_has_help(path):
    parser = build_parser()
    with pytest.raises(SystemExit) as info:
        parser.parse_args([*path, "--help"])
    assert info.value.code == 0


def test_unknown_subcommand_is_a_usage_error():
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    assert "Traceback" not in result.stderr
