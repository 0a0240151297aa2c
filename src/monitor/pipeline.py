"""One feed's poll: fetch → parse → plan (pure) → per entry: extract → score → store → apply.

Never raises for anything a feed, a server or a bug in one entry can do: the outcome is a
FeedResult value carrying a typed Failure. `process_entry` is the per-entry step shared with
`monitor backfill --urls`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from .analysis import Analyser, ProcessedEntry, ScorerLike, analyse_entry
from .changes.stories import ArticleTerms
from .errors import FetchError, MonitorError, StorageError
from .models import (
    Article,
    ChangeSettings,
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


# --- one entry -------------------------------------------------------------------------------


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
