"""Wiring: settings → store, fetcher, scorer, pipeline, digest targets. One function per command."""

from __future__ import annotations

import importlib.util
import json
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from .analysis import Analyser
from .app_backfill import BACKFILL_FEED as BACKFILL_FEED
from .app_backfill import PREPARE_BATCH as PREPARE_BATCH
from .app_backfill import _profile_key as _profile_key
from .app_backfill import backfill_urls as backfill_urls
from .app_backfill import rescore as rescore
from .app_digest import deliver_all as deliver_all
from .app_digest import deliver_target as deliver_target
from .app_digest import new_digest as new_digest
from .app_digest import render_digest as render_digest
from .app_retention import prune_expired as prune_expired
from .app_scorer import stored_scorer
from .config import load_seeds, load_settings
from .errors import ConfigError
from .fetch import Fetcher
from .models import (
    Document,
    FeedResult,
    Judgment,
    Seed,
    SemanticSettings,
    Settings,
)
from .pipeline import Clock as Clock  # the injected clock's type, for the service
from .pipeline import run_feed
from .recheck import RecheckResult, recheck_due
from .score import Scorer, build_scorer
from .score.semantic import INSTALL_HINT, SemanticScorer, semantic_available
from .store import POSTGRES_HINT, Location, Storage, open_storage
from .store import database_location as database_location  # --db's parser, for the CLI
from .storyline import StoryTracker
from .workers import WorkerPool, start_server

log = logging.getLogger("monitor")
ProjectScorer = Scorer | SemanticScorer  # the lexical scorer, or it fused with the semantic backend
FEED_THREADS = 8  # feeds polled at once (fetching); extraction runs in settings.workers processes


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Paths:
    feeds: Path
    seeds: Path
    db: Location  # a SQLite file, or a postgresql:// URL


@dataclass
class App:
    paths: Paths
    settings: Settings
    store: Storage
    seeds: tuple[Seed, ...] = ()
    now: Clock = utcnow
    _scorer: ProjectScorer | None = field(default=None, repr=False)
    _pool: WorkerPool | None = field(default=None, repr=False)
    rechecked: RecheckResult = field(default_factory=RecheckResult)  # the last poll's re-checks
    stories: StoryTracker = field(default_factory=StoryTracker)  # rebuilt from the store on first use
    # A command restores the scorer's learned state from the store (~1 s less); the service learns
    # it once at start instead: restoring left it 60-100 MB larger (docs/scaling.md)
    restore_scorer: bool = True

    @property
    def scorer(self) -> ProjectScorer:
        """Seeds plus the analyst's stored judgments: feedback shapes every later score.
        With settings.scoring.semantic, the lexical scorer fused with the embedding model."""
        if self._scorer is None:
            if not self.seeds:
                self.seeds = load_seeds(self.paths.seeds)
            if self.settings.scoring.semantic is None:  # what it learnt is kept in the store
                self._scorer = stored_scorer(
                    self.store, self.seeds, self.store.judgments(), self.now, restore=self.restore_scorer
                )
                return self._scorer
            self._scorer = build_project_scorer(
                self.seeds,
                self.store.judgments(),
                self.settings.scoring.semantic,
                where=f"{self.settings.source}: settings.scoring.semantic",
                base=self.paths.feeds.parent,
            )
        return self._scorer

    def analyser(self) -> Analyser | None:
        """settings.workers > 1: extraction and scoring in worker processes, one pool for the
        app's lifetime (a poll, a service run), rebuilt when the scorer changes."""
        if self.settings.workers <= 1:
            return None
        if self._pool is None:
            start_server()  # before building the scorer, so that the two overlap
        scorer = self.scorer
        if self._pool is None or self._pool.scorer is not scorer:
            if self._pool is not None:
                self._pool.close()
            self._pool = WorkerPool(scorer, self.settings.workers)
        return self._pool.analyse

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self.store.close()


def open_app(paths: Paths, *, need_seeds: bool = True, need_feeds: bool = True, now: Clock = utcnow) -> App:
    """Validate everything a command needs before doing any work."""
    if need_feeds or paths.feeds.exists():
        settings = load_settings(paths.feeds)
    else:
        settings = Settings(feeds=())
    seeds = load_seeds(paths.seeds) if need_seeds else ()
    if need_seeds and settings.scoring.semantic is not None:
        check_semantic(f"{settings.source}: settings.scoring.semantic")  # fail before any work
    store = open_storage(paths.db)
    store.sync_feeds(settings.feeds)
    return App(paths=paths, settings=settings, store=store, seeds=seeds, now=now)


# --- the scorer ------------------------------------------------------------------------------


def check_semantic(where: str) -> None:
    """A cheap early check (no model loaded): the semantic extra is installed."""
    if not semantic_available():
        raise ConfigError(
            f"{where}: semantic scoring needs sentence-transformers, which is not installed; "
            f"install it with: {INSTALL_HINT} (or remove settings.scoring.semantic)"
        )


def _model_ref(model: str, base: Path | None) -> str:
    """A relative model directory is relative to feeds.yaml (like settings.digest.templates);
    anything else is passed on (an installed model package or a Hugging Face cache name)."""
    p = Path(model).expanduser()
    if base is not None and not p.is_absolute() and (base / p).is_dir():
        return str(base / p)
    return model


def build_project_scorer(
    seeds: Sequence[Seed],
    judgments: Sequence[Judgment] = (),
    semantic: SemanticSettings | None = None,
    *,
    where: str = "semantic",
    base: Path | None = None,
) -> ProjectScorer:
    """The lexical scorer, or (``semantic`` set) the lexical scorer wrapped by SemanticScorer.

    Judgments are replayed through the wrapper so both sides learn them (docs/semantic.md).
    Any failure to load or run the model is a one-line ConfigError naming ``where``."""
    if semantic is None:
        return build_scorer(seeds, judgments)
    lexical = build_scorer(seeds, ())
    try:
        scorer = SemanticScorer(
            lexical,
            seeds,
            model=_model_ref(semantic.model, base),
            weight=semantic.weight,
            languages=semantic.languages,
        )
        if judgments:
            scorer.prepare([j.document for j in judgments])
        for j in judgments:
            scorer.learn(j.document, j.relevant)
    except ConfigError as exc:
        raise ConfigError(f"{where}: " + " ".join(str(exc).split())) from None
    except (OSError, RuntimeError, ValueError) as exc:  # the model loaded but cannot embed
        msg = " ".join(str(exc).split())
        raise ConfigError(f"{where}: model {semantic.model!r} failed: {type(exc).__name__}: {msg}") from None
    log.info("semantic scoring: %s", json.dumps(scorer.describe(), sort_keys=True))
    return scorer


def scorer_factory(semantic: SemanticSettings | None) -> Callable[[Sequence[Seed]], ProjectScorer]:
    """For ``monitor eval``: seeds → the project's scorer (fused when ``semantic`` is set)."""

    def make(seeds: Sequence[Seed]) -> ProjectScorer:
        return build_project_scorer(seeds, (), semantic, where="--semantic-model")

    return make


def offline_scorer(paths: Paths) -> ProjectScorer:
    """``monitor score``: the seeds (no database), fused when feeds.yaml, if present, says so."""
    settings = load_settings(paths.feeds) if paths.feeds.exists() else Settings(feeds=())
    return build_project_scorer(
        load_seeds(paths.seeds),
        (),
        settings.scoring.semantic,
        where=f"{settings.source}: settings.scoring.semantic",
        base=paths.feeds.parent,
    )


# --- poll --------------------------------------------------------------------------------------


def poll(
    app: App,
    *,
    only_due: bool = False,
    threads: int = FEED_THREADS,
    rng: random.Random | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[FeedResult]:
    """One pass over the feeds (all of them, or those due); one feed's failure is its own."""
    feeds = app.settings.feeds
    if not feeds:
        raise ConfigError(f"{app.paths.feeds}: no feeds configured")
    if only_due:
        due = set(app.store.due_feeds(app.now()))
        feeds = tuple(f for f in feeds if f.url in due)
    analyse = app.analyser()  # first: it starts the worker processes' server before building the scorer
    scorer = app.scorer
    with Fetcher(app.settings.fetch) as fetcher:

        def one(spec: Any) -> FeedResult:
            if should_stop():
                return FeedResult(url=spec.url, name=spec.name, warning="interrupted")
            return run_feed(
                spec,
                store=app.store,
                fetcher=fetcher,
                scorer=scorer,
                now=app.now,
                rng=rng,
                should_stop=should_stop,
                analyse=analyse,
                changes=app.settings.changes,
                stories=app.stories,
            )

        if len(feeds) <= 1:
            results = [one(f) for f in feeds]
        else:
            with ThreadPoolExecutor(max_workers=min(threads, len(feeds)), thread_name_prefix="feed") as pool:
                results = list(pool.map(one, feeds))
        # after the feeds: an entry that changed was re-read with its feed, not twice
        app.rechecked = recheck_due(app.store, fetcher, scorer, app.now, app.settings.changes, should_stop)
        if app.rechecked.checked:
            log.info("re-checked %s", app.rechecked)
        return results


# --- offline scoring, feedback, explanations ---------------------------------------------------


def score_lines(scorer: ProjectScorer, lines: Iterable[str], out: IO[str]) -> int:
    n = 0
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"input line {lineno}: not JSON: {exc.msg}") from None
        if not isinstance(item, dict) or "id" not in item:
            raise ConfigError(f"input line {lineno}: expected an object with an 'id'")
        text = "\n".join(str(item.get(k) or "") for k in ("summary", "text") if item.get(k))
        doc = Document(id=str(item["id"]), title=str(item.get("title") or ""), text=text, language=item.get("language"))
        s = scorer.score(doc)
        out.write(json.dumps({"id": item["id"], "score": round(s.value, 6), "match": s.match}) + "\n")
        n += 1
    return n


def _article_ref(app: App, ref: str) -> int:
    found = app.store.find_article(ref)
    if found is None:
        raise ConfigError(f"no stored article {ref!r} (give an article id or URL)")
    return found.id


def history(app: App, ref: str) -> dict[str, Any]:
    """Every version of a stored article's text (minor ones too) with its verdict."""
    article_id = _article_ref(app, ref)
    found = app.store.find_article(str(article_id))
    assert found is not None  # _article_ref found it
    versions = [
        {**asdict(v), "seen_at": v.seen_at.isoformat(timespec="seconds")} for v in app.store.versions(article_id)
    ]
    for v in versions:  # the texts are for the web page's diffs, not `monitor history`
        v.pop("text", None)
    return {"id": article_id, "title": found.title, "url": found.url, "feed": found.feed, "versions": versions}


def feedback(app: App, ref: str, relevant: bool) -> tuple[int, str]:
    """Store a judgment and re-score that article with the updated scorer."""
    article_id = _article_ref(app, ref)
    app.store.judge(article_id, relevant, app.now())
    app._scorer = None  # judgments changed
    found = app.store.find_article(str(article_id))
    assert found is not None
    return article_id, app.store.rescore_article(article_id, app.scorer.score(found.document()), app.now())


def explain(app: App, ref: str) -> dict[str, Any]:
    article_id = _article_ref(app, ref)
    found = app.store.find_article(str(article_id))
    assert found is not None
    scorer = app.scorer
    doc = found.document()
    s = scorer.score(doc)
    info: dict[str, Any] = {
        "id": article_id,
        "url": found.url,
        "title": found.title,
        "feed": found.feed,
        "score": round(s.value, 6),
        "threshold": round(scorer.threshold, 4),
        "match": s.match,
        "nearest_seed": s.nearest_seed,
        "facets": list(s.facets),
        "terms": list(s.terms),
        "sentence": s.sentence,
        "stored_match": _stored_match(app, article_id),
    }
    if isinstance(scorer, SemanticScorer):  # the two parts of the fused score
        sem, _nearest = scorer.semantic(doc)
        info["semantic"] = {
            "model": scorer.model,
            "weight": scorer.weight,
            "lexical_score": round(scorer.lexical.score(doc).value, 4),
            "lexical_threshold": round(scorer.lexical.threshold, 4),
            "semantic_score": round(sem, 4),
        }
    return info


# --- status (digests: app_digest.py; rescore, backfill --urls: app_backfill.py) ----------------


def _plain(record: Any) -> dict[str, Any]:
    """A flat record as JSON-ready values (times as ISO-8601 text, as they are stored). Field by
    field rather than asdict, which deep-copies every value: 6x faster, and `monitor status`
    turns one record per feed (1,000 and more) into this."""
    out: dict[str, Any] = {}
    for f in fields(record):
        v = getattr(record, f.name)
        out[f.name] = v.astimezone(UTC).isoformat(timespec="seconds") if isinstance(v, datetime) else v
    return out


def _stored_match(app: App, article_id: int) -> dict[str, Any] | None:
    match = app.store.match_for(article_id)
    return None if match is None else {**_plain(match), "explanation": match.explanation}


def status(app: App) -> dict[str, Any]:
    counts = app.store.counts()
    return {
        "heartbeat": app.store.get_value("heartbeat"),
        "articles": counts.articles,
        "matches": counts.matches,
        "feeds": [_plain(f) for f in app.store.feed_statuses()],
    }


# --- many machines: PostgreSQL and the job queue (jobs.py) -----------------------------------


def job_queue_url(app: App, command: str) -> str:
    """The database URL the job queue lives in; a one-line error on SQLite or without the extra."""
    if not isinstance(app.paths.db, str):
        raise ConfigError(f"`monitor {command}` takes its jobs from PostgreSQL: give --db postgresql://… (MONITOR_DB)")
    if importlib.util.find_spec("procrastinate") is None:
        raise ConfigError(f"`monitor {command}` needs procrastinate; install it with {POSTGRES_HINT}")
    return app.paths.db


def run_worker(app: App, *, concurrency: int) -> None:
    """`monitor worker`: run feed and digest jobs until SIGTERM/SIGINT."""
    url = job_queue_url(app, "worker")
    from . import jobs  # procrastinate is part of the optional postgres extra

    jobs.run_worker(app, url, concurrency=concurrency)
