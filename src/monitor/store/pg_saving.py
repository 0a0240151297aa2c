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
from .lifecycle import MatchChange, match_change
from .records import MatchStatus, SavedArticle
from .shared import POSTGRES, article_values, kept_text, match_write, reports_change, saved_article

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
    before = conn.execute(
        """SELECT a.id, a.feed_id, a.title, a.text, a.extraction, a.content_hash, a.copy_of FROM articles a
           JOIN feeds f ON f.id = a.feed_id WHERE f.url = %s AND a.entry_id = %s FOR UPDATE OF a""",
        [feed_url, article.entry.id],
    ).fetchone()
    article = kept_text(article, before)  # a failed read of a page read before: the stored text stays
    article_id, _, feed_id = save_row(conn, feed_url, article, entry_hash, now)
    verdict = pg_changes.record_version(conn, article_id, article, now)
    if before is None:
        original = pg_changes.find_original(conn, article_id, feed_id, article, now, shingles, bands)
        if original is not None:
            pg_changes.inherit_story(conn, article_id, original)
    else:
        original = before["copy_of"]
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


def save_row(
    conn: Conn, feed_url: str, article: Article, entry_hash: str, now: datetime
) -> tuple[int, bool, int]:
    """Insert or update, the row locked; returns (article id, its content changed, feed id)."""
    feed = conn.execute("SELECT id FROM feeds WHERE url = %s", [feed_url]).fetchone()
    if feed is None:
        raise StorageError(f"unknown feed {feed_url}")
    values = article_values(POSTGRES, feed["id"], article, entry_hash, now)
    inserted = conn.execute(
        """INSERT INTO articles (feed_id, entry_id, entry_hash, url, canonical_url, title, published,
           first_seen, updated_at, summary, text, content_hash, extraction, author, language)
           VALUES (%(feed_id)s, %(entry_id)s, %(entry_hash)s, %(url)s, %(canonical_url)s, %(title)s,
           %(published)s, %(now)s, %(now)s, %(summary)s, %(text)s, %(content_hash)s, %(extraction)s,
           %(author)s, %(language)s)
           ON CONFLICT (feed_id, entry_id) DO NOTHING RETURNING id""",
        values,
    ).fetchone()
    if inserted is not None:
        conn.execute("UPDATE feeds SET entries = entries + 1 WHERE id = %s", [feed["id"]])
        return int(inserted["id"]), False, int(feed["id"])
    # Stored already (perhaps by another worker a moment ago): lock it, then update.
    row = conn.execute(
        "SELECT id, content_hash FROM articles WHERE feed_id = %(feed_id)s AND entry_id = %(entry_id)s FOR UPDATE",
        values,
    ).fetchone()
    assert row is not None  # the conflicting row exists and rows are never deleted
    conn.execute(
        """UPDATE articles SET entry_hash = %(entry_hash)s, url = %(url)s, canonical_url = %(canonical_url)s,
           title = %(title)s, published = %(published)s, updated_at = %(now)s, summary = %(summary)s,
           text = %(text)s, content_hash = %(content_hash)s, extraction = %(extraction)s WHERE id = %(id)s""",
        {**values, "id": row["id"]},
    )
    return int(row["id"]), row["content_hash"] != article.content_hash, int(feed["id"])


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
