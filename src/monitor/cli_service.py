"""Long-running and administrative commands: serve, run, status, feeds import/export, worker."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from . import app
from .cli_common import _Group, _open, _paths, text_or_json


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address; off loopback needs MONITOR_WEB_TOKEN.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Port to listen on.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the web page: digests, matches, search, articles, feedback, feed health."""
    from .web import serve_command

    serve_command(_paths(ctx), host, port)


@click.command()
@click.option(
    "--tick",
    type=click.FloatRange(min=0.5),
    default=5.0,
    show_default=True,
    help="Seconds between checks for feeds that are due.",
)
@click.pass_context
def run(ctx: click.Context, tick: float) -> None:
    """Run the service: poll each feed at its interval and deliver the daily digest.

    One service per database; SIGTERM or Ctrl-C stops it within seconds.
    """
    from .service import run_service

    run_service(_paths(ctx), tick=tick)


@click.command()
@text_or_json
@click.pass_context
def status(ctx: click.Context, fmt: str) -> None:
    """Per feed: last fetch, next due, last error, entries, matches; and the service heartbeat."""
    a = _open(ctx, need_seeds=False, need_feeds=False)
    info = app.status(a)
    if fmt == "json":
        click.echo(json.dumps(info, indent=2, default=str))
        return
    click.echo(f"service heartbeat: {info['heartbeat'] or 'never'}")
    click.echo(f"{len(info['feeds'])} feeds, {info['articles']} articles, {info['matches']} matches")
    for f in info["feeds"]:
        state = f["status"] if f["status"] != "active" else ("failing" if f["last_error"] else "ok")
        click.echo(
            f"[{state}] {f['name'] or f['url']}: entries {f['entries']}, matches {f['matches']}, "
            f"last fetch {f['last_fetch_at'] or 'never'}, next due {f['next_due_at'] or 'now'}"
        )
        if f.get("fetch_url") and f["fetch_url"] != f["url"]:
            click.echo(f"    moved to: {f['fetch_url']}")
        if f["last_error"]:
            click.echo(f"    last error: {f['last_error']}")


@click.group(cls=_Group)
def feeds() -> None:
    """Import feeds from an OPML file into feeds.yaml, or export feeds.yaml as OPML."""


@feeds.command(name="import", short_help="Add an OPML file's feeds to feeds.yaml.")
@click.argument("opml_file", metavar="FILE.opml", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_context
def feeds_import(ctx: click.Context, opml_file: Path) -> None:
    """Add the OPML file's feeds to feeds.yaml (see --feeds), keeping its comments and order.

    Feeds already listed (same URL after normalisation) are skipped, folders and categories
    become tags. A broken or non-OPML file is reported in one line and nothing is written.
    """
    from .opml import import_opml

    report = import_opml(opml_file, _paths(ctx).feeds)
    for feed in report.added:
        click.echo(f"added   {feed.url}" + (f"  ({feed.title})" if feed.title else ""))
    for feed, why in report.skipped:
        click.echo(f"skipped {feed.url}: {why}")
    click.echo(f"{len(report.added)} added, {len(report.skipped)} skipped; feed list: {_paths(ctx).feeds}")


@feeds.command(name="export", short_help="Write the feeds of feeds.yaml as OPML 2.0.")
@click.option("--out", default="-", show_default=True, help="OPML file to write (atomically), or - for stdout.")
@click.pass_context
def feeds_export(ctx: click.Context, out: str) -> None:
    """Write the feeds of feeds.yaml as an OPML 2.0 subscription list (tags as categories)."""
    from .opml import export_opml, feeds_from_settings, write_atomic

    path = _paths(ctx).feeds
    text = export_opml(feeds_from_settings(path), title=f"monitor feeds ({path.name})", now=datetime.now(UTC))
    if out == "-":
        click.echo(text, nl=False)
    else:
        write_atomic(Path(out), text)
        click.echo(f"{text.count('<outline ')} feeds written to {out}", err=True)


@click.command()
@click.option("--concurrency", type=click.IntRange(1, 256), default=4, show_default=True, help="Jobs run at once.")
@click.pass_context
def worker(ctx: click.Context, concurrency: int) -> None:
    """Run feed and digest jobs that `monitor run` queues in PostgreSQL (--db postgresql://…),
    until SIGTERM/SIGINT. Start any number of workers, on any number of machines."""
    app.run_worker(_open(ctx), concurrency=concurrency)
