"""`monitor eval` runs exactly one mode; anything else is a one-line usage error (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli

FIXTURES = Path(__file__).parent / "fixtures" / "changes"
STORIES = str(FIXTURES / "ecbplus_slice.jsonl")
REVISIONS = str(FIXTURES / "iterater_slice.jsonl")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    # existing files, so click's own path checks pass and the mode check is what answers
    paths = {}
    for name in ("items.jsonl", "labels.tsv", "tasks.jsonl"):
        (tmp_path / name).write_text("")
        paths[name.split(".")[0]] = str(tmp_path / name)
    paths["corpus"] = str(tmp_path)
    return paths


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --items with --labels, --tasks, or --stories and/or --revisions"),
        (["--items", "{items}"], "--items and --labels go together"),
        (["--labels", "{labels}"], "--items and --labels go together"),
        (["--items", "{items}", "--labels", "{labels}", "--tasks", "{tasks}"], "not --items/--labels and --tasks"),
        (["--tasks", "{tasks}", "--stories", STORIES], "not --tasks and --stories/--revisions together"),
        (["--items", "{items}", "--labels", "{labels}", "--revisions", REVISIONS], "not --items/--labels and"),
        (["--items", "{items}", "--labels", "{labels}", "--corpus", "{corpus}"], "--corpus goes with --tasks"),
        (["--tasks", "{tasks}", "--lang", "en"], "--lang goes with --items/--labels"),
        (["--tasks", "{tasks}", "--decisions", "d.jsonl"], "--decisions goes with --items/--labels"),
        (["--tasks", "{tasks}", "--semantic-model", "m"], "--semantic-model goes with --items/--labels"),
        (["--stories", STORIES, "--feedback"], "--feedback goes with --items/--labels or --tasks"),
        (["--items", "{items}", "--labels", "{labels}", "--semantic-weight", "0.3"], "needs --semantic-model"),
    ],
)
def test_one_mode_or_a_one_line_error(files: dict[str, str], args: list[str], message: str) -> None:
    res = CliRunner().invoke(cli, ["eval", *(a.format(**files) for a in args)])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [res.stderr.strip()]  # one line, no usage banner
    assert message in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
def test_stories_and_revisions_together() -> None:
    res = CliRunner().invoke(cli, ["eval", "--stories", STORIES, "--revisions", REVISIONS])
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith("stories: 71 articles, 6 gold stories")
    assert "\nrevisions: 16 (10 material)" in res.stdout
