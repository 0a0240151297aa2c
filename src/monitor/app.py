"""Wiring: settings → store, fetcher, scorer, pipeline, digest targets. One function per command."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from . import deliver as delivery
from .config import load_seeds, load_settings
from .digest import render
from .errors import ConfigError, DeliveryError, MonitorError
from .extract import content_hash
from .fetch import Fetcher
from .models import (
    Digest,
    DigestTarget,
    Document,
    Entry,
    Failure,
    FeedResult,
    Judgment,
    Seed,
    SemanticSettings,
    Settings,
)
from .pipeline import Analyser, process_entry, run_feed
from .pipeline import Clock as Clock  # the injected clock's type, for the service
from .plan import entry_hash
from .recheck import RecheckResult, recheck_due
from .score import Scorer, build_scorer
from .score.semantic import INSTALL_HINT, SemanticScorer, semantic_available
from .store import POSTGRES_HINT, Location, Storage, open_storage
from .store import database_location as database_location  # --db's parser, for the CLI
from .storyline import StoryTracker
from .workers import WorkerPool

log = logging.getLogger("monitor")
ProjectScorer = Scorer | SemanticScorer  # the lexical scorer, or it fused with the semantic backend
PREPARE_BATCH = 256  # documents embedded at a time ahead of scoring (semantic backend)
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

    @property
    def scorer(self) -> ProjectScorer:
        """Seeds plus the analyst's stored judgments: feedback shapes every later score.
        With settings.scoring.semantic, the lexical scorer fused with the embedding model."""
        if self._scorer is None:
            if not self.seeds:
                self.seeds = load_seeds(self.paths.seeds)
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


def _prepare(scorer: ProjectScorer, docs: Sequence[Document]) -> None:
    """Batch-embed ahead of scoring when the scorer can (the semantic backend)."""
    if isinstance(scorer, SemanticScorer) and docs:
        scorer.prepare(docs)


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
    scorer = app.scorer
    analyse = app.analyser()
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


# --- digests -----------------------------------------------------------------------------------


def render_digest(app: App, *, since: datetime | None, everything: bool, fmt: str) -> str:
    """Render stored matches without recording anything (--since / --all)."""
    items = app.store.matches_since(None if everything else since)
    digest = Digest(generated_at=app.now(), matches=tuple(items), since=since, base_url=_base_url(app))
    return render(digest, fmt, templates_dir=_templates(app))


def _base_url(app: App) -> str | None:
    """Digest entries link to their web page when settings.web.base_url is set."""
    return app.settings.web.base_url if app.settings.web else None


def _templates(app: App) -> Path | None:
    tdir = app.settings.digest.templates_dir
    if not tdir:
        return None
    path = Path(tdir)
    return path if path.is_absolute() else app.paths.feeds.parent / path


def deliver_target(app: App, target: str, send: Callable[[Digest], str], *, send_empty: bool = False) -> list[str]:
    """Exactly once per target: matches are reserved in a pending digest before sending and
    the digest is marked delivered only after `send` succeeds; pending digests go first."""
    done = []

    def deliver(digest_id: int, digest: Digest) -> None:
        try:
            done.append(send(digest))
        except MonitorError as exc:
            app.store.finish_digest(digest_id, app.now(), error=str(exc))
            raise
        app.store.finish_digest(digest_id, app.now())

    for pending in app.store.pending_digests(target):
        deliver(pending.id, Digest(generated_at=pending.created_at, matches=pending.items, base_url=_base_url(app)))
    items = app.store.undelivered(target)
    if not items and not send_empty:
        return done
    now = app.now()
    digest = Digest(generated_at=now, matches=tuple(items), base_url=_base_url(app))
    deliver(app.store.reserve_digest(target, items, now), digest)
    return done


def new_digest(app: App, fmt: str, write: Callable[[str], None], target: str = "cli") -> int:
    """The matches not yet in an earlier digest for `target`, recorded once written."""
    count = 0

    def send(digest: Digest) -> str:
        nonlocal count
        count += len(digest.matches)
        write(render(digest, fmt, templates_dir=_templates(app)))
        return "written"

    deliver_target(app, target, send, send_empty=True)
    return count


def deliver_all(app: App) -> list[tuple[str, str]]:
    """Deliver to every configured target; one failing target does not stop the others."""
    targets = app.settings.digest.targets
    if not targets:
        raise ConfigError(f"{app.paths.feeds}: settings.digest.targets is empty: nothing to deliver to")
    results: list[tuple[str, str]] = []
    for target in targets:  # a relative file-target dir is relative to the working directory

        def send(digest: Digest, target: DigestTarget = target) -> str:
            return delivery.deliver(digest, target, templates_dir=_templates(app))

        try:
            sent = deliver_target(app, target.name, send, send_empty=app.settings.digest.empty == "send")
            results.append((target.name, "; ".join(sent) if sent else "nothing new"))
        except DeliveryError as exc:
            log.error("%s: %s", target.name, exc)
            results.append((target.name, f"FAILED: {exc}"))
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


# --- status and backfill -------------------------------------------------------------------------


def _plain(record: Any) -> dict[str, Any]:
    """A record as JSON-ready values (times as ISO-8601 text, as they are stored)."""
    return {
        k: v.astimezone(UTC).isoformat(timespec="seconds") if isinstance(v, datetime) else v
        for k, v in asdict(record).items()
    }


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


BACKFILL_FEED = "backfill:urls"


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

