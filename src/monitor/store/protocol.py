"""The storage seam: what the pipeline, digests, delivery, feedback and status need.

Consumers depend on these protocols only; `store.sqlite` implements them today and a second
backend (PostgreSQL) implements the same methods and runs the same test suite
(tests/test_storage.py). Every method is one transaction; times are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from ..models import Article, FeedSpec, FeedState, FeedUpdate, Judgment, MatchItem, Score
from .records import (
    Counts,
    DigestRecord,
    FeedStatus,
    MatchPage,
    MatchQuery,
    PendingDigest,
    Pruned,
    Recheck,
    RescoreOutcome,
    SavedArticle,
    StoredArticle,
    StoredMatch,
    StoredVersion,
    StoryEngineState,
    StoryFrequencies,
    StoryMember,
    StoryStep,
)
from .shared import MEMBER_PAGE


class FeedStorage(Protocol):
    """Feeds and their fetch state (the pipeline and the service's tick)."""

    def sync_feeds(self, specs: Sequence[FeedSpec]) -> None:
        """Make the stored feeds follow feeds.yaml; fetch state of known feeds is kept."""

    def ensure_feed(self, url: str, name: str, status: str) -> None:
        """A feed that is not in feeds.yaml (e.g. backfilled URLs); never polled."""

    def feed_state(self, url: str) -> FeedState:
        """StorageError for an unknown feed."""
        ...

    def feed_statuses(self) -> list[FeedStatus]: ...

    def due_feeds(self, now: datetime) -> list[str]:
        """URLs of active feeds due at `now`, the most overdue first."""
        ...

    def known_entries(self, feed_url: str) -> dict[str, str]:
        """entry id → entry hash for every stored entry of a feed."""
        ...

    def apply(self, update: FeedUpdate) -> None:
        """Write a poll's decision about the feed (fetch record, redirect) in one transaction."""

    def batch(self) -> AbstractContextManager[None]:
        """The writes made inside (by the thread that entered it) as one transaction, committed
        on leaving; any exception rolls all of them back. A backend may instead commit each
        write on its own, as outside (PostgreSQL does)."""
        ...


class ArticleStorage(Protocol):
    """Articles and their matches (pipeline, backfill, feedback, explain)."""

    def save_article(
        self,
        feed_url: str,
        article: Article,
        entry_hash: str,
        score: Score,
        now: datetime,
        *,
        notify: str = "material",
        shingles: frozenset[int] | None = None,
        bands: tuple[str, ...] | None = None,
    ) -> SavedArticle:
        """Insert or update an article, keep a new text as a version, find the article it is a
        copy of, and apply the match lifecycle (a material version, or any with notify="all",
        is a new revision). `shingles`: changes.copies.shingles(article.text), and `bands`: their
        band_keys(signature(...)), when computed already (by a worker process)."""
        ...

    def versions(self, article_id: int) -> list[StoredVersion]:
        """Every version of an article's text with its verdict, oldest first."""
        ...

    def assign_story(self, article_id: int, story_id: int | None, now: datetime) -> int:
        """Put a new article (and its copies) in a story (None: a new one); returns the story."""
        ...

    def story_members(self, since: datetime, page: int = MEMBER_PAGE) -> Iterator[StoryMember]:
        """Articles with a story first seen since `since`, in arrival order (copies excluded),
        read `page` at a time as the iterator is consumed (the window's texts at once would set
        a replaying service's peak memory); each page is its own read, not one snapshot."""
        ...

    def story_candidates(self, terms: Sequence[str], since: datetime, limit: int) -> list[int]:
        """Stories grown since `since` that share terms with the query, best (BM25) first."""
        ...

    def assign_story_step(self, article_id: int, story_id: int | None, now: datetime, step: StoryStep) -> int:
        """assign_story, and in the same transaction the story's engine state and the article's
        document frequencies (a crash keeps the stored engine and the stories consistent)."""
        ...

    def save_story_engine(self, stories: Mapping[int, str], frequencies: StoryFrequencies | None) -> None:
        """Write these stories' engine states (story id -> JSON) and, unless None, replace the
        engine's document frequencies; one transaction."""
        ...

    def load_story_engine(self, since: datetime, *, states: bool = True) -> StoryEngineState | None:
        """The stored engine with the stories grown since `since`; None before the first save.
        With states=False every story's state is None: read them in chunks with story_states
        (a busy window's states together are over 100 MB)."""
        ...

    def story_states(self, story_ids: Sequence[int]) -> dict[int, str]:
        """The stored engine state of each of these stories that has one."""
        ...

    def due_rechecks(self, now: datetime, limit: int = 100) -> list[Recheck]:
        """Reported articles whose page is due to be read again, most overdue first."""
        ...

    def set_recheck(
        self, article_id: int, next_at: datetime | None, etag: str | None = None, last_modified: str | None = None
    ) -> None:
        """When to read the page again (None: not on a schedule), and its validators."""

    def rescore_article(self, article_id: int, score: Score, now: datetime) -> RescoreOutcome: ...

    def articles(self, *, since: datetime | None = None, after_id: int = 0) -> list[StoredArticle]:
        """Articles in id order, after `after_id`, published (or first seen) since `since`."""
        ...

    def find_article(self, ref: str) -> StoredArticle | None:
        """By id (digits) or by URL / canonical URL."""
        ...

    def search(self, query: str, limit: int = 20) -> list[StoredArticle]:
        """Full-text search over titles and texts, best first."""
        ...

    def match_for(self, article_id: int) -> StoredMatch | None: ...

    def match_page(self, query: MatchQuery) -> MatchPage:
        """One page of the filtered match list, best first (filters and paging in the store)."""
        ...

    def match_item(self, article_id: int) -> MatchItem | None:
        """An article's match (active or demoted) as a list shows it, or None."""
        ...

    def story_of(self, article_id: int) -> int | None: ...

    def story_articles(self, story_id: int) -> list[StoryMember]:
        """One story's articles (copies excluded) in arrival order."""
        ...

    def prune(self, before: datetime, limit: int) -> Pruned:
        """Retention: drop the text of up to `limit` articles first seen before `before` that
        were never reported nor judged, keeping their identity (store/retention.py)."""
        ...


class DigestStorage(Protocol):
    """Matches for digests, and exactly-once delivery per target."""

    def top_matches(self, limit: int | None = None) -> list[MatchItem]: ...

    def matches_since(self, since: datetime | None) -> list[MatchItem]:
        """Active matches updated since `since` (None: all), best first."""
        ...

    def undelivered(self, target: str) -> list[MatchItem]:
        """Active matches (at their current revision) in no digest for this target yet."""
        ...

    def reserve_digest(self, target: str, items: Sequence[MatchItem], now: datetime) -> int:
        """Record a pending digest holding these matches; they are no longer undelivered."""
        ...

    def pending_digests(self, target: str) -> list[PendingDigest]: ...

    def finish_digest(self, digest_id: int, now: datetime, error: str | None = None) -> None:
        """Delivered (error None), or one more failed attempt (stays pending)."""

    def digests(self) -> list[DigestRecord]: ...

    def digest_items(self, digest_id: int) -> tuple[MatchItem, ...]:
        """The matches a recorded digest holds, best first, with their copies, story and reported
        change as the digest showed them (empty for an unknown id)."""
        ...


class JudgmentStorage(Protocol):
    """An analyst's verdicts (feedback); the latest verdict on an article wins."""

    def judge(self, article_id: int, relevant: bool, now: datetime) -> None: ...

    def judgments(self) -> list[Judgment]: ...

    def scorer_state(self, key: str) -> str | None:
        """The scorer state learnt from the judgments saved under `key` (score/learned.py's JSON),
        or None: none saved, or saved under another key (stale)."""
        ...

    def save_scorer_state(self, key: str, state: str, now: datetime) -> None:
        """Keep this learned scorer state under `key`, replacing the one kept before."""


class ServiceStorage(Protocol):
    """Small bookkeeping: heartbeat, resume points, totals."""

    def set_value(self, key: str, value: str) -> None: ...

    def get_value(self, key: str) -> str | None: ...

    def counts(self) -> Counts: ...


class Storage(FeedStorage, ArticleStorage, DigestStorage, JudgmentStorage, ServiceStorage, Protocol):
    """The one storage seam: everything above, and closing."""

    def close(self) -> None: ...
