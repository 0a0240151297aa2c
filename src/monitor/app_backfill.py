"""Backfill commands' wiring: re-score stored articles (resumable), and store article URLs."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import TYPE_CHECKING

from .analysis import Analyser
from .config import load_seeds
from .extract import content_hash
from .fetch import Fetcher
from .models import Document, Entry, Failure
from .pipeline import process_entry
from .plan import entry_hash
from .score.semantic import SemanticScorer

if TYPE_CHECKING:  # app.py re-exports these functions, so it cannot be imported here at run time
    from .app import App, ProjectScorer

log = logging.getLogger("monitor")
PREPARE_BATCH = 256  # documents embedded at a time ahead of scoring (semantic backend)
BACKFILL_FEED = "backfill:urls"


def _prepare(scorer: ProjectScorer, docs: Sequence[Document]) -> None:
    """Batch-embed ahead of scoring when the scorer can (the semantic backend)."""
    if isinstance(scorer, SemanticScorer) and docs:
        scorer.prepare(docs)


def _profile_key(app: App) -> str:
    """Identifies the scoring profile; a rescore is resumable only under the same profile."""
    h = hashlib.sha256()
    for seed in app.seeds or load_seeds(app.paths.seeds):
        h.update(seed.name.encode() + b"\0" + seed.text.encode() + b"\0")
    for j in app.store.judgments():
        h.update(f"{j.document.id}:{j.relevant};".encode())
    semantic = app.settings.scoring.semantic
    if semantic is not None:  # absent: the key stays what it was before the semantic backend existed
        h.update(b"semantic:" + json.dumps(asdict(semantic), sort_keys=True).encode())
    return "rescore:" + h.hexdigest()[:16]


def rescore(app: App, *, since: datetime | None, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Re-score stored articles against the current seeds and judgments; resumable."""
    key = _profile_key(app) + (f":{since.isoformat()}" if since else "")
    done_up_to = int(app.store.get_value(key) or 0)
    articles = app.store.articles(since=since, after_id=done_up_to)
    counts = {"articles": len(articles), "new": 0, "demoted": 0, "kept": 0, "none": 0, "failed": 0}
    scorer = app.scorer
    for i, article in enumerate(articles, start=1):
        if (i - 1) % PREPARE_BATCH == 0:
            _prepare(scorer, [a.document() for a in articles[i - 1 : i - 1 + PREPARE_BATCH]])
        try:
            score = scorer.score(article.document())
        except Exception:  # a scorer bug on one odd article must not end the run (as in the pipeline)
            log.exception("article %s could not be re-scored", article.id)
            counts["failed"] += 1
        else:
            counts[app.store.rescore_article(article.id, score, app.now())] += 1
        if i % 50 == 0 or i == len(articles):
            app.store.set_value(key, str(article.id))  # resume point
        if progress:
            progress(i, len(articles))
    return counts


def backfill_urls(
    app: App, urls: list[str], *, since: datetime | None, progress: Callable[[int, int], None] | None = None
) -> dict[str, int]:
    """Fetch, extract, score and store article URLs; URLs already stored are skipped (resumable)."""
    app.store.ensure_feed(BACKFILL_FEED, "backfill", "manual")
    known = app.store.known_entries(BACKFILL_FEED)
    counts = {"urls": len(urls), "stored": 0, "matches": 0, "skipped": 0, "failed": 0, "too_old": 0}
    scorer = app.scorer
    analyse = app.analyser()
    with Fetcher(app.settings.fetch) as fetcher:
        for i, url in enumerate(urls, start=1):
            if url in known:
                counts["skipped"] += 1
            else:
                outcome = _backfill_one(app, url, since, fetcher, scorer, analyse)
                counts["stored" if outcome == "match" else outcome] += 1
                counts["matches"] += int(outcome == "match")
            if progress:
                progress(i, len(urls))
    return counts


def _backfill_one(
    app: App, url: str, since: datetime | None, fetcher: Fetcher, scorer: ProjectScorer, analyse: Analyser | None
) -> str:
    """One URL through the poll's per-entry step; returns the counter it adds to."""
    # no feed item: the title comes from the page (build_article), else the URL stands in
    entry = Entry(id=url, feed_url=BACKFILL_FEED, title="", link=url, published=None, summary="", content="")
    done = process_entry(entry, fetcher=fetcher, scorer=scorer, analyse=analyse)
    if isinstance(done, Failure):
        log.warning("%s: %s", url, done)
        return "failed"
    article = done.article
    if article.extraction != "page":  # only the page's own text is worth storing: there is no feed text
        log.warning("%s: %s", url, article.extraction.removeprefix("feed: "))
        return "failed"
    if not article.title:
        article = replace(article, title=url, content_hash=content_hash(url, article.text))
    if since and article.published and article.published < since:
        return "too_old"
    if not done.scored:
        return "failed"
    saved = app.store.save_article(
        BACKFILL_FEED, article, entry_hash(entry), done.score, app.now(), notify=app.settings.changes.notify
    )
    if saved.new_article and saved.copy_of is None:
        app.stories.place(app.store, saved.article_id, article, "backfill", app.now())
    return "match" if saved.news else "stored"
