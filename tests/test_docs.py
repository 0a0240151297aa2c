"""The README documents every command and option a user meets."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from monitor.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_in_the_readme_table(name: str) -> None:
    assert re.search(rf"^\| `monitor {name}` \|", README, re.M), f"monitor {name} is not documented"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_help(name: str) -> None:
    command = cli.commands[name]
    assert command.help, f"{name} has no help text"
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"monitor {name} {param.opts[0]} has no help"


def test_global_options_and_env_are_documented() -> None:
    for text in (
        "--feeds PATH",
        "--seeds DIR",
        "--db PATH",
        "MONITOR_FEEDS",
        "MONITOR_SEEDS",
        "MONITOR_DB",
        "MONITOR_SMTP_USER",
        "MONITOR_SMTP_PASSWORD",
        "MONITOR_ALLOW_HOSTS",
    ):
        assert text in README


def test_readme_commands_match_ci() -> None:
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    test_command = ci.strip().splitlines()[-1]
    assert test_command in README
