"""The only module that speaks SQL: migrations, feeds, articles, matches, digests, judgments."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from .errors import StorageError
from .models import Article, Document, FeedSpec, Judgment, MatchItem, Score


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


def from_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- migrations: append only; each runs once, in order, inside one transaction ---------------


def _m1_initial(db: sqlite_utils.Database) -> None:
    db.table("feeds").create(
        {
            "id": int,
            "url": str,
            "name": str,
            "tags": str,
            "interval": float,
            "full_text": int,
            "title": str,
            "etag": str,
            "last_modified": str,
            "status": str,
            "last_fetch_at": str,
            "last_success_at": str,
            "next_due_at": str,
            "error_count": int,
            "last_error": str,
            "last_error_at": str,
            "last_warning": str,
            "entries": int,
        },
        pk="id",
        not_null={"url"},
        defaults={"status": "active", "error_count": 0, "entries": 0, "full_text": 1},
    )
    db.table("feeds").create_index(["url"], unique=True)
    db.table("articles").create(
        {
            "id": int,
            "feed_id": int,
            "entry_id": str,
            "entry_hash": str,
            "url": str,
            "canonical_url": str,
            "title": str,
            "published": str,
            "first_seen": str,
            "updated_at": str,
            "summary": str,
            "text": str,
            "content_hash": str,
            "extraction": str,
            "author": str,
            "language": str,
        },
        pk="id",
        foreign_keys=[("feed_id", "feeds", "id")],
    )
    db.table("articles").create_index(["feed_id", "entry_id"], unique=True)
    db.table("articles").create_index(["canonical_url"])
    db.table("articles").create_index(["first_seen"])
    db.table("articles").enable_fts(["title", "text"], create_triggers=True, tokenize="unicode61")
    db.table("matches").create(
        {
            "id": int,
            "article_id": int,
            "score": float,
            "explanation": str,
            "nearest_seed": str,
            "facets": str,
            "terms": str,
            "sentence": str,
            "matched_at": str,
            "updated_at": str,
            "revision": int,
            "status": str,
        },
        pk="id",
        foreign_keys=[("article_id", "articles", "id")],
        defaults={"revision": 1, "status": "active"},
    )
    db.table("matches").create_index(["article_id"], unique=True)
    db.table("digests").create(
        {
            "id": int,
            "target": str,
            "created_at": str,
            "status": str,
            "delivered_at": str,
            "count": int,
            "attempts": int,
            "last_error": str,
        },
        pk="id",
        defaults={"attempts": 0},
    )
    db.table("digest_items").create(
        {"digest_id": int, "target": str, "match_id": int, "revision": int},
        foreign_keys=[("digest_id", "digests", "id"), ("match_id", "matches", "id")],
    )
    # Exactly once per target: one row per (target, match, revision) across all digests.
    db.table("digest_items").create_index(["target", "match_id", "revision"], unique=True)
    db.table("judgments").create(
        {"article_id": int, "relevant": int, "judged_at": str},
        pk="article_id",
        foreign_keys=[("article_id", "articles", "id")],
    )
    db.table("service").create({"key": str, "value": str}, pk="key")


def _m2_fetch_url(db: sqlite_utils.Database) -> None:
    """Where the feed is fetched from after a permanent redirect (NULL: the configured url).

    The row stays keyed by the url in feeds.yaml (the user's source of truth)."""
    db.execute("ALTER TABLE feeds ADD COLUMN fetch_url TEXT")


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (_m1_initial, _m2_fetch_url)


@dataclass(frozen=True)
class FeedState:
    id: int
    url: str
    name: str
    etag: str | None
    last_modified: str | None
    status: str
    error_count: int
    next_due_at: datetime | None
    last_fetch_at: datetime | None
    last_error: str | None
    entries: int
    fetch_url: str | None = None  # set by a permanent redirect; None: fetch `url`


@dataclass(frozen=True)
class StoredArticle:
    id: int
    feed: str
    url: str | None
    title: str
    text: str
    published: datetime | None
    first_seen: datetime
    language: str | None

    def document(self) -> Document:
        return Document(id=str(self.id), title=self.title, text=self.text, language=self.language)


class Store:
    """One SQLite file. Thread-safe: writes are serialised by a lock, each in one transaction."""

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
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"{path}: cannot open database: {exc}") from None

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE so concurrent writers queue on busy_timeout instead of failing."""
        with self._lock:
            conn = self.db.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: {exc}") from None
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                try:
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    conn.execute("ROLLBACK")
                    raise StorageError(f"{self.path}: {exc}") from None

    def _query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            try:
                return list(self.db.query(sql, params))
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: {exc}") from None

    def _migrate(self) -> None:
        with self._tx() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
            done = {row[0] for row in conn.execute("SELECT version FROM migrations")}
            for version, migration in enumerate(MIGRATIONS, start=1):
                if version not in done:
                    migration(self.db)
                    conn.execute("INSERT INTO migrations VALUES (?, ?)", (version, iso(datetime.now(UTC))))

    @property
    def schema_version(self) -> int:
        return int(self._query("SELECT max(version) AS v FROM migrations")[0]["v"] or 0)

    # --- feeds -------------------------------------------------------------------------------

    def sync_feeds(self, specs: Sequence[FeedSpec]) -> None:
        """Make the feeds table follow feeds.yaml (fetch state of known feeds is kept)."""
        with self._tx() as conn:
            for spec in specs:
                conn.execute(
                    """INSERT INTO feeds (url, name, tags, interval, full_text) VALUES (?, ?, ?, ?, ?)
                       ON CONFLICT(url) DO UPDATE SET name = excluded.name, tags = excluded.tags,
                       interval = excluded.interval, full_text = excluded.full_text""",
                    (spec.url, spec.name, json.dumps(list(spec.tags)), spec.interval, int(spec.full_text)),
                )

    def ensure_feed(self, url: str, name: str, status: str) -> None:
        """A feed row that is not in feeds.yaml (e.g. backfilled URLs); never polled."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO feeds (url, name, tags, status) VALUES (?, ?, '[]', ?) ON CONFLICT(url) DO NOTHING",
                (url, name, status),
            )

    def feed_state(self, url: str) -> FeedState:
        rows = self._query("SELECT * FROM feeds WHERE url = ?", [url])
        if not rows:
            raise StorageError(f"unknown feed {url}")
        r = rows[0]
        return FeedState(
            id=r["id"],
            url=r["url"],
            name=r["name"] or r["url"],
            etag=r["etag"],
            last_modified=r["last_modified"],
            status=r["status"] or "active",
            error_count=r["error_count"] or 0,
            next_due_at=from_iso(r["next_due_at"]),
            last_fetch_at=from_iso(r["last_fetch_at"]),
            last_error=r["last_error"],
            entries=r["entries"] or 0,
            fetch_url=r.get("fetch_url"),
        )

    def feed_states(self) -> list[dict[str, Any]]:
        return self._query(
            """SELECT f.*, (SELECT count(*) FROM articles a JOIN matches m ON m.article_id = a.id
                            WHERE a.feed_id = f.id AND m.status = 'active') AS matches
               FROM feeds f ORDER BY f.id"""
        )

    def record_fetch(
        self,
        url: str,
        *,
        now: datetime,
        next_due: datetime,
        error: str | None = None,
        warning: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        refresh_validators: bool = False,
        status: str | None = None,
        title: str | None = None,
    ) -> None:
        sets = ["last_fetch_at = :now", "next_due_at = :due"]
        params: dict[str, Any] = {"url": url, "now": iso(now), "due": iso(next_due)}
        if error is None:
            sets += ["last_success_at = :now", "error_count = 0", "last_error = NULL", "last_warning = :warning"]
            params["warning"] = warning
        else:
            sets += ["error_count = error_count + 1", "last_error = :error", "last_error_at = :now"]
            params["error"] = error
        if refresh_validators:  # every 200 refreshes both, each independently (None clears)
            sets += ["etag = :etag", "last_modified = :lm"]
            params.update(etag=etag, lm=last_modified)
        if status is not None:
            sets.append("status = :status")
            params["status"] = status
        if title:
            sets.append("title = :title")
            params["title"] = title
        with self._tx() as conn:
            conn.execute(f"UPDATE feeds SET {', '.join(sets)} WHERE url = :url", params)

    def set_fetch_url(
        self, url: str, fetch_url: str | None, *, etag: str | None = None, last_modified: str | None = None
    ) -> None:
        """A permanent redirect moved the feed configured as `url` to `fetch_url` (None: back to
        `url`). Validators belong to the fetched URL, so they are replaced in the same write."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE feeds SET fetch_url = ?, etag = ?, last_modified = ? WHERE url = ?",
                (fetch_url, etag, last_modified, url),
            )

    def move_feed(self, old: str, new: str) -> None:
        """A 301 moved a feed: keep its history under the new URL."""
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM feeds WHERE url = ?", (new,)).fetchone():
                return
            conn.execute("UPDATE feeds SET url = ? WHERE url = ?", (new, old))

    def due_feeds(self, now: datetime) -> list[str]:
        rows = self._query(
            """SELECT url FROM feeds WHERE status = 'active'
               AND (next_due_at IS NULL OR next_due_at <= ?) ORDER BY next_due_at""",
            [iso(now)],
        )
        return [r["url"] for r in rows]

    # --- articles and matches ----------------------------------------------------------------

    def known_entries(self, feed_url: str) -> dict[str, str]:
        """entry id → entry hash for every stored entry of a feed."""
        rows = self._query(
            """SELECT a.entry_id, a.entry_hash FROM articles a JOIN feeds f ON f.id = a.feed_id
               WHERE f.url = ?""",
            [feed_url],
        )
        return {r["entry_id"]: r["entry_hash"] for r in rows}

    def save_article(
        self, feed_url: str, article: Article, entry_hash: str, score: Score, now: datetime
    ) -> tuple[int, bool]:
        """Insert or update an article and its match; returns (article id, is a new or changed match)."""
        e = article.entry
        with self._tx() as conn:
            feed = conn.execute("SELECT id FROM feeds WHERE url = ?", (feed_url,)).fetchone()
            if feed is None:
                raise StorageError(f"unknown feed {feed_url}")
            values = {
                "feed_id": feed[0],
                "entry_id": e.id,
                "entry_hash": entry_hash,
                "url": article.url,
                "canonical_url": article.canonical_url,
                "title": article.title,
                "published": iso(article.published),
                "now": iso(now),
                "summary": e.summary,
                "text": article.text,
                "content_hash": article.content_hash,
                "extraction": article.extraction,
                "author": article.author,
                "language": article.language,
            }
            row = conn.execute(
                "SELECT id, content_hash FROM articles WHERE feed_id = :feed_id AND entry_id = :entry_id",
                values,
            ).fetchone()
            if row is None:
                cur = conn.execute(
                    """INSERT INTO articles (feed_id, entry_id, entry_hash, url, canonical_url, title,
                       published, first_seen, updated_at, summary, text, content_hash, extraction,
                       author, language) VALUES (:feed_id, :entry_id, :entry_hash, :url, :canonical_url,
                       :title, :published, :now, :now, :summary, :text, :content_hash, :extraction,
                       :author, :language)""",
                    values,
                )
                article_id = int(cur.lastrowid or 0)
                conn.execute("UPDATE feeds SET entries = entries + 1 WHERE id = ?", (feed[0],))
                changed = False
            else:
                article_id = int(row[0])
                changed = row[1] != article.content_hash
                conn.execute(
                    """UPDATE articles SET entry_hash = :entry_hash, url = :url,
                       canonical_url = :canonical_url, title = :title, published = :published,
                       updated_at = :now, summary = :summary, text = :text,
                       content_hash = :content_hash, extraction = :extraction WHERE id = :id""",
                    {**values, "id": article_id},
                )
            return article_id, self._save_score(conn, article_id, score, now, changed)

    def _save_score(
        self, conn: sqlite3.Connection, article_id: int, score: Score, now: datetime, changed: bool
    ) -> bool:
        existing = conn.execute("SELECT id, status FROM matches WHERE article_id = ?", (article_id,)).fetchone()
        fields = {
            "article_id": article_id,
            "score": score.value,
            "explanation": score.explanation(),
            "nearest_seed": score.nearest_seed,
            "facets": json.dumps(list(score.facets)),
            "terms": json.dumps(list(score.terms)),
            "sentence": score.sentence,
            "now": iso(now),
        }
        if existing is None:
            if not score.match:
                return False
            conn.execute(
                """INSERT INTO matches (article_id, score, explanation, nearest_seed, facets, terms,
                   sentence, matched_at, updated_at) VALUES (:article_id, :score, :explanation,
                   :nearest_seed, :facets, :terms, :sentence, :now, :now)""",
                fields,
            )
            return True
        status = "active" if score.match else "demoted"
        reactivated = status == "active" and existing[1] != "active"
        bump = 1 if (changed and score.match) or reactivated else 0
        conn.execute(
            """UPDATE matches SET score = :score, explanation = :explanation,
               nearest_seed = :nearest_seed, facets = :facets, terms = :terms,
               sentence = :sentence, updated_at = :now, status = :status,
               revision = revision + :bump WHERE id = :id""",
            {**fields, "status": status, "bump": bump, "id": existing[0]},
        )
        return bool(bump)

    def rescore_article(self, article_id: int, score: Score, now: datetime) -> str:
        """Apply a new score to a stored article: 'new', 'demoted', 'kept' or 'none'."""
        with self._tx() as conn:
            before = conn.execute("SELECT status FROM matches WHERE article_id = ?", (article_id,)).fetchone()
            self._save_score(conn, article_id, score, now, changed=False)
            after = conn.execute("SELECT status FROM matches WHERE article_id = ?", (article_id,)).fetchone()
        was = before is not None and before[0] == "active"
        now_active = after is not None and after[0] == "active"
        if now_active and not was:
            return "new"
        if was and not now_active:
            return "demoted"
        return "kept" if now_active else "none"

    def articles(self, *, since: datetime | None = None, after_id: int = 0) -> list[StoredArticle]:
        rows = self._query(
            """SELECT a.*, coalesce(f.name, f.url) AS feed FROM articles a JOIN feeds f ON f.id = a.feed_id
               WHERE a.id > ? AND (? IS NULL OR coalesce(a.published, a.first_seen) >= ?)
               ORDER BY a.id""",
            [after_id, iso(since), iso(since)],
        )
        return [_stored(r) for r in rows]

    def find_article(self, ref: str) -> StoredArticle | None:
        if ref.isdigit():
            rows = self._query(
                "SELECT a.*, coalesce(f.name, f.url) AS feed FROM articles a"
                " JOIN feeds f ON f.id = a.feed_id WHERE a.id = ?",
                [int(ref)],
            )
        else:
            rows = self._query(
                """SELECT a.*, coalesce(f.name, f.url) AS feed FROM articles a JOIN feeds f ON f.id = a.feed_id
                   WHERE a.url = ? OR a.canonical_url = ? ORDER BY a.id LIMIT 1""",
                [ref, ref],
            )
        return _stored(rows[0]) if rows else None

    def match_for(self, article_id: int) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM matches WHERE article_id = ?", [article_id])
        return rows[0] if rows else None

    def counts(self) -> dict[str, int]:
        row = self._query(
            """SELECT (SELECT count(*) FROM articles) AS articles,
                      (SELECT count(*) FROM matches WHERE status = 'active') AS matches,
                      (SELECT count(*) FROM feeds) AS feeds"""
        )[0]
        return {k: int(v) for k, v in row.items()}

    def search(self, query: str, limit: int = 20) -> list[StoredArticle]:
        rows = self._query(
            """SELECT a.*, coalesce(f.name, f.url) AS feed FROM articles_fts
               JOIN articles a ON a.id = articles_fts.rowid JOIN feeds f ON f.id = a.feed_id
               WHERE articles_fts MATCH ? ORDER BY rank LIMIT ?""",
            [query, limit],
        )
        return [_stored(r) for r in rows]

    # --- matches for digests -----------------------------------------------------------------

    _MATCH_SELECT = """SELECT m.id AS match_id, m.revision, m.score, m.explanation, m.nearest_seed,
        m.facets, m.terms, m.sentence, m.matched_at, a.id AS article_id, a.url, a.title, a.published,
        a.first_seen, coalesce(f.name, f.url) AS feed
        FROM matches m JOIN articles a ON a.id = m.article_id JOIN feeds f ON f.id = a.feed_id"""

    def top_matches(self, limit: int | None = None) -> list[MatchItem]:
        rows = self._query(
            f"{self._MATCH_SELECT} WHERE m.status = 'active' ORDER BY m.score DESC, m.id LIMIT ?",
            [limit if limit is not None else -1],
        )
        return [_match_item(r) for r in rows]

    def matches_since(self, since: datetime | None) -> list[MatchItem]:
        rows = self._query(
            f"""{self._MATCH_SELECT} WHERE m.status = 'active' AND (? IS NULL OR m.updated_at >= ?)
                ORDER BY m.score DESC, m.id""",
            [iso(since), iso(since)],
        )
        return [_match_item(r) for r in rows]

    def undelivered(self, target: str) -> list[MatchItem]:
        """Active matches (at their current revision) not yet in any digest for this target."""
        rows = self._query(
            f"""{self._MATCH_SELECT} WHERE m.status = 'active' AND NOT EXISTS (
                  SELECT 1 FROM digest_items d WHERE d.target = ? AND d.match_id = m.id
                  AND d.revision = m.revision)
                ORDER BY m.score DESC, m.id""",
            [target],
        )
        return [_match_item(r) for r in rows]

    def reserve_digest(self, target: str, items: Sequence[MatchItem], now: datetime) -> int:
        """Record a pending digest holding these matches; they are no longer 'undelivered'."""
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO digests (target, created_at, status, count) VALUES (?, ?, 'pending', ?)",
                (target, iso(now), len(items)),
            )
            digest_id = int(cur.lastrowid or 0)
            for item in items:
                row = conn.execute("SELECT revision FROM matches WHERE article_id = ?", (item.article_id,)).fetchone()
                conn.execute(
                    """INSERT OR IGNORE INTO digest_items (digest_id, target, match_id, revision)
                       SELECT ?, ?, id, ? FROM matches WHERE article_id = ?""",
                    (digest_id, target, row[0], item.article_id),
                )
            return digest_id

    def pending_digests(self, target: str) -> list[tuple[int, datetime, list[MatchItem]]]:
        out = []
        for d in self._query(
            "SELECT id, created_at FROM digests WHERE target = ? AND status = 'pending' ORDER BY id", [target]
        ):
            rows = self._query(
                f"""{self._MATCH_SELECT} JOIN digest_items d ON d.match_id = m.id
                    WHERE d.digest_id = ? ORDER BY m.score DESC, m.id""",
                [d["id"]],
            )
            created = from_iso(d["created_at"]) or datetime.now(UTC)
            out.append((int(d["id"]), created, [_match_item(r) for r in rows]))
        return out

    def finish_digest(self, digest_id: int, now: datetime, error: str | None = None) -> None:
        with self._tx() as conn:
            if error is None:
                conn.execute(
                    "UPDATE digests SET status = 'delivered', delivered_at = ?, attempts = attempts + 1,"
                    " last_error = NULL WHERE id = ?",
                    (iso(now), digest_id),
                )
            else:
                conn.execute(
                    "UPDATE digests SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                    (error, digest_id),
                )

    def digests(self) -> list[dict[str, Any]]:
        return self._query("SELECT * FROM digests ORDER BY id")

    # --- judgments (feedback) ----------------------------------------------------------------

    def judge(self, article_id: int, relevant: bool, now: datetime) -> None:
        with self._tx() as conn:
            conn.execute(
                """INSERT INTO judgments (article_id, relevant, judged_at) VALUES (?, ?, ?)
                   ON CONFLICT(article_id) DO UPDATE SET relevant = excluded.relevant,
                   judged_at = excluded.judged_at""",
                (article_id, int(relevant), iso(now)),
            )

    def judgments(self) -> list[Judgment]:
        rows = self._query(
            """SELECT a.id, a.title, a.text, a.language, j.relevant FROM judgments j
               JOIN articles a ON a.id = j.article_id ORDER BY j.judged_at, a.id"""
        )
        return [
            Judgment(
                document=Document(
                    id=str(r["id"]), title=r["title"] or "", text=r["text"] or "", language=r["language"]
                ),
                relevant=bool(r["relevant"]),
            )
            for r in rows
        ]

    # --- service bookkeeping -----------------------------------------------------------------

    def set_value(self, key: str, value: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO service (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def get_value(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM service WHERE key = ?", [key])
        return rows[0]["value"] if rows else None

    def integrity_check(self) -> str:
        return str(self._query("PRAGMA integrity_check")[0]["integrity_check"])


def _stored(r: dict[str, Any]) -> StoredArticle:
    return StoredArticle(
        id=r["id"],
        feed=r["feed"],
        url=r["url"],
        title=r["title"] or "",
        text=r["text"] or "",
        published=from_iso(r["published"]),
        first_seen=from_iso(r["first_seen"]) or datetime.now(UTC),
        language=r["language"],
    )


def _match_item(r: dict[str, Any]) -> MatchItem:
    return MatchItem(
        article_id=r["article_id"],
        url=r["url"] or "",
        title=r["title"] or "(untitled)",
        feed=r["feed"],
        published=from_iso(r["published"]),
        first_seen=from_iso(r["first_seen"]) or datetime.now(UTC),
        score=float(r["score"]),
        explanation=r["explanation"] or "",
        sentence=r["sentence"] or "",
        nearest_seed=r["nearest_seed"] or "",
        facets=tuple(json.loads(r["facets"] or "[]")),
        terms=tuple(json.loads(r["terms"] or "[]")),
        changed=int(r["revision"] or 1) > 1,
    )
