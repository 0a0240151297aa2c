"""SQL for articles: insert or update a processed entry, list, find, full-text search."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from ..errors import StorageError
from ..models import Article
from .common import from_iso, iso, one, required_time, rows
from .records import StoredArticle

_SELECT = "SELECT a.*, coalesce(f.name, f.url) AS feed FROM articles a JOIN feeds f ON f.id = a.feed_id"


def save(conn: sqlite3.Connection, feed_url: str, article: Article, entry_hash: str, now: datetime) -> tuple[int, bool]:
    """Insert or update; returns (article id, its content changed since it was stored)."""
    feed = conn.execute("SELECT id FROM feeds WHERE url = ?", (feed_url,)).fetchone()
    if feed is None:
        raise StorageError(f"unknown feed {feed_url}")
    e = article.entry
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
        "SELECT id, content_hash FROM articles WHERE feed_id = :feed_id AND entry_id = :entry_id", values
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
        conn.execute("UPDATE feeds SET entries = entries + 1 WHERE id = ?", (feed[0],))
        return int(cur.lastrowid or 0), False
    conn.execute(
        """UPDATE articles SET entry_hash = :entry_hash, url = :url,
           canonical_url = :canonical_url, title = :title, published = :published,
           updated_at = :now, summary = :summary, text = :text,
           content_hash = :content_hash, extraction = :extraction WHERE id = :id""",
        {**values, "id": row[0]},
    )
    return int(row[0]), row[1] != article.content_hash


def listed(conn: sqlite3.Connection, since: datetime | None, after_id: int) -> list[StoredArticle]:
    found = rows(
        conn,
        f"""{_SELECT} WHERE a.id > ? AND (? IS NULL OR coalesce(a.published, a.first_seen) >= ?)
            ORDER BY a.id""",
        [after_id, iso(since), iso(since)],
    )
    return [_stored(r) for r in found]


def find(conn: sqlite3.Connection, ref: str) -> StoredArticle | None:
    if ref.isdigit():
        r = one(conn, f"{_SELECT} WHERE a.id = ?", [int(ref)])
    else:
        r = one(conn, f"{_SELECT} WHERE a.url = ? OR a.canonical_url = ? ORDER BY a.id LIMIT 1", [ref, ref])
    return _stored(r) if r is not None else None


def search(conn: sqlite3.Connection, query: str, limit: int) -> list[StoredArticle]:
    found = rows(
        conn,
        """SELECT a.*, coalesce(f.name, f.url) AS feed FROM articles_fts
           JOIN articles a ON a.id = articles_fts.rowid JOIN feeds f ON f.id = a.feed_id
           WHERE articles_fts MATCH ? ORDER BY rank LIMIT ?""",
        [query, limit],
    )
    return [_stored(r) for r in found]


def _stored(r: sqlite3.Row) -> StoredArticle:
    return StoredArticle(
        id=r["id"],
        feed=r["feed"],
        url=r["url"],
        title=r["title"] or "",
        text=r["text"] or "",
        published=from_iso(r["published"]),
        first_seen=required_time(r["first_seen"]),
        language=r["language"],
    )
