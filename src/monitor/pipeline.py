"""One feed's poll: fetch → parse → plan (pure) → per entry: extract → score → store → apply.

Never raises for anything a feed, a server or a bug in one entry can do: the outcome is a
FeedResult value carrying a typed Failure. `process_entry` is the per-entry step shared with
`monitor backfill --urls`.
"""

from __future__ import annotations

import logging
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from .changes.copies import band_keys, shingles, signature
from .changes.stories import ArticleTerms, article_terms
from .errors import ExtractError, FetchError, MonitorError, StorageError
from .extract import build_article, extract_page
from .models import (
    Article,
    ChangeSettings,
    Document,
    Entry,
    Failure,
    FailureKind,
    FeedResult,
    FeedSpec,
    FeedState,
    FeedUpdate,
    FetchOutcome,
    FetchResult,
    PlannedEntry,
    Score,
)
from .parse import parse_feed
from .plan import UNSCORED, entries_lost, failed, interrupted, plan, with_unscored
from .recheck import schedule_after_save
from .storyline import StoryTracker

if TYPE_CHECKING:  # the pipeline knows the storage only by its protocol
    from .store.protocol import Storage
    from .store.records import SavedArticle

log = logging.getLogger("monitor.pipeline")

Clock = Callable[[], datetime]
DEFAULT_CHANGES = ChangeSettings()


class FetcherLike(Protocol):
    def fetch_feed(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult: ...
    def fetch_page(self, url: str) -> FetchResult: ...


class ScorerLike(Protocol):
    threshold: float

    def score(self, doc: Document) -> Score: ...


@dataclass(frozen=True)
class ArticleFeatures:
    """What storing an article derives from its text (its story terms, its copy shingles and
    their MinHash band keys), computed where it was extracted: in a worker process, so the
    polling process does not."""

    story_terms: ArticleTerms
    shingles: frozenset[int]
    # changes.copies.band_keys(signature(shingles)); None: the store computes them (0.12 ms)
    bands: tuple[str, ...] | None = None

    def __reduce__(
        self,
    ) -> tuple[Callable[..., ArticleFeatures], tuple[ArticleTerms, bytes, tuple[str, ...] | None]]:
        # a worker process sends them back: its ~700 64-bit shingles packed in one bytes object
        # cost 0.03 ms to write instead of 0.08 pickled one by one, and 0.03 instead of 0.04 to read
        packed = struct.pack(f"<{len(self.shingles)}Q", *self.shingles)
        return _unpacked_features, (self.story_terms, packed, self.bands)


def _unpacked_features(
    story_terms: ArticleTerms, packed: bytes, bands: tuple[str, ...] | None = None
) -> ArticleFeatures:
    return ArticleFeatures(story_terms, frozenset(struct.unpack(f"<{len(packed) // 8}Q", packed)), bands)


@dataclass(frozen=True)
class ProcessedEntry:
    article: Article
    score: Score
    scored: bool  # False: the scorer failed (logged); the score is a non-match placeholder
    # computed by a worker process; None: the polling process computes them when storing
    features: ArticleFeatures | None = field(default=None, compare=False)


# --- one entry -------------------------------------------------------------------------------

# Extract and score one entry from its fetched page (None: no page; the third value says why not,
# None too when the feed's own text is wanted). process_entry does it in this process unless given
# one; workers.WorkerPool.analyse does it in worker processes and returns a Failure for an entry no
# worker could process (the worker died twice).
Analyser = Callable[[Entry, FetchResult | None, str | None], ProcessedEntry | Failure]


def process_entry(
    entry: Entry,
    *,
    fetcher: FetcherLike,
    scorer: ScorerLike,
    full_text: bool = True,
    analyse: Analyser | None = None,
) -> ProcessedEntry | Failure:
    """Page (fetched here, in the feed's thread: politeness and the address guard live in the
    fetcher) → article → score, by `analyse` or in this process. Never raises for a hostile page
    or a scorer bug on one odd entry: the feed's text and a placeholder stand in. A Failure means
    the entry could not be processed at all: it must not be stored."""
    page, why_not = entry_page(entry, full_text, fetcher)
    if analyse is not None:
        return analyse(entry, page, why_not)
    return analyse_entry(entry, page, why_not, scorer)


def entry_page(entry: Entry, full_text: bool, fetcher: FetcherLike) -> tuple[FetchResult | None, str | None]:
    """The entry's page, or None and why not (None, None: the feed's own text is wanted)."""
    if not full_text:
        return None, None
    if not entry.link:
        return None, "entry has no link"
    try:
        return fetcher.fetch_page(entry.link), None
    except FetchError as exc:
        return None, str(exc)
    except Exception as exc:  # hostile pages must not take the feed down with them
        log.exception("internal error fetching %s", entry.link)
        return None, f"internal error: {type(exc).__name__}"


def analyse_entry(entry: Entry, page: FetchResult | None, why_not: str | None, scorer: ScorerLike) -> ProcessedEntry:
    """Extract and score one entry (the same function runs in worker processes)."""
    return score_article(page_article(entry, page, why_not), scorer)


def page_article(entry: Entry, page: FetchResult | None, why_not: str | None) -> Article:
    """The entry's article from its page; without a usable page, from the feed's own text."""
    if page is None:
        return build_article(entry, None, why_not)
    try:
        # the page's date only stands in for a feed entry without one (build_article)
        extracted = extract_page(
            page.content, page.headers.get("content-type", ""), page.final_url, with_date=entry.published is None
        )
    except ExtractError as exc:
        return build_article(entry, None, str(exc))
    except Exception as exc:  # hostile pages must not take the feed down with them
        log.exception("internal error extracting %s", entry.link)
        return build_article(entry, None, f"internal error: {type(exc).__name__}")
    return build_article(entry, extracted, None)


def article_features(article: Article) -> ArticleFeatures | None:
    """The article's features (see ArticleFeatures); None if computing them failed (logged): the
    polling process then computes them itself, and fails or not as it would have."""
    try:
        found = shingles(article.text)
        return ArticleFeatures(article_terms(article.title, article.text), found, band_keys(signature(found)))
    except Exception:
        log.exception("internal error computing the story terms and shingles of %s", article.entry.link)
        return None


def with_features(done: ProcessedEntry, features: ArticleFeatures | None) -> ProcessedEntry:
    return done if features is None else replace(done, features=features)


def score_article(article: Article, scorer: ScorerLike) -> ProcessedEntry:
    """The article with its score; a scorer bug on one odd entry gives a non-match placeholder."""
    entry = article.entry
    doc = Document(id=entry.id, title=article.title, text=article.text, language=article.language)
    try:
        return ProcessedEntry(article=article, score=scorer.score(doc), scored=True)
    except Exception:
        log.exception("internal error scoring entry %s of %s", entry.id, entry.feed_url)
        return ProcessedEntry(article=article, score=Score(value=0.0, match=False), scored=False)


# --- one feed --------------------------------------------------------------------------------


def fetch_outcome(spec: FeedSpec, state: FeedState, fetcher: FetcherLike) -> FetchOutcome:
    """Fetch (conditionally, from where a permanent redirect moved the feed) and parse."""
    source = state.fetch_url or spec.url
    try:
        fetched = fetcher.fetch_feed(source, etag=state.etag, last_modified=state.last_modified)
    except FetchError as exc:
        kind = FailureKind.PERMANENT if exc.permanent else FailureKind.FETCH
        return FetchOutcome(failure=Failure(kind, str(exc), exc.retry_after))
    except Exception as exc:  # a bug must not end the pass for the other feeds
        log.exception("internal error fetching %s", source)
        return FetchOutcome(failure=internal(exc))
    if fetched.not_modified:
        return FetchOutcome(fetched=fetched)
    try:
        return FetchOutcome(fetched=fetched, parsed=parse_feed(fetched.content, fetched.headers, spec.url))
    except MonitorError as exc:  # ParseError, or a charset the document cannot be read in
        return FetchOutcome(fetched=fetched, failure=Failure(FailureKind.PARSE, str(exc)))
    except Exception as exc:
        log.exception("internal error parsing %s", source)
        return FetchOutcome(fetched=fetched, failure=internal(exc))


def internal(exc: Exception) -> Failure:
    return Failure(FailureKind.INTERNAL, " ".join(f"internal error: {type(exc).__name__}: {exc}".split()))


@dataclass
class _Tally:
    new: int = 0
    changed: int = 0
    matches: int = 0
    unscored: int = 0
    stopped: bool = False
    lost: list[Failure] = field(default_factory=list)  # entries not processed: not stored


def run_feed(
    spec: FeedSpec,
    *,
    store: Storage,
    fetcher: FetcherLike,
    scorer: ScorerLike,
    now: Clock,
    rng: random.Random | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    analyse: Analyser | None = None,
    changes: ChangeSettings = DEFAULT_CHANGES,
    stories: StoryTracker | None = None,
) -> FeedResult:
    started = now()
    try:
        state = store.feed_state(spec.url)
        outcome = fetch_outcome(spec, state, fetcher)
        known = store.known_entries(spec.url) if outcome.parsed is not None else {}
    except StorageError as exc:
        return FeedResult(url=spec.url, name=spec.name, error=Failure(FailureKind.STORAGE, str(exc)))
    update = plan(spec, state, outcome, known, started, rng)
    if update.move is not None:
        log.info("feed %s moved permanently to %s", spec.url, update.move.fetch_url or spec.url)
    tally = _Tally()
    if update.record is not None and update.record.error is not None:
        return _result(spec, update, tally, store)  # fetching or parsing failed
    try:
        tally = _store_entries(update, spec, store, fetcher, scorer, now, should_stop, analyse, changes, stories)
        if tally.stopped:
            update = interrupted(update)
        elif tally.lost:
            update = entries_lost(update, spec, state, tally.lost, started, rng)
        else:
            update = with_unscored(update, tally.unscored)
        store.apply(update)
    except StorageError as exc:
        update = failed(spec, state, Failure(FailureKind.STORAGE, str(exc)), started, rng, move=update.move)
        return _result(spec, update, tally, store)
    except Exception as exc:  # e.g. a bug on one hostile entry
        log.exception("internal error processing %s", spec.url)
        return _result(spec, failed(spec, state, internal(exc), started, rng, move=update.move), tally, store)
    return _result(spec, update, tally)


# processed entries saved per transaction: one commit writes the pages that their saves share
# (the copy band index, the full-text index, the articles' indexes) once; a crash loses at most
# the entries in hand, which the next poll processes again (the validators are not stored yet)
SAVE_BATCH = 16


def _store_entries(
    update: FeedUpdate,
    spec: FeedSpec,
    store: Storage,
    fetcher: FetcherLike,
    scorer: ScorerLike,
    now: Clock,
    should_stop: Callable[[], bool],
    analyse: Analyser | None,
    changes: ChangeSettings,
    stories: StoryTracker | None = None,
) -> _Tally:
    """Entries are processed one by one and stored SAVE_BATCH at a time (`_save`)."""
    tally = _Tally()
    ready: list[tuple[PlannedEntry, ProcessedEntry, datetime]] = []
    for planned in update.entries:
        if should_stop():
            tally.stopped = True  # what was processed is stored
            break
        done = process_entry(planned.entry, fetcher=fetcher, scorer=scorer, full_text=spec.full_text, analyse=analyse)
        if isinstance(done, Failure):  # not stored: the plan keeps the old validators (entries_lost)
            tally.lost.append(done)
            continue
        ready.append((planned, done, now()))  # first seen when processed
        if len(ready) == SAVE_BATCH:
            _save(ready, update.url, spec.name, store, now, changes, stories, tally)
            ready = []
    _save(ready, update.url, spec.name, store, now, changes, stories, tally)
    return tally


def _save(
    ready: list[tuple[PlannedEntry, ProcessedEntry, datetime]],
    feed_url: str,
    feed_name: str,
    store: Storage,
    now: Clock,
    changes: ChangeSettings,
    stories: StoryTracker | None,
    tally: _Tally,
) -> None:
    """Store processed entries in one transaction (Storage.batch), then place the new articles in
    their stories, in order, each placement its own transaction as before (a story engine bug
    costs a story, not the entries; a copy saved before its original was placed joins its story
    with it), and schedule their re-checks."""
    if not ready:
        return
    with store.batch():
        saved = [_save_entry(store, feed_url, planned, done, seen, changes) for planned, done, seen in ready]
    for (planned, done, _), entry in zip(ready, saved, strict=True):
        if stories is not None and entry.new_article and entry.copy_of is None:
            terms = done.features.story_terms if done.features is not None else None
            _place(stories, store, entry.article_id, done.article, feed_name, now(), terms)
        # only a page that was read has versions worth re-reading (feed text changes with its entry)
        if (
            entry.news
            and entry.reported is not None
            and entry.first_seen is not None
            and done.article.extraction == "page"
        ):
            schedule_after_save(store, entry.reported, entry.first_seen, now(), changes)
        tally.changed += int(planned.known)
        tally.new += int(not planned.known)
        tally.matches += int(entry.news)
        tally.unscored += int(not done.scored)


def _save_entry(
    store: Storage, feed_url: str, planned: PlannedEntry, done: ProcessedEntry, seen: datetime, changes: ChangeSettings
) -> SavedArticle:
    features = done.features
    return store.save_article(
        feed_url,
        done.article,
        planned.entry_hash if done.scored else UNSCORED,
        done.score,
        seen,
        notify=changes.notify,
        shingles=features.shingles if features is not None else None,
        bands=features.bands if features is not None else None,
    )


def _place(
    stories: StoryTracker,
    store: Storage,
    article_id: int,
    article: Article,
    feed: str,
    when: datetime,
    terms: ArticleTerms | None = None,
) -> None:
    """The article is stored already: a bug in the story engine costs its story, not the poll."""
    try:
        stories.place(store, article_id, article, feed, when, terms)
    except StorageError:
        raise
    except Exception:
        log.exception("internal error placing article %d in a story", article_id)


def _result(spec: FeedSpec, update: FeedUpdate, tally: _Tally, store: Storage | None = None) -> FeedResult:
    """The FeedResult of an applied update; with `store`, a failure update is applied here."""
    record = update.record
    error = record.error if record is not None else None
    if error is not None:
        log.warning("%s: %s", spec.name, error)
        if store is not None:
            try:
                store.apply(update)
            except StorageError as exc:
                error = Failure(error.kind, f"{error} (and could not record it: {exc})")
        return FeedResult(url=spec.url, name=spec.name, error=error)
    if tally.stopped:
        # the validators stay old, so the next pass fetches the feed again in full
        return FeedResult(
            url=spec.url, name=spec.name, new_entries=tally.new, matches=tally.matches, warning="interrupted"
        )
    if update.not_modified:
        return FeedResult(url=spec.url, name=spec.name, not_modified=True)
    warning = record.warning if record is not None else None
    if warning:
        log.warning("%s: %s", spec.name, warning)
    log.info("feed %s: %d new, %d changed, %d matches", spec.name, tally.new, tally.changed, tally.matches)
    return FeedResult(url=spec.url, name=spec.name, new_entries=tally.new, matches=tally.matches, warning=warning)
