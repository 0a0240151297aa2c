"""Commands over the stored news: poll, digest, score, matches, feedback, explain, history, backfill."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from . import app
from .cli_common import _date, _open, _paths, text_or_json
from .errors import ConfigError


@click.command()
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
    pruned = app.prune_expired(a)
    if pruned:
        click.echo(f"{pruned} article texts older than settings.retention dropped")
    checked = a.rechecked
    if checked.checked:
        click.echo(
            f"{checked.checked} articles re-checked: {checked.not_modified} not modified, {checked.failed}"
            f" unreadable, {checked.versions} new versions ({checked.updates} material)"
        )


@click.command()
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


@click.command()
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


@click.command()
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many matches.")
@text_or_json
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


@click.command()
@click.argument("ref", metavar="ID|URL")
@click.argument("verdict", type=click.Choice(["relevant", "irrelevant"]))
@click.pass_context
def feedback(ctx: click.Context, ref: str, verdict: str) -> None:
    """Mark a stored article relevant or irrelevant; later scores and the threshold use it."""
    a = _open(ctx, need_feeds=False)
    article_id, result = app.feedback(a, ref, verdict == "relevant")
    click.echo(f"article #{article_id} marked {verdict}; re-scored: {result}")


@click.command()
@click.argument("ref", metavar="ID|URL")
@text_or_json
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


@click.command()
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


@click.command()
@click.pass_context
def prune(ctx: click.Context) -> None:
    """Drop the text of never-reported articles older than settings.retention now (poll and
    the service also do it, a batch at a time); their identity is kept."""
    a = _open(ctx, need_seeds=False)
    if a.settings.retention is None:
        raise ConfigError(f"{a.settings.source}: settings.retention is not set: nothing to drop")
    click.echo(f"{app.prune_expired(a, seconds=None)} article texts dropped")


@click.command()
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
