"""PostgreSQL: saving one processed entry in one transaction (the rules of store.saving): the
article row (locked), its version, its identity across feeds, and the match lifecycle applied to
the article it is reported under."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from ..errors import StorageError
from ..models import Article, Score
from . import pg_changes
from .copies import Identity
from .lifecycle import MatchChange, match_change
from .records import MatchStatus, SavedArticle
from .shared import (
    INSERT_ARTICLE,
    POSTGRES,
    UPDATE_ARTICLE,
    article_values,
    kept_text,
    match_write,
    new_article_values,
    reports_change,
    saved_article,
)

Conn = psycopg.Connection[dict[str, Any]]


def save(
    conn: Conn,
    feed_url: str,
    article: Article,
    entry_hash: str,
    score: Score,
    now: datetime,
    notify: str,
    shingles: frozenset[int] | None = None,
    bands: tuple[str, ...] | None = None,
) -> SavedArticle:
    before = previous(conn, feed_url, article.entry.id)
    read = article
    article = kept_text(read, before)  # a failed read of a page read before: the stored text stays
    if before is None:
        feed = feed_id(conn, feed_url)
        identity = pg_changes.identify(conn, feed, article, now, shingles, bands)
        inserted = insert(conn, feed, article, entry_hash, now, identity)
        if inserted is None:
            # stored by another worker a moment ago: its row (now locked) is updated as stored
            before = previous(conn, feed_url, article.entry.id)
            assert before is not None  # the conflicting row exists and rows are never deleted
            article = kept_text(read, before)
        else:
            article_id, original = inserted, identity.copy_of
            pg_changes.record_bands(conn, article_id, identity.bands, now)
    if before is not None:
        article_id, original = int(before["id"]), before["copy_of"]
        update(conn, article_id, int(before["feed_id"]), article, entry_hash, now)
    verdict = pg_changes.record_version(conn, article_id, article, now)
    changed = reports_change(verdict, notify)
    if original is None:
        change = save_score(conn, article_id, score, now, changed)
    else:
        change = copy_match(conn, original, score, now, changed)
    target = original if original is not None else article_id
    active = match_status(conn, target) == "active"
    reported = conn.execute("SELECT first_seen FROM articles WHERE id = %s", [target]).fetchone() if active else None
    return saved_article(POSTGRES, article_id, before, original, verdict, change, reported)


def copy_match(conn: Conn, original: int, score: Score, now: datetime, changed: bool) -> MatchChange | None:
    """A copy's score: only a matching copy may speak for its original, and only to add news."""
    if not score.match:
        return None
    if match_status(conn, original) == "active" and not changed:
        return None
    return save_score(conn, original, score, now, changed)


def previous(conn: Conn, feed_url: str, entry_id: str) -> dict[str, Any] | None:
    """The stored row of a feed's entry, locked until the transaction ends (store.articles.previous)."""
    return conn.execute(
        """SELECT a.id, a.feed_id, a.title, a.text, a.extraction, a.content_hash, a.copy_of FROM articles a
           JOIN feeds f ON f.id = a.feed_id WHERE f.url = %s AND a.entry_id = %s FOR UPDATE OF a""",
        [feed_url, entry_id],
    ).fetchone()


def feed_id(conn: Conn, feed_url: str) -> int:
    feed = conn.execute("SELECT id FROM feeds WHERE url = %s", [feed_url]).fetchone()
    if feed is None:
        raise StorageError(f"unknown feed {feed_url}")
    return int(feed["id"])


# the unique key decides between workers saving the same entry at once
_INSERT = (POSTGRES.sql(INSERT_ARTICLE) + " ON CONFLICT (feed_id, entry_id) DO NOTHING RETURNING id").encode()
_UPDATE = POSTGRES.sql(UPDATE_ARTICLE).encode()


def insert(conn: Conn, feed: int, article: Article, entry_hash: str, now: datetime, identity: Identity) -> int | None:
    """A new entry's row, with its identity across feeds (a copy is in its original's story), or
    None when another worker stored the entry since this one looked."""
    values = new_article_values(POSTGRES, feed, article, entry_hash, now, identity)
    inserted = conn.execute(_INSERT, values).fetchone()
    if inserted is None:
        return None
    conn.execute("UPDATE feeds SET entries = entries + 1 WHERE id = %s", [feed])
    return int(inserted["id"])


def update(conn: Conn, article_id: int, feed: int, article: Article, entry_hash: str, now: datetime) -> None:
    """A stored entry's new reading; the caller holds its row lock."""
    conn.execute(_UPDATE, {**article_values(POSTGRES, feed, article, entry_hash, now), "id": article_id})


def match_status(conn: Conn, article_id: int) -> MatchStatus | None:
    row = conn.execute("SELECT status FROM matches WHERE article_id = %s", [article_id]).fetchone()
    if row is None:
        return None
    return "active" if row["status"] == "active" else "demoted"


def save_score(conn: Conn, article_id: int, score: Score, now: datetime, content_changed: bool) -> MatchChange | None:
    """Apply the lifecycle rule to a new score; the caller holds the article's row lock."""
    change = match_change(match_status(conn, article_id), score.match, content_changed)
    if change is None:
        return None
    sql, params = match_write(POSTGRES, article_id, score, now, change)
    conn.execute(sql.encode(), params)
    return change
