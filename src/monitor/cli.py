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
from .errors import MonitorError

F = TypeVar("F", bound=Callable[..., Any])


class _Group(click.Group):
    """Turns every MonitorError into `monitor: error: …` and exit 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            click.echo(f"monitor: error: {exc}", err=True)
            ctx.exit(2)
        except BrokenPipeError:  # `monitor matches | head`: the reader left, nothing to report
            sys.stderr.close()
            ctx.exit(0)
        except OSError as exc:  # e.g. --out into a missing directory
            click.echo(f"monitor: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
            ctx.exit(2)


def _paths(ctx: click.Context) -> app.Paths:
    obj: app.Paths = ctx.obj
    return obj


def _open(ctx: click.Context, *, need_seeds: bool = True, need_feeds: bool = True) -> app.App:
    a = app.open_app(_paths(ctx), need_seeds=need_seeds, need_feeds=need_feeds)
    ctx.call_on_close(a.close)
    return a


def _date(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date (e.g. 2026-11-20 or 2026-11-20T07:00)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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


@cli.command()
@click.pass_context
def poll(ctx: click.Context) -> None:
    """Fetch every feed once, store new entries and matches, print a per-feed summary.

    Exits 0 when the pass ran, even if some feeds failed (their errors are stored and
    shown); exits 2 when nothing could run (bad config, unusable seeds or database).
    """
    a = _open(ctx)
    results = app.poll(a)
    failed = 0
    for r in results:
        if r.error:
            failed += 1
            click.echo(f"ERROR {r.name}: {r.error}")
        elif r.not_modified:
            click.echo(f"ok    {r.name}: not modified")
        else:
            warn = f" (warning: {r.warning})" if r.warning else ""
            click.echo(f"ok    {r.name}: {r.new_entries} new, {r.matches} matches{warn}")
    new = sum(r.new_entries for r in results)
    matches = sum(r.matches for r in results)
    click.echo(f"{len(results)} feeds, {failed} failed, {new} new entries, {matches} new matches")
    checked = a.rechecked
    if checked.checked:
        click.echo(
            f"{checked.checked} articles re-checked: {checked.not_modified} not modified, {checked.failed}"
            f" unreadable, {checked.versions} new versions ({checked.updates} material)"
        )


@cli.command()
@click.option("--since", "since", metavar="ISO-DATE", help="Render matches updated since this date; records nothing.")
@click.option("--all", "everything", is_flag=True, help="Render every stored match; records nothing.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "text", "json", "atom"]),
    default="md",
    show_default=True,
    help="Markdown, HTML, plain text, JSON or an Atom feed.",
)
@click.option("--out", default="-", show_default=True, help="Output file, or - for stdout.")
@click.option(
    "--deliver",
    is_flag=True,
    help="Deliver to every target in feeds.yaml settings.digest (files, email, Apprise), exactly once per target.",
)
@click.pass_context
def digest(ctx: click.Context, since: str | None, everything: bool, fmt: str, out: str, deliver: bool) -> None:
    """Render a digest of matches, or deliver it to the configured targets.

    Without --since/--all: the matches not yet in an earlier digest, and that digest is
    recorded so the next one starts after it. --deliver sends the matches each configured
    target has not had yet (what the daily job runs); exits 1 if a target failed.
    """
    if since and everything:
        raise click.UsageError("give --since or --all, not both")
    if deliver:
        if since or everything:
            raise click.UsageError("--deliver sends what is new; it cannot be combined with --since/--all")
        a = _open(ctx, need_seeds=False)
        results = app.deliver_all(a)
        for target, outcome in results:
            click.echo(f"{target}: {outcome}")
        if any(outcome.startswith("FAILED") for _, outcome in results):
            ctx.exit(1)
        return
    a = _open(ctx, need_seeds=False, need_feeds=False)

    def write(text: str) -> None:
        if out == "-":
            click.echo(text, nl=not text.endswith("\n"))
        else:
            Path(out).write_text(text, encoding="utf-8")

    if since or everything:
        write(app.render_digest(a, since=_date(since) if since else None, everything=everything, fmt=fmt))
    else:
        n = app.new_digest(a, fmt, write)
        if out != "-":
            click.echo(f"{n} new matches written to {out}")


@cli.command()
@click.option(
    "--input",
    "input_",
    type=click.File("r", encoding="utf-8"),
    default="-",
    show_default=True,
    help="JSON lines, each with 'id' and any of 'title', 'summary', 'text'.",
)
@click.option(
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    show_default=True,
    help='JSON lines {"id", "score", "match"} in input order.',
)
@click.pass_context
def score(ctx: click.Context, input_: Any, output: Any) -> None:
    """Score items offline against the seeds (no database needed)."""
    app.score_lines(app.offline_scorer(_paths(ctx)), input_, output)


@cli.command()
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many matches.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Human-readable text or JSON.",
)
@click.pass_context
def matches(ctx: click.Context, limit: int, fmt: str) -> None:
    """List stored matches, best first."""
    a = _open(ctx, need_seeds=False, need_feeds=False)
    items = a.store.top_matches(limit)
    if fmt == "json":
        click.echo(json.dumps([_match_json(m) for m in items], indent=2))
        return
    if not items:
        click.echo("no matches stored yet")
    for m in items:
        click.echo(f"{m.score:.2f}  #{m.article_id}  {m.title}\n      {m.url}  ({m.feed})")


def _match_json(m: Any) -> dict[str, Any]:
    return {
        "id": m.article_id,
        "url": m.url,
        "title": m.title,
        "feed": m.feed,
        "score": m.score,
        "published": m.published.isoformat() if m.published else None,
        "first_seen": m.first_seen.isoformat(),
        "explanation": m.explanation,
    }


@cli.command()
@click.argument("ref", metavar="ID|URL")
@click.argument("verdict", type=click.Choice(["relevant", "irrelevant"]))
@click.pass_context
def feedback(ctx: click.Context, ref: str, verdict: str) -> None:
    """Mark a stored article relevant or irrelevant; later scores and the threshold use it."""
    a = _open(ctx, need_feeds=False)
    article_id, result = app.feedback(a, ref, verdict == "relevant")
    click.echo(f"article #{article_id} marked {verdict}; re-scored: {result}")


@cli.command()
@click.argument("ref", metavar="ID|URL")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Human-readable text or JSON.",
)
@click.pass_context
def explain(ctx: click.Context, ref: str, fmt: str) -> None:
    """Show why a stored article scores as it does: seed, facets, terms, best sentence."""
    a = _open(ctx, need_feeds=False)
    info = app.explain(a, ref)
    if fmt == "json":
        click.echo(json.dumps(info, indent=2, default=str))
        return
    verdict = "MATCH" if info["match"] else "no match"
    click.echo(f"#{info['id']} {info['title']}\n{info['url']}")
    click.echo(f"score {info['score']:.3f} (threshold {info['threshold']:.3f}): {verdict}")
    click.echo(f"nearest seed: {info['nearest_seed'] or '-'}")
    click.echo(f"facets: {'; '.join(info['facets']) or '-'}")
    click.echo(f"terms: {', '.join(info['terms']) or '-'}")
    if "semantic" in info:
        sem = info["semantic"]
        click.echo(
            f"semantic ({sem['model']}, weight {sem['weight']:g}): {sem['semantic_score']:.3f}; "
            f"lexical {sem['lexical_score']:.3f} (threshold {sem['lexical_threshold']:.3f})"
        )
    if info["sentence"]:
        click.echo(f"best sentence: {info['sentence']}")


@cli.command()
@click.argument("ref", metavar="ID|URL")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Text or JSON."
)
@click.pass_context
def history(ctx: click.Context, ref: str, fmt: str) -> None:
    """List the versions of a stored article's text (minor ones too) with their verdicts."""
    a = _open(ctx, need_seeds=False, need_feeds=False)
    info = app.history(a, ref)
    if fmt == "json":
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"#{info['id']} {info['title']}\n{info['url'] or '-'} ({info['feed']})")
    for v in info["versions"]:
        kind = "material" if v["material"] else "minor"
        click.echo(
            f"v{v['number']}  {v['seen_at']}  {kind:8}  {v['significance']:.2f}  {v['words']} words  {v['summary']}"
        )


class _Usage(click.UsageError):
    """A usage mistake as one line on stderr (exit 2), without click's usage banner."""

    def show(self, file: Any = None) -> None:
        where = self.ctx.command_path if self.ctx else "monitor"
        click.echo(f"{where}: error: {self.format_message()}", err=True)


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


@cli.command(name="eval")
@click.option(
    "--items",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="JSON lines of news items (id, date, language, title, summary); with --labels.",
)
@click.option(
    "--labels",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="TSV of id and grade (2 on topic, 1 related, 0 off topic).",
)
@click.option(
    "--tasks",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="JSON lines of tracking tasks (task, items, lang, seeds, grades): each task's seeds replace seeds/.",
)
@click.option(
    "--corpus",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Folder the tasks' item files are relative to  [default: the tasks file's parent's parent].",
)
@click.option(
    "--stories",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Story clustering against gold `story` labels (JSON lines); see docs/changes.md.",
)
@click.option(
    "--revisions",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Revision significance against labelled edits (JSON lines: before, after, material, edits).",
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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="A table per language, or JSON.",
)
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
    from .config import DEFAULT_SEMANTIC_WEIGHT, load_seeds
    from .evaluate import format_report, run_eval
    from .evaluate_tasks import format_tasks_report, run_tasks
    from .models import SemanticSettings

    if mode == "tasks":
        assert tasks is not None  # _eval_mode checked it
        tasks_report = run_tasks(tasks, corpus or tasks.resolve().parent.parent, feedback=use_feedback)
        click.echo(format_tasks_report(tasks_report, fmt))
        return
    assert items is not None and labels is not None  # _eval_mode checked them
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
        load_seeds(_paths(ctx).seeds),
        feedback=use_feedback,
        lang=lang,
        decisions_path=decisions,
        scorer_factory=app.scorer_factory(semantic),
    )
    click.echo(format_report(report, fmt))


@cli.command()
@click.option(
    "--input", "input_", type=click.File("r", encoding="utf-8"), required=True, help="JSON lines in stream order."
)
@click.option("--output", type=click.File("w", encoding="utf-8"), default="-", show_default=True, help="File or -.")
def cluster(input_: Any, output: Any) -> None:
    """Assign articles to stories in stream order: {"id", "story", "new_story", "duplicate_of"} per line."""
    from .changes.offline import cluster_rows, read_lines

    for out in cluster_rows(read_lines(input_, input_.name)):
        output.write(json.dumps(out) + "\n")


@cli.command()
@click.argument("old", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.argument("new", type=click.Path(path_type=Path, dir_okay=False, exists=True))
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


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address; off loopback needs MONITOR_WEB_TOKEN.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Port to listen on.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the web page: digests, matches, search, articles, feedback, feed health."""
    from .web import serve_command

    serve_command(_paths(ctx), host, port)


@cli.command()
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


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Human-readable text or JSON.",
)
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


@cli.command()
@click.option("--rescore", is_flag=True, help="Re-score every stored article against the current seeds and feedback.")
@click.option(
    "--urls",
    "urls_file",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="File with one article URL per line to fetch and process.",
)
@click.option("--since", metavar="ISO-DATE", default=None, help="Only articles published on or after this date.")
@click.pass_context
def backfill(ctx: click.Context, rescore: bool, urls_file: Any, since: str | None) -> None:
    """Re-score stored articles or process a list of URLs. Resumable: run again after an
    interruption and it continues where it stopped."""
    if rescore == bool(urls_file):
        raise click.UsageError("give exactly one of --rescore or --urls FILE")
    a = _open(ctx, need_feeds=False)
    bound = _date(since) if since else None
    tty = sys.stderr.isatty()
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if tty:
            if bar is None:
                bar = click.progressbar(length=total, label="backfill", file=sys.stderr)
                bar.__enter__()
            bar.update(1)
        elif done % 100 == 0 or done == total:
            logging.getLogger("monitor.backfill").info("%d/%d done", done, total)

    try:
        if rescore:
            counts = app.rescore(a, since=bound, progress=progress)
        else:
            urls = [u.strip() for u in urls_file if u.strip() and not u.startswith("#")]
            counts = app.backfill_urls(a, urls, since=bound, progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))


@cli.group(cls=_Group)
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


@cli.command()
@click.option(
    "--concurrency", type=click.IntRange(1, 256), default=4, show_default=True, help="Jobs run at once."
)
@click.pass_context
def worker(ctx: click.Context, concurrency: int) -> None:
    """Run feed and digest jobs that `monitor run` queues in PostgreSQL (--db postgresql://…),
    until SIGTERM/SIGINT. Start any number of workers, on any number of machines."""
    app.run_worker(_open(ctx), concurrency=concurrency)


def main() -> None:
    cli(prog_name="monitor")


if __name__ == "__main__":
    main()
