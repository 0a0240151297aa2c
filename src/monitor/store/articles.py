"""SQL for articles: insert or update a processed entry, list, find, full-text search."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from ..errors import StorageError
from ..models import Article
from .common import iso, one, rows
from .copies import Identity
from .records import Recheck, StoredArticle
from .shared import (
    ARTICLES,
    INSERT_ARTICLE,
    SQLITE,
    UPDATE_ARTICLE,
    article_values,
    new_article_values,
    recheck,
    stored_article,
)


def feed_id(conn: sqlite3.Connection, feed_url: str) -> int:
    feed = conn.execute("SELECT id FROM feeds WHERE url = ?", (feed_url,)).fetchone()
    if feed is None:
        raise StorageError(f"unknown feed {feed_url}")
    return int(feed[0])


def insert(
    conn: sqlite3.Connection, feed: int, article: Article, entry_hash: str, now: datetime, identity: Identity
) -> int:
    """A new entry's row, with its identity across feeds; a copy is in its original's story."""
    values = new_article_values(SQLITE, feed, article, entry_hash, now, identity)
    cur = conn.execute(SQLITE.sql(INSERT_ARTICLE), values)
    conn.execute("UPDATE feeds SET entries = entries + 1 WHERE id = ?", (feed,))
    return int(cur.lastrowid or 0)


def update(
    conn: sqlite3.Connection, article_id: int, feed: int, article: Article, entry_hash: str, now: datetime
) -> None:
    """A stored entry's new reading (its feed, identity and first sighting stay)."""
    conn.execute(
        SQLITE.sql(UPDATE_ARTICLE), {**article_values(SQLITE, feed, article, entry_hash, now), "id": article_id}
    )


def previous(conn: sqlite3.Connection, feed_url: str, entry_id: str) -> sqlite3.Row | None:
    """The stored row of a feed's entry (id, feed_id, title, text, extraction, content_hash)."""
    return one(
        conn,
        """SELECT a.id, a.feed_id, a.title, a.text, a.extraction, a.content_hash, a.copy_of FROM articles a
           JOIN feeds f ON f.id = a.feed_id WHERE f.url = ? AND a.entry_id = ?""",
        [feed_url, entry_id],
    )


def listed(conn: sqlite3.Connection, since: datetime | None, after_id: int) -> list[StoredArticle]:
    found = rows(
        conn,
        f"""{ARTICLES} WHERE a.id > ? AND (? IS NULL OR coalesce(a.published, a.first_seen) >= ?)
            ORDER BY a.id""",
        [after_id, iso(since), iso(since)],
    )
    return [stored_article(SQLITE, r) for r in found]


def find(conn: sqlite3.Connection, ref: str) -> StoredArticle | None:
    if ref.isdigit():
        r = one(conn, f"{ARTICLES} WHERE a.id = ?", [int(ref)])
    else:
        r = one(conn, f"{ARTICLES} WHERE a.url = ? OR a.canonical_url = ? ORDER BY a.id LIMIT 1", [ref, ref])
    return stored_article(SQLITE, r) if r is not None else None


def search(conn: sqlite3.Connection, query: str, limit: int) -> list[StoredArticle]:
    found = rows(
        conn,
        """SELECT a.*, coalesce(f.name, f.url) AS feed FROM articles_fts
           JOIN articles a ON a.id = articles_fts.rowid JOIN feeds f ON f.id = a.feed_id
           WHERE articles_fts MATCH ? ORDER BY rank LIMIT ?""",
        [query, limit],
    )
    return [stored_article(SQLITE, r) for r in found]


def due_rechecks(conn: sqlite3.Connection, now: datetime, limit: int) -> list[Recheck]:
    """Articles read from their page whose re-check is due, most overdue first."""
    found = rows(
        conn,
        """SELECT a.*, f.url AS feed_url FROM articles a JOIN feeds f ON f.id = a.feed_id
           WHERE a.next_check_at IS NOT NULL AND a.next_check_at <= ? AND a.url IS NOT NULL
           AND a.extraction = 'page' -- a feed-text article (full_text off, or a page that never
                                     -- read) is re-read with its feed entry: its page is no version
           ORDER BY a.next_check_at, a.id LIMIT ?""",
        [iso(now), limit],
    )
    return [recheck(SQLITE, r) for r in found]


def set_recheck(
    conn: sqlite3.Connection, article_id: int, next_at: datetime | None, etag: str | None, last_modified: str | None
) -> None:
    """The next re-check (None: no more), and the page's validators when the server sent any."""
    conn.execute(
        """UPDATE articles SET next_check_at = ?, page_etag = coalesce(?, page_etag),
           page_last_modified = coalesce(?, page_last_modified) WHERE id = ?""",
        (iso(next_at), etag, last_modified, article_id),
    )
