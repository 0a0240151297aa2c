"""The README documents every command and option a user meets."""

from __future__ import annotations

import re
import types
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


def _bench_score() -> types.ModuleType:
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_score.py"
    spec = importlib.util.spec_from_file_location("bench_score", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_documented_score_benchmark_commands_parse() -> None:
    docs = README + "".join(
        p.read_text(encoding="utf-8") for p in (Path(__file__).resolve().parent.parent / "docs").glob("*.md")
    )
    lines = re.findall(r"benchmarks/bench_score\.py([^`\n]*)", docs)
    assert lines
    bench = _bench_score()
    for rest in lines:
        bench.parser().parse_args(rest.split())  # exits (SystemExit) on an unknown argument


def test_score_benchmark_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gzip
    import json

    fixtures = Path(__file__).resolve().parent / "fixtures" / "pages" / "bodies.jsonl.gz"
    with gzip.open(fixtures, "rt", encoding="utf-8") as fh:
        bodies = [json.loads(line) for line in fh][:20]
    truth = {str(i): {"articleBody": b["articleBody"]} for i, b in enumerate(bodies)}
    (tmp_path / "ground-truth.json").write_text(json.dumps(truth), encoding="utf-8")
    _bench_score().main(["--pages", str(tmp_path), "--words", "300", "--n", "4", "--repeat", "1"])
    out = capsys.readouterr().out
    assert re.search(r"300-word texts, n=4, cpu: median [0-9.]+ ms", out), out
