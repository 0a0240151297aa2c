"""Measurement commands: eval (relevance, tracking tasks, changes), cluster, diff."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import app
from .cli_common import FC, _paths, _Usage, text_or_json_option

_FILE = click.Path(path_type=Path, dir_okay=False, exists=True)  # an existing file to read


def _input_file(flag: str, help: str) -> Callable[[FC], FC]:
    """An optional option naming an existing file to read."""
    return click.option(flag, type=_FILE, default=None, help=help)


def _eval_mode(**given: Any) -> str:
    """The one mode `monitor eval`'s options choose ("items", "tasks" or "changes"), or a
    one-line usage error naming what does not fit."""
    modes = {
        "items": ("--items", "--labels"),
        "tasks": ("--tasks",),
        "changes": ("--stories", "--revisions"),
    }
    chosen = [m for m, opts in modes.items() if any(given[o[2:]] is not None for o in opts)]
    if len(chosen) != 1:
        one = "give --items with --labels, --tasks, or --stories and/or --revisions"
        if chosen:
            one += f"; not {' and '.join('/'.join(modes[m]) for m in chosen)} together"
        raise _Usage(one)
    mode = chosen[0]
    if mode == "items" and (given["items"] is None or given["labels"] is None):
        raise _Usage("--items and --labels go together")
    # options that only one mode (or two) reads; anything else is a mistake, not silently ignored
    only = {
        "corpus": ("--corpus", ("tasks",)),
        "feedback": ("--feedback", ("items", "tasks")),
        "lang": ("--lang", ("items",)),
        "decisions": ("--decisions", ("items",)),
        "semantic_model": ("--semantic-model", ("items",)),
        "semantic_weight": ("--semantic-weight", ("items",)),
    }
    for key, (flag, allowed) in only.items():
        if given[key] not in (None, False) and mode not in allowed:
            raise _Usage(f"{flag} goes with {' or '.join('/'.join(modes[m]) for m in allowed)}")
    if given["semantic_weight"] is not None and given["semantic_model"] is None:
        raise _Usage("--semantic-weight needs --semantic-model")
    return mode


@click.command(name="eval")
@_input_file("--items", "JSON lines of news items (id, date, language, title, summary); with --labels.")
@_input_file("--labels", "TSV of id and grade (2 on topic, 1 related, 0 off topic).")
@_input_file(
    "--tasks",
    "JSON lines of tracking tasks (task, items, lang, seeds, grades): each task's seeds replace seeds/.",
)
@click.option(
    "--corpus",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Folder the tasks' item files are relative to  [default: the tasks file's parent's parent].",
)
@_input_file("--stories", "Story clustering against gold `story` labels (JSON lines); see docs/changes.md.")
@_input_file(
    "--revisions",
    "Revision significance against labelled edits (JSON lines: before, after, material, edits).",
)
@click.option(
    "--feedback",
    "use_feedback",
    is_flag=True,
    help="Adaptive filtering: reveal each match's grade to the scorer, in date order.",
)
@click.option("--lang", default=None, help="Only items whose language starts with this (e.g. en).")
@click.option(
    "--decisions",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help='Write {"id", "score", "match"} per item in processing order.',
)
@text_or_json_option("A table per language, or JSON.")
@click.option(
    "--semantic-model",
    metavar="NAME_OR_PATH",
    default=None,
    help="Fuse the scorer with this sentence-embedding model (needs monitor[semantic]; see docs/semantic.md).",
)
@click.option(
    "--semantic-weight",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=None,
    help="Weight of the semantic score in the fusion, in (0, 1]  [default: 0.1; needs --semantic-model].",
)
@click.pass_context
def eval_(
    ctx: click.Context,
    items: Path | None,
    labels: Path | None,
    tasks: Path | None,
    corpus: Path | None,
    use_feedback: bool,
    lang: str | None,
    decisions: Path | None,
    fmt: str,
    semantic_model: str | None,
    semantic_weight: float | None,
    stories: Path | None,
    revisions: Path | None,
) -> None:
    """Measure one of: relevance against graded items (--items and --labels) or many tracking
    tasks (--tasks [--corpus]), the scorer and two baselines; or story clustering (--stories)
    and/or revision significance (--revisions) against their baselines."""
    mode = _eval_mode(
        items=items,
        labels=labels,
        tasks=tasks,
        corpus=corpus,
        stories=stories,
        revisions=revisions,
        feedback=use_feedback,
        lang=lang,
        decisions=decisions,
        semantic_model=semantic_model,
        semantic_weight=semantic_weight,
    )
    if mode == "changes":
        from .changes.evaluate import run_changes_eval

        click.echo(run_changes_eval(stories, revisions, fmt), nl=False)
        return
    from .evaluate_tasks import format_tasks_report, run_tasks

    if mode == "tasks":
        assert tasks is not None  # _eval_mode checked it
        tasks_report = run_tasks(tasks, corpus or tasks.resolve().parent.parent, feedback=use_feedback)
        click.echo(format_tasks_report(tasks_report, fmt))
        return
    assert items is not None and labels is not None  # _eval_mode checked them
    click.echo(
        _items_report(
            _paths(ctx).seeds, items, labels, use_feedback, lang, decisions, fmt, semantic_model, semantic_weight
        )
    )


def _items_report(
    seeds: Path,
    items: Path,
    labels: Path,
    use_feedback: bool,
    lang: str | None,
    decisions: Path | None,
    fmt: str,
    semantic_model: str | None,
    semantic_weight: float | None,
) -> str:
    """`monitor eval --items --labels`: the report on graded items, in `fmt`."""
    from .config import DEFAULT_SEMANTIC_WEIGHT, load_seeds
    from .evaluate import format_report, run_eval
    from .models import SemanticSettings

    semantic = (
        SemanticSettings(
            model=semantic_model,
            weight=DEFAULT_SEMANTIC_WEIGHT if semantic_weight is None else semantic_weight,
        )
        if semantic_model
        else None
    )
    report = run_eval(
        items,
        labels,
        load_seeds(seeds),
        feedback=use_feedback,
        lang=lang,
        decisions_path=decisions,
        scorer_factory=app.scorer_factory(semantic),
    )
    return format_report(report, fmt)


@click.command()
@click.option(
    "--input", "input_", type=click.File("r", encoding="utf-8"), required=True, help="JSON lines in stream order."
)
@click.option("--output", type=click.File("w", encoding="utf-8"), default="-", show_default=True, help="File or -.")
def cluster(input_: Any, output: Any) -> None:
    """Assign articles to stories in stream order: {"id", "story", "new_story", "duplicate_of"} per line."""
    from .changes.offline import cluster_rows, read_lines

    for out in cluster_rows(read_lines(input_, input_.name)):
        output.write(json.dumps(out) + "\n")


@click.command()
@click.argument("old", type=_FILE)
@click.argument("new", type=_FILE)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "md", "html"]),
    default="json",
    show_default=True,
    help="JSON structured, Markdown +/- lines, or HTML <ins>/<del>.",
)
def diff(old: Path, new: Path, fmt: str) -> None:
    """Diff two versions of an article's text: material or minor, significance, changes."""
    from .changes.offline import render_diff

    texts = [p.read_bytes().decode("utf-8", errors="replace") for p in (old, new)]
    click.echo(render_diff(texts[0], texts[1], fmt), nl=False)
