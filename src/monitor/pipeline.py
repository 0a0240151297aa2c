"""One feed's run: fetch → parse → decide what is new → extract → score → store.

Never raises for anything a feed or server can do: the outcome is a FeedResult value.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from .errors import ExtractError, FetchError, MonitorError, StorageError
from .extract import build_article, extract_page
from .models import Analysed, Article, Document, Entry, FeedResult, FeedSpec, FetchResult, Score
from .parse import parse_feed
from .store import Store

log = logging.getLogger("monitor.pipeline")

MAX_BACKOFF = 24 * 3600.0
_RNG = random.Random()  # seeding a new Random per call cost more than the rest of next_due
JITTER = 0.1


class FetcherLike(Protocol):
    def fetch_feed(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult: ...
    def fetch_page(self, url: str) -> FetchResult: ...


class ScorerLike(Protocol):
    threshold: float

    def score(self, doc: Document) -> Score: ...


# Extract and score one entry from its fetched page (None: no page, the second value says why).
# run_feed does it in this process unless given one (src/monitor/workers.py: in worker processes).
Analyser = Callable[[Entry, FetchResult | None, str | None], Analysed]


# --- pure decisions ------------------------------------------------------------------------


def entry_hash(entry: Entry) -> str:
    """What the feed says about an entry; a change means the story was updated."""
    basis = "\x00".join((entry.title, entry.link or "", entry.summary, entry.content))
    return hashlib.sha1(" ".join(basis.split()).encode("utf-8")).hexdigest()


def decide(entries: tuple[Entry, ...], known: dict[str, str]) -> list[tuple[Entry, str]]:
    """Entries to process: unseen ones, and stored ones whose feed text changed."""
    out = []
    for entry in entries:
        digest = entry_hash(entry)
        if known.get(entry.id) != digest:
            out.append((entry, digest))
    return out


def next_due(
    interval: float,
    now: datetime,
    *,
    failures: int = 0,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """Next attempt: the interval when healthy; capped exponential backoff with jitter after
    failures; never earlier than a server's Retry-After."""
    rng = rng or _RNG
    delay = interval if failures <= 0 else min(MAX_BACKOFF, interval * 2 ** min(failures - 1, 20))
    delay = max(delay, min(interval, 60.0)) if failures else delay
    delay *= 1 + rng.uniform(-JITTER, JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_BACKOFF))
    return now + timedelta(seconds=delay)


# --- the run -------------------------------------------------------------------------------


def run_feed(
    spec: FeedSpec,
    *,
    store: Store,
    fetcher: FetcherLike,
    scorer: ScorerLike,
    now: Callable[[], datetime],
    rng: random.Random | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    analyse: Analyser | None = None,
) -> FeedResult:
    started = now()
    try:
        state = store.feed_state(spec.url)
    except StorageError as exc:
        return FeedResult(url=spec.url, name=spec.name, error=str(exc))
    # feeds.yaml stays the source of truth (the row is keyed by spec.url); a permanent redirect
    # only changes where the feed is fetched from, and the validators belong to that URL.
    source = state.fetch_url or spec.url
    try:
        fetched = fetcher.fetch_feed(source, etag=state.etag, last_modified=state.last_modified)
    except FetchError as exc:
        return _failed(spec, store, started, str(exc), state.error_count, exc.retry_after, exc.permanent, rng)
    except Exception as exc:  # a bug must not end the pass for the other feeds
        log.exception("internal error fetching %s", source)
        return _failed(spec, store, started, _internal(exc), state.error_count, None, False, rng)

    url = spec.url
    try:
        _follow_move(spec, store, state.fetch_url, fetched)
    except StorageError as exc:
        return _failed(spec, store, started, str(exc), state.error_count, None, False, rng)
    # a feed that answers again is active again (e.g. a 410 that was lifted)
    reactivate = "active" if state.status == "gone" else None

    due = next_due(spec.interval, started, rng=rng)
    if fetched.not_modified:
        try:
            store.record_fetch(url, now=started, next_due=due, status=reactivate)
        except StorageError as exc:
            return FeedResult(url=url, name=spec.name, error=str(exc))
        return FeedResult(url=url, name=spec.name, not_modified=True)

    try:
        parsed = parse_feed(fetched.content, fetched.headers, url)
    except MonitorError as exc:
        return _failed(spec, store, started, str(exc), state.error_count, None, False, rng)
    except Exception as exc:
        log.exception("internal error parsing %s", source)
        return _failed(spec, store, started, _internal(exc), state.error_count, None, False, rng)

    new = changed = matches = unscored = 0
    lost: list[str] = []
    try:
        known = store.known_entries(url)
        for entry, digest in decide(parsed.entries, known):
            if should_stop():
                # Leave the validators alone so the next pass fetches the feed again in full.
                return FeedResult(url=url, name=spec.name, new_entries=new, matches=matches, warning="interrupted")
            page, why_not = _page(entry, spec, fetcher)
            done = analyse(entry, page, why_not) if analyse else analyse_entry(entry, page, why_not, scorer)
            if done.error is not None:  # not stored; the feed ends in error, so it is fetched in full again
                lost.append(done.error)
                continue
            article, score = done.article, done.score
            if score is None:  # a scorer bug on one odd entry must not lose the rest of the feed
                score = Score(value=0.0, match=False)
                unscored += 1
                digest = "unscored"  # never equals a real hash: the next poll scores it again
            _, is_match = store.save_article(url, article, digest, score, now())
            if entry.id in known:
                changed += 1
            else:
                new += 1
            matches += int(is_match)

        if lost:
            n = len(lost)
            error = f"{n} entr{'y' if n == 1 else 'ies'} not processed, retried at the next poll: {lost[0]}"
            return _failed(spec, store, started, error, state.error_count, None, False, rng)
        warning = parsed.warning
        if unscored:
            note = f"{unscored} entr{'y' if unscored == 1 else 'ies'} could not be scored (internal error, logged)"
            warning = f"{warning}; {note}" if warning else note
        # Validators are saved only after every entry is stored: a crash mid-feed means the next
        # poll re-fetches the whole feed instead of getting a 304 and losing the rest.
        store.record_fetch(
            url,
            now=started,
            next_due=due,
            warning=warning,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            refresh_validators=True,
            status=reactivate,
            title=parsed.title,
        )
    except StorageError as exc:
        return _failed(spec, store, started, str(exc), state.error_count, None, False, rng)
    except Exception as exc:  # e.g. a scorer bug on one hostile entry
        log.exception("internal error processing %s", source)
        return _failed(spec, store, started, _internal(exc), state.error_count, None, False, rng)
    if warning:
        log.warning("%s: %s", spec.name, warning)
    log.info("feed %s: %d new, %d changed, %d matches", spec.name, new, changed, matches)
    return FeedResult(url=url, name=spec.name, new_entries=new, matches=matches, warning=warning)


def _internal(exc: Exception) -> str:
    return " ".join(f"internal error: {type(exc).__name__}: {exc}".split())


def _follow_move(spec: FeedSpec, store: Store, current: str | None, fetched: FetchResult) -> None:
    """Record a permanent redirect (301/308) as the feed's new fetch URL."""
    moved = fetched.permanent_redirect
    if not moved:
        return
    target = None if moved == spec.url else moved
    if target == current:
        return
    log.info("feed %s moved permanently to %s", spec.url, moved)
    # A 304 from the new location confirms the validators we sent; after a 200 they are
    # written by record_fetch only once the document is parsed and stored.
    keep = fetched.not_modified
    store.set_fetch_url(
        spec.url,
        target,
        etag=fetched.etag if keep else None,
        last_modified=fetched.last_modified if keep else None,
    )


def _page(entry: Entry, spec: FeedSpec, fetcher: FetcherLike) -> tuple[FetchResult | None, str | None]:
    """The entry's page, or None and why not (None: the feed's text is wanted)."""
    if not spec.full_text:
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


def page_article(entry: Entry, page: FetchResult | None, why_not: str | None) -> Article:
    """The entry's article from its page; without a usable page, from the feed's own text."""
    if page is None:
        return build_article(entry, None, why_not)
    try:
        extracted = extract_page(page.content, page.headers.get("content-type", ""), page.final_url)
    except ExtractError as exc:
        return build_article(entry, None, str(exc))
    except Exception as exc:  # hostile pages must not take the feed down with them
        log.exception("internal error extracting %s", entry.link)
        return build_article(entry, None, f"internal error: {type(exc).__name__}")
    return build_article(entry, extracted, None)


def score_article(article: Article, scorer: ScorerLike) -> Score | None:
    """The article's score; None (logged) when the scorer fails on it."""
    try:
        return scorer.score(
            Document(id=article.entry.id, title=article.title, text=article.text, language=article.language)
        )
    except Exception:
        log.exception("internal error scoring entry %s of %s", article.entry.id, article.entry.feed_url)
        return None


def analyse_entry(entry: Entry, page: FetchResult | None, why_not: str | None, scorer: ScorerLike) -> Analysed:
    """Extract and score one entry (the same function runs in worker processes)."""
    article = page_article(entry, page, why_not)
    return Analysed(article=article, score=score_article(article, scorer))


def _failed(
    spec: FeedSpec,
    store: Store,
    started: datetime,
    error: str,
    failures: int,
    retry_after: float | None,
    permanent: bool,
    rng: random.Random | None,
) -> FeedResult:
    log.warning("%s: %s", spec.name, error)
    try:
        store.record_fetch(
            spec.url,
            now=started,
            next_due=next_due(spec.interval, started, failures=failures + 1, retry_after=retry_after, rng=rng),
            error=error,
            status="gone" if permanent else None,
        )
    except StorageError as exc:
        error = f"{error} (and could not record it: {exc})"
    return FeedResult(url=spec.url, name=spec.name, error=error)
