"""Re-checks: reported articles are read again on an age-based schedule (settings.changes.recheck,
after first seen) with a conditional GET, by each `monitor poll` and by the service's tick.

A 304, a fetch error (a 500, a timeout), a page that no longer extracts (blank, too short) only
moves the article to its next re-check: none of them is a version. A page that reads is saved
like a changed feed entry (store: a new distinct text is a version; a material one is an update).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from .changes.track import next_check
from .errors import ExtractError, FetchError
from .extract import build_article, extract_page
from .models import ChangeSettings, Document, Entry, FetchResult, Score

if TYPE_CHECKING:
    from .store.protocol import Storage
    from .store.records import Recheck

log = logging.getLogger("monitor.recheck")

MAX_PER_PASS = 200  # re-checks per poll; the rest stay due for the next one


class PageFetcher(Protocol):
    def fetch_page(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult: ...


class ScorerLike(Protocol):
    def score(self, doc: Document) -> Score: ...


@dataclass(frozen=True)
class RecheckResult:
    checked: int = 0
    not_modified: int = 0
    failed: int = 0  # fetch errors and pages that did not extract: nothing stored
    versions: int = 0  # new versions stored (material or minor)
    updates: int = 0  # material versions (news for the digest)


def schedule_after_save(
    store: Storage, article_id: int, first_seen: datetime, now: datetime, changes: ChangeSettings
) -> None:
    """A reported article gets its next re-check (the first schedule point after now)."""
    store.set_recheck(article_id, next_check(first_seen, now, changes.recheck))


def recheck_due(
    store: Storage,
    fetcher: PageFetcher,
    scorer: ScorerLike,
    now: Callable[[], datetime],
    changes: ChangeSettings,
    should_stop: Callable[[], bool] = lambda: False,
) -> RecheckResult:
    """Re-read every reported article whose re-check is due; each is its own transaction."""
    counts = {"checked": 0, "not_modified": 0, "failed": 0, "versions": 0, "updates": 0}
    for due in store.due_rechecks(now(), MAX_PER_PASS):
        if should_stop():
            break
        counts["checked"] += 1
        outcome, page = _one(store, fetcher, scorer, now, due, changes.notify)
        if outcome in counts:
            counts[outcome] += 1
        counts["versions"] += int(outcome == "updates")
        validators = (page.etag, page.last_modified) if page is not None else (None, None)
        store.set_recheck(due.article_id, next_check(due.first_seen, now(), changes.recheck), *validators)
    return RecheckResult(**counts)


def _one(
    store: Storage,
    fetcher: PageFetcher,
    scorer: ScorerLike,
    now: Callable[[], datetime],
    due: Recheck,
    notify: str,
) -> tuple[str, FetchResult | None]:
    try:
        page = fetcher.fetch_page(due.url, etag=due.etag, last_modified=due.last_modified)
    except FetchError as exc:
        log.info("re-check of %s: %s", due.url, exc)
        return "failed", None
    if page.not_modified:
        return "not_modified", page
    try:
        text = extract_page(page.content, page.headers.get("content-type", ""), page.final_url)
    except ExtractError as exc:
        log.info("re-check of %s: %s", due.url, exc)
        return "failed", page
    entry = Entry(
        id=due.entry_id,
        feed_url=due.feed_url,
        title=due.title,
        link=due.url,
        published=due.published,
        summary=due.summary,
        content="",
    )
    article = build_article(entry, text, None)
    try:
        score = scorer.score(Document(id=entry.id, title=article.title, text=article.text, language=article.language))
    except Exception:  # a scorer bug must not stop the other re-checks
        log.exception("internal error scoring re-check of %s", due.url)
        return "failed", page
    # the feed entry's hash as stored: a re-check never makes the next poll re-process the entry
    saved = store.save_article(due.feed_url, article, due.entry_hash, score, now(), notify=notify)
    if not saved.version:
        return "unchanged", page
    return ("updates" if saved.material else "versions"), page
