"""The SQLite backend of the Storage protocol: one file, WAL, one transaction per call (or per
`batch`: the calls inside it).

Thread-safe: the connection is shared by the poll's threads and guarded by a lock; writes use
BEGIN IMMEDIATE so a second process (backfill beside `monitor run`) queues on busy_timeout
instead of failing. The SQL itself lives in one module per entity.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from ..errors import StorageError
from ..models import Article, FeedSpec, FeedState, FeedUpdate, Judgment, MatchItem, Score
from . import (
    articles,
    digests,
    feeds,
    judgments,
    listing,
    matches,
    retention,
    saving,
    scorer_state,
    stories,
    story_engine,
    versions,
)
from .common import one
from .lifecycle import rescore_outcome
from .migrations import migrate, schema_version
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
from .shared import MEMBER_PAGE, paged

T = TypeVar("T")


class SqliteStore:
    """Implements store.protocol.Storage on one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            if str(path) != ":memory:":
                path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=60, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 60000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self.db = sqlite_utils.Database(conn)
            self._lock = threading.RLock()
            self._batched = False  # inside batch(): read and written only by the lock's holder
            with self._tx():
                migrate(self.db)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"{path}: cannot open database: {exc}") from None

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """The calls inside are one transaction: one commit (the WAL pages that several writes
        share, such as the copy band index's and the FTS index's, are written once, not per call),
        and a failure anywhere inside rolls all of them back. Holds the store (its lock) until
        then: other threads' calls wait."""
        with self._tx():
            outer, self._batched = self._batched, True  # a batch inside a batch is part of it
            try:
                yield
            finally:
                self._batched = outer

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE so concurrent writers queue on busy_timeout instead of failing."""
        with self._lock:
            conn = self.db.conn
            if self._batched:  # part of this thread's batch: it commits or rolls back
                try:
                    yield conn
                except sqlite3.Error as exc:
                    raise StorageError(f"{self.path}: {exc}") from None
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: {exc}") from None
            try:
                yield conn
            except sqlite3.Error as exc:
                _rollback(conn)
                raise StorageError(f"{self.path}: {exc}") from None
            except BaseException:
                _rollback(conn)
                raise
            else:
                try:
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    _rollback(conn)
                    raise StorageError(f"{self.path}: {exc}") from None

    def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                return query(self.db.conn)
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: {exc}") from None

    @property
    def schema_version(self) -> int:
        """How many numbered migrations this database has had."""
        return self._read(lambda _: schema_version(self.db))

    # --- feeds -------------------------------------------------------------------------------

    def sync_feeds(self, specs: Sequence[FeedSpec]) -> None:
        with self._tx() as conn:
            feeds.sync(conn, specs)

    def ensure_feed(self, url: str, name: str, status: str) -> None:
        with self._tx() as conn:
            feeds.ensure(conn, url, name, status)

    def feed_state(self, url: str) -> FeedState:
        return self._read(lambda conn: feeds.state(conn, url))

    def feed_statuses(self) -> list[FeedStatus]:
        return self._read(feeds.statuses)

    def due_feeds(self, now: datetime) -> list[str]:
        return self._read(lambda conn: feeds.due(conn, now))

    def known_entries(self, feed_url: str) -> dict[str, str]:
        return self._read(lambda conn: feeds.known_entries(conn, feed_url))

    def apply(self, update: FeedUpdate) -> None:
        with self._tx() as conn:
            feeds.apply(conn, update)

    # --- articles and matches ----------------------------------------------------------------

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
        with self._tx() as conn:
            return saving.save(conn, feed_url, article, entry_hash, score, now, notify, shingles, bands)

    def versions(self, article_id: int) -> list[StoredVersion]:
        return self._read(lambda conn: versions.listed(conn, article_id))

    def assign_story(self, article_id: int, story_id: int | None, now: datetime) -> int:
        with self._tx() as conn:
            return stories.assign(conn, article_id, story_id, now)

    def assign_story_step(self, article_id: int, story_id: int | None, now: datetime, step: StoryStep) -> int:
        with self._tx() as conn:
            return story_engine.assign_step(conn, article_id, story_id, now, step)

    def save_story_engine(self, stories: Mapping[int, str], frequencies: StoryFrequencies | None) -> None:
        with self._tx() as conn:
            story_engine.save(conn, stories, frequencies)

    def load_story_engine(self, since: datetime, *, states: bool = True) -> StoryEngineState | None:
        return self._read(lambda conn: story_engine.load(conn, since, states))

    def story_states(self, story_ids: Sequence[int]) -> dict[int, str]:
        return self._read(lambda conn: story_engine.states(conn, story_ids))

    def story_members(self, since: datetime, page: int = MEMBER_PAGE) -> Iterator[StoryMember]:
        # one read per page, each on its own: no read stays open while the caller works
        start = self._read(lambda conn: stories.window_start(conn, since))
        return paged(start, lambda after: self._read(lambda conn: stories.members_page(conn, since, after, page)), page)

    def story_candidates(self, terms: Sequence[str], since: datetime, limit: int) -> list[int]:
        return self._read(lambda conn: stories.candidates(conn, list(terms), since, limit))

    def due_rechecks(self, now: datetime, limit: int = 100) -> list[Recheck]:
        return self._read(lambda conn: articles.due_rechecks(conn, now, limit))

    def set_recheck(
        self, article_id: int, next_at: datetime | None, etag: str | None = None, last_modified: str | None = None
    ) -> None:
        with self._tx() as conn:
            articles.set_recheck(conn, article_id, next_at, etag, last_modified)

    def rescore_article(self, article_id: int, score: Score, now: datetime) -> RescoreOutcome:
        with self._tx() as conn:
            original = conn.execute("SELECT copy_of FROM articles WHERE id = ?", (article_id,)).fetchone()
            if original is not None and original[0] is not None:
                # a copy has no match of its own: it can only make its original a match
                before = matches.status(conn, int(original[0]))
                change = saving.copy_match(conn, int(original[0]), score, now, changed=False)
            else:
                before = matches.status(conn, article_id)
                change = matches.save_score(conn, article_id, score, now, content_changed=False)
        return rescore_outcome(before, change.status if change is not None else before)

    def articles(self, *, since: datetime | None = None, after_id: int = 0) -> list[StoredArticle]:
        return self._read(lambda conn: articles.listed(conn, since, after_id))

    def find_article(self, ref: str) -> StoredArticle | None:
        return self._read(lambda conn: articles.find(conn, ref))

    def search(self, query: str, limit: int = 20) -> list[StoredArticle]:
        return self._read(lambda conn: articles.search(conn, query, limit))

    def match_for(self, article_id: int) -> StoredMatch | None:
        return self._read(lambda conn: matches.stored(conn, article_id))

    def match_page(self, query: MatchQuery) -> MatchPage:
        return self._read(lambda conn: listing.match_page(conn, query))

    def match_item(self, article_id: int) -> MatchItem | None:
        return self._read(lambda conn: listing.match_item(conn, article_id))

    def story_of(self, article_id: int) -> int | None:
        return self._read(lambda conn: stories.story_of(conn, article_id))

    def story_articles(self, story_id: int) -> list[StoryMember]:
        return self._read(lambda conn: listing.story_articles(conn, story_id))

    def prune(self, before: datetime, limit: int) -> Pruned:
        with self._tx() as conn:
            return retention.prune(conn, before, limit)

    # --- matches for digests -----------------------------------------------------------------

    def top_matches(self, limit: int | None = None) -> list[MatchItem]:
        return self._read(lambda conn: matches.top(conn, limit))

    def matches_since(self, since: datetime | None) -> list[MatchItem]:
        return self._read(lambda conn: matches.since(conn, since))

    def undelivered(self, target: str) -> list[MatchItem]:
        return self._read(lambda conn: matches.undelivered(conn, target))

    def reserve_digest(self, target: str, items: Sequence[MatchItem], now: datetime) -> int:
        with self._tx() as conn:
            return digests.reserve(conn, target, items, now)

    def pending_digests(self, target: str) -> list[PendingDigest]:
        return self._read(lambda conn: digests.pending(conn, target))

    def finish_digest(self, digest_id: int, now: datetime, error: str | None = None) -> None:
        with self._tx() as conn:
            digests.finish(conn, digest_id, now, error)

    def digests(self) -> list[DigestRecord]:
        return self._read(digests.listed)

    def digest_items(self, digest_id: int) -> tuple[MatchItem, ...]:
        return self._read(lambda conn: digests.enriched(conn, digest_id))

    # --- judgments and bookkeeping -------------------------------------------------------------

    def judge(self, article_id: int, relevant: bool, now: datetime) -> None:
        with self._tx() as conn:
            judgments.judge(conn, article_id, relevant, now)

    def judgments(self) -> list[Judgment]:
        return self._read(judgments.listed)

    def scorer_state(self, key: str) -> str | None:
        return self._read(lambda conn: scorer_state.load(conn, key))

    def save_scorer_state(self, key: str, state: str, now: datetime) -> None:
        with self._tx() as conn:
            scorer_state.save(conn, key, state, now)

    def set_value(self, key: str, value: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO service (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def get_value(self, key: str) -> str | None:
        row = self._read(lambda conn: one(conn, "SELECT value FROM service WHERE key = ?", [key]))
        return None if row is None else str(row["value"])

    def counts(self) -> Counts:
        row = self._read(
            lambda conn: one(
                conn,
                """SELECT (SELECT count(*) FROM articles) AS articles,
                          (SELECT count(*) FROM matches WHERE status = 'active') AS matches,
                          (SELECT count(*) FROM feeds) AS feeds""",
            )
        )
        assert row is not None  # an aggregate always returns a row
        return Counts(articles=int(row["articles"]), matches=int(row["matches"]), feeds=int(row["feeds"]))


def _rollback(conn: sqlite3.Connection) -> None:
    """Some errors (a full disk, an interrupt) have already ended the transaction."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")
