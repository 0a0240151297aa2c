"""The PostgreSQL backend of the Storage protocol (psycopg 3, plain SQL), for many machines.

One connection per store, guarded by a lock (the poll's threads share it, as with SQLite);
every method is one transaction. Writes that several workers may race on are made safe by the
database, not by the lock: the article row is locked (SELECT … FOR UPDATE) before its match is
decided, inserts go through unique keys (ON CONFLICT), and digest items are unique per
(target, match, revision). The match lifecycle is the shared pure rule (store.lifecycle).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row

from ..errors import StorageError
from ..models import Article, FeedSpec, FeedState, FeedUpdate, Judgment, MatchItem, Score
from . import describe_location, pg_changes, pg_feeds, pg_listing, pg_retention, pg_saving, pg_story_engine
from . import pg_scorer_state as pg_state
from .lifecycle import rescore_outcome
from .pg_migrations import lock_migrations, migrate, schema_version
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
from .shared import (
    ARTICLES,
    AS_SENT,
    JUDGMENTS,
    MATCHES,
    MEMBER_PAGE,
    POSTGRES,
    digest_record,
    judgment,
    match_item,
    paged,
    stored_article,
    stored_match,
)

T = TypeVar("T")
Conn = psycopg.Connection[dict[str, Any]]
Row = dict[str, Any]



class PostgresStore:
    """Implements store.protocol.Storage on a PostgreSQL database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._where = describe_location(url)  # no password in messages
        self._lock = threading.RLock()
        try:
            # Times come back in UTC whatever the server's default time zone is.
            self.conn: Conn = psycopg.connect(url, autocommit=True, row_factory=dict_row, options="-c TimeZone=UTC")
        except psycopg.Error as exc:
            raise StorageError(f"{self._where}: cannot open database: {_first_line(exc)}") from None
        with self._tx() as conn:
            migrate(conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Conn]:
        with self._lock:
            try:
                with self.conn.transaction():
                    yield self.conn
            except psycopg.Error as exc:
                raise StorageError(f"{self._where}: {_first_line(exc)}") from None

    def batch(self) -> AbstractContextManager[None]:
        """Each write inside commits on its own, as outside (the jobs' fencing checks each one)."""
        return nullcontext()

    def _read(self, query: Callable[[Conn], T]) -> T:
        with self._lock:
            try:
                return query(self.conn)
            except psycopg.Error as exc:
                raise StorageError(f"{self._where}: {_first_line(exc)}") from None

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]:
        return self._read(lambda conn: conn.execute(sql.encode(), params).fetchall())

    @property
    def schema_version(self) -> int:
        """How many numbered migrations this database has had."""
        return self._read(schema_version)

    # --- feeds -------------------------------------------------------------------------------

    def sync_feeds(self, specs: Sequence[FeedSpec]) -> None:
        with self._tx() as conn:
            pg_feeds.sync(conn, specs)

    def ensure_feed(self, url: str, name: str, status: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO feeds (url, name, status) VALUES (%s, %s, %s) ON CONFLICT (url) DO NOTHING",
                [url, name, status],
            )

    def feed_state(self, url: str) -> FeedState:
        return self._read(lambda conn: pg_feeds.state(conn, url))

    def feed_statuses(self) -> list[FeedStatus]:
        return self._read(pg_feeds.statuses)

    def due_feeds(self, now: datetime) -> list[str]:
        found = self._rows(
            """SELECT url FROM feeds WHERE status = 'active' AND (next_due_at IS NULL OR next_due_at <= %s)
               ORDER BY next_due_at NULLS FIRST, id""",
            [now],
        )
        return [r["url"] for r in found]

    def known_entries(self, feed_url: str) -> dict[str, str]:
        found = self._rows(
            "SELECT a.entry_id, a.entry_hash FROM articles a JOIN feeds f ON f.id = a.feed_id WHERE f.url = %s",
            [feed_url],
        )
        return {r["entry_id"]: r["entry_hash"] for r in found}

    def apply(self, update: FeedUpdate) -> None:
        with self._tx() as conn:
            pg_feeds.apply(conn, update)

    # Beyond the protocol: the fencing token that makes a retried poll job's effects exactly once.

    def feed_version(self, url: str) -> int:
        return self._read(lambda conn: pg_feeds.version(conn, url))

    def claim_feed(self, url: str) -> int:
        """A poll job's token: every write made with it is refused once a later job claims."""
        with self._tx() as conn:
            return pg_feeds.claim(conn, url)

    def apply_at_version(self, update: FeedUpdate, version: int) -> None:
        """apply, or StaleWrite when the feed was claimed or written since `version`."""
        with self._tx() as conn:
            pg_feeds.apply_at(conn, update, version)

    @contextmanager
    def fenced(self, url: str, version: int) -> Iterator[None]:
        """The store's writes inside run in one transaction that first checks the token (StaleWrite)."""
        with self._tx() as conn:
            pg_feeds.check(conn, url, version)
            yield

    def install_once(self, probe_table: str, script: str) -> bool:
        """Run a third-party schema script (the job queue's) unless `probe_table` exists, under
        the migration lock so workers starting together install it once. True: installed now."""
        with self._tx() as conn:
            lock_migrations(conn)
            row = conn.execute("SELECT to_regclass(%s) AS found", [probe_table]).fetchone()
            if row is not None and row["found"] is not None:
                return False
            conn.execute(script.encode())  # no parameters: sent as it is, several statements
            return True

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
            return pg_saving.save(conn, feed_url, article, entry_hash, score, now, notify, shingles, bands)

    def versions(self, article_id: int) -> list[StoredVersion]:
        return self._read(lambda conn: pg_changes.versions(conn, article_id))

    def assign_story(self, article_id: int, story_id: int | None, now: datetime) -> int:
        with self._tx() as conn:
            return pg_changes.assign_story(conn, article_id, story_id, now)

    def assign_story_step(self, article_id: int, story_id: int | None, now: datetime, step: StoryStep) -> int:
        with self._tx() as conn:
            return pg_story_engine.assign_step(conn, article_id, story_id, now, step)

    def save_story_engine(self, stories: Mapping[int, str], frequencies: StoryFrequencies | None) -> None:
        with self._tx() as conn:
            pg_story_engine.save(conn, stories, frequencies)

    def load_story_engine(self, since: datetime, *, states: bool = True) -> StoryEngineState | None:
        return self._read(lambda conn: pg_story_engine.load(conn, since, states))

    def story_states(self, story_ids: Sequence[int]) -> dict[int, str]:
        return self._read(lambda conn: pg_story_engine.states(conn, story_ids))

    def story_members(self, since: datetime, page: int = MEMBER_PAGE) -> Iterator[StoryMember]:
        # one read per page, each on its own: no read stays open while the caller works
        start = self._read(lambda conn: pg_changes.window_start(conn, since))
        read = pg_changes.members_page
        return paged(start, lambda after: self._read(lambda conn: read(conn, since, after, page)), page)

    def story_candidates(self, terms: Sequence[str], since: datetime, limit: int) -> list[int]:
        return self._read(lambda conn: pg_changes.story_candidates(conn, list(terms), since, limit))

    def due_rechecks(self, now: datetime, limit: int = 100) -> list[Recheck]:
        return self._read(lambda conn: pg_changes.due_rechecks(conn, now, limit))

    def set_recheck(
        self, article_id: int, next_at: datetime | None, etag: str | None = None, last_modified: str | None = None
    ) -> None:
        with self._tx() as conn:
            pg_changes.set_recheck(conn, article_id, next_at, etag, last_modified)

    def rescore_article(self, article_id: int, score: Score, now: datetime) -> RescoreOutcome:
        with self._tx() as conn:
            row = conn.execute("SELECT copy_of FROM articles WHERE id = %s FOR UPDATE", [article_id]).fetchone()
            original = row["copy_of"] if row is not None else None
            if original is not None:
                # a copy has no match of its own: it can only make its original a match
                conn.execute("SELECT id FROM articles WHERE id = %s FOR UPDATE", [original])
                before = pg_saving.match_status(conn, int(original))
                change = pg_saving.copy_match(conn, int(original), score, now, changed=False)
            else:
                before = pg_saving.match_status(conn, article_id)
                change = pg_saving.save_score(conn, article_id, score, now, content_changed=False)
        return rescore_outcome(before, change.status if change is not None else before)

    def articles(self, *, since: datetime | None = None, after_id: int = 0) -> list[StoredArticle]:
        found = self._rows(
            f"""{ARTICLES} WHERE a.id > %(after)s
                AND (%(since)s::timestamptz IS NULL OR coalesce(a.published, a.first_seen) >= %(since)s)
                ORDER BY a.id""",
            {"after": after_id, "since": since},
        )
        return [stored_article(POSTGRES, r) for r in found]

    def find_article(self, ref: str) -> StoredArticle | None:
        if ref.isdigit():
            found = self._rows(f"{ARTICLES} WHERE a.id = %s", [int(ref)])
        else:
            found = self._rows(f"{ARTICLES} WHERE a.url = %s OR a.canonical_url = %s ORDER BY a.id LIMIT 1", [ref, ref])
        return stored_article(POSTGRES, found[0]) if found else None

    def search(self, query: str, limit: int = 20) -> list[StoredArticle]:
        # websearch_to_tsquery never raises on user input (quotes, OR, -word are understood)
        found = self._rows(
            f"""{ARTICLES}, websearch_to_tsquery('simple', %(q)s) AS q WHERE a.search @@ q
                ORDER BY ts_rank(a.search, q) DESC, a.id LIMIT %(limit)s""",
            {"q": query, "limit": limit},
        )
        return [stored_article(POSTGRES, r) for r in found]

    def match_for(self, article_id: int) -> StoredMatch | None:
        found = self._rows("SELECT * FROM matches WHERE article_id = %s", [article_id])
        if not found:
            return None
        return stored_match(POSTGRES, found[0])

    def match_page(self, query: MatchQuery) -> MatchPage:
        return self._read(lambda conn: pg_listing.match_page(conn, query))

    def match_item(self, article_id: int) -> MatchItem | None:
        return self._read(lambda conn: pg_listing.match_item(conn, article_id))

    def story_of(self, article_id: int) -> int | None:
        return self._read(lambda conn: pg_listing.story_of(conn, article_id))

    def story_articles(self, story_id: int) -> list[StoryMember]:
        return self._read(lambda conn: pg_listing.story_articles(conn, story_id))

    def prune(self, before: datetime, limit: int) -> Pruned:
        with self._tx() as conn:
            return pg_retention.prune(conn, before, limit)

    # --- matches for digests -----------------------------------------------------------------

    def top_matches(self, limit: int | None = None) -> list[MatchItem]:
        found = self._rows(f"{MATCHES} WHERE m.status = 'active' ORDER BY m.score DESC, m.id LIMIT %s", [limit])
        return self._enrich([match_item(POSTGRES, r) for r in found])

    def matches_since(self, since: datetime | None) -> list[MatchItem]:
        found = self._rows(
            f"""{MATCHES} WHERE m.status = 'active' AND (%(since)s::timestamptz IS NULL OR m.updated_at >= %(since)s)
                ORDER BY m.score DESC, m.id""",
            {"since": since},
        )
        return self._enrich([match_item(POSTGRES, r) for r in found])

    def undelivered(self, target: str) -> list[MatchItem]:
        found = self._rows(
            f"""{MATCHES} WHERE m.status = 'active' AND NOT EXISTS (
                  SELECT 1 FROM digest_items d WHERE d.target = %s AND d.match_id = m.id
                  AND d.revision = m.revision)
                ORDER BY m.score DESC, m.id""",
            [target],
        )
        return self._enrich([match_item(POSTGRES, r) for r in found], target)

    def _enrich(self, found: list[MatchItem], target: str | None = None, digest: int | None = None) -> list[MatchItem]:
        return self._read(lambda conn: pg_changes.enrich(conn, found, target, digest))

    def reserve_digest(self, target: str, items: Sequence[MatchItem], now: datetime) -> int:
        with self._tx() as conn:
            row = conn.execute(
                "INSERT INTO digests (target, created_at, status, count) VALUES (%s, %s, 'pending', %s) RETURNING id",
                [target, now, len(items)],
            ).fetchone()
            assert row is not None  # INSERT … RETURNING always returns the row
            # the matches' current revisions; one already reserved by a racing run is left to it
            conn.execute(
                """INSERT INTO digest_items (digest_id, target, match_id, revision)
                   SELECT %s, %s, id, revision FROM matches WHERE article_id = ANY(%s)
                   ON CONFLICT DO NOTHING""",
                [row["id"], target, [i.article_id for i in items]],
            )
        return int(row["id"])

    def pending_digests(self, target: str) -> list[PendingDigest]:
        query = "SELECT id, created_at FROM digests WHERE target = %s AND status = 'pending' ORDER BY id"
        return [
            PendingDigest(
                id=int(d["id"]),
                created_at=d["created_at"],
                items=tuple(self._enrich(self._digest_rows(int(d["id"])), target, int(d["id"]))),
            )
            for d in self._rows(query, [target])
        ]

    def digest_items(self, digest_id: int) -> tuple[MatchItem, ...]:
        target = self._rows("SELECT target FROM digests WHERE id = %s", [digest_id])
        if not target:
            return ()
        return tuple(self._enrich(self._digest_rows(digest_id), str(target[0]["target"]), digest_id))

    def _digest_rows(self, digest_id: int) -> list[MatchItem]:
        found = self._rows(
            f"""{AS_SENT} JOIN digest_items d ON d.match_id = m.id WHERE d.digest_id = %s
                ORDER BY m.score DESC, m.id""",
            [digest_id],
        )
        return [match_item(POSTGRES, r) for r in found]

    def finish_digest(self, digest_id: int, now: datetime, error: str | None = None) -> None:
        with self._tx() as conn:
            if error is None:
                conn.execute(
                    """UPDATE digests SET status = 'delivered', delivered_at = %s, attempts = attempts + 1,
                       last_error = NULL WHERE id = %s""",
                    [now, digest_id],
                )
            else:
                conn.execute(
                    "UPDATE digests SET attempts = attempts + 1, last_error = %s WHERE id = %s", [error, digest_id]
                )

    def digests(self) -> list[DigestRecord]:
        return [digest_record(POSTGRES, r) for r in self._rows("SELECT * FROM digests ORDER BY id")]

    # --- judgments and bookkeeping -------------------------------------------------------------

    def judge(self, article_id: int, relevant: bool, now: datetime) -> None:
        with self._tx() as conn:
            conn.execute(
                """INSERT INTO judgments (article_id, relevant, judged_at) VALUES (%s, %s, %s)
                   ON CONFLICT (article_id) DO UPDATE
                   SET relevant = excluded.relevant, judged_at = excluded.judged_at""",
                [article_id, relevant, now],
            )

    def judgments(self) -> list[Judgment]:
        return [judgment(r) for r in self._rows(JUDGMENTS)]

    def scorer_state(self, key: str) -> str | None:
        return self._read(lambda conn: pg_state.load(conn, key))

    def save_scorer_state(self, key: str, state: str, now: datetime) -> None:
        with self._tx() as conn:
            pg_state.save(conn, key, state, now)

    def set_value(self, key: str, value: str) -> None:
        with self._tx() as conn:
            conn.execute(
                """INSERT INTO service (key, value) VALUES (%s, %s)
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
                [key, value],
            )

    def get_value(self, key: str) -> str | None:
        found = self._rows("SELECT value FROM service WHERE key = %s", [key])
        return None if not found else str(found[0]["value"])

    def counts(self) -> Counts:
        [r] = self._rows(
            """SELECT (SELECT count(*) FROM articles) AS articles,
                      (SELECT count(*) FROM matches WHERE status = 'active') AS matches,
                      (SELECT count(*) FROM feeds) AS feeds"""
        )
        return Counts(articles=int(r["articles"]), matches=int(r["matches"]), feeds=int(r["feeds"]))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
