"""Command line: parse arguments, call one function in app, print. User errors → one line, exit 2."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__, app
from .cli_common import _Group
from .cli_eval import cluster, diff, eval_
from .cli_news import backfill, digest, explain, feedback, history, matches, poll, prune, score
from .cli_service import feeds, run, serve, status, worker

F = TypeVar("F", bound=Callable[..., Any])


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="monitor")
@click.option(
    "--feeds",
    type=click.Path(path_type=Path, dir_okay=False),
    default="feeds.yaml",
    envvar="MONITOR_FEEDS",
    show_default=True,
    show_envvar=True,
    help="Feed list and settings.",
)
@click.option(
    "--seeds",
    type=click.Path(path_type=Path, file_okay=False),
    default="seeds",
    envvar="MONITOR_SEEDS",
    show_default=True,
    show_envvar=True,
    help="Folder of seed articles (.txt, .md, .html) that define the topic.",
)
@click.option(
    "--db",
    default="data/monitor.db",
    envvar="MONITOR_DB",
    show_default=True,
    show_envvar=True,
    help="SQLite database file, or a postgresql:// URL (needs the postgres extra).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default=None,
    help="Log verbosity on stderr (default: error; info for `run`, `worker` and `backfill`).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="One line per event on stderr; json for log collectors.",
)
@click.pass_context
def cli(ctx: click.Context, feeds: Path, seeds: Path, db: str, log_level: str | None, log_format: str) -> None:
    """Watch news feeds and report new coverage related to a set of seed articles."""
    level = log_level or ("info" if ctx.invoked_subcommand in ("run", "backfill", "worker") else "error")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonFormatter()
        if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    ctx.obj = app.Paths(feeds=feeds, seeds=seeds, db=app.database_location(db))


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out)


# the commands live in one module per command group; registering them here keeps `monitor.cli:cli`
for command in (poll, digest, score, matches, feedback, explain, history, eval_, cluster, diff):
    cli.add_command(command)
for command in (serve, run, status, backfill, feeds, worker, prune):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="monitor")


if __name__ == "__main__":
    main()
