"""PostgreSQL: saving one processed entry in one transaction (the rules of store.saving): the
article row (locked), its version, its identity across feeds, and the match lifecycle applied to
the article it is reported under."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import psycopg

from ..changes.track import degraded
from ..errors import StorageError
from ..models import Article, Score
from . import pg_changes
from .lifecycle import MatchChange, match_change
from .records import MatchStatus, SavedArticle

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
) -> SavedArticle:
    before = conn.execute(
        """SELECT a.id, a.feed_id, a.title, a.text, a.extraction, a.content_hash, a.copy_of FROM articles a
           JOIN feeds f ON f.id = a.feed_id WHERE f.url = %s AND a.entry_id = %s FOR UPDATE OF a""",
        [feed_url, article.entry.id],
    ).fetchone()
    if before is not None and degraded(article.extraction, before["extraction"]):
        # a failed read of a page read before: the stored text stays (never a version)
        article = replace(
            article,
            title=before["title"] or article.title,
            text=before["text"] or "",
            extraction=before["extraction"],
            content_hash=before["content_hash"],
        )
    article_id, _, feed_id = save_row(conn, feed_url, article, entry_hash, now)
    verdict = pg_changes.record_version(conn, article_id, article, now)
    if before is None:
        original = pg_changes.find_original(conn, article_id, feed_id, article, now, shingles)
        if original is not None:
            pg_changes.inherit_story(conn, article_id, original)
    else:
        original = before["copy_of"]
    changed = verdict is not None and verdict.change is not None and (verdict.material or notify == "all")
    if original is None:
        change = save_score(conn, article_id, score, now, changed)
    else:
        change = copy_match(conn, original, score, now, changed)
    target = original if original is not None else article_id
    active = match_status(conn, target) == "active"
    first = conn.execute("SELECT first_seen FROM articles WHERE id = %s", [target]).fetchone()
    return SavedArticle(
        article_id=article_id,
        news=change is not None and change.news,
        copy_of=original,
        version="" if verdict is None else (verdict.reason or "material"),
        material=verdict is not None and verdict.material,
        reported=target if active else None,
        first_seen=first["first_seen"] if active and first else None,
        new_article=before is None,
    )


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
    e = article.entry
    values = {
        "feed_id": feed["id"],
        "entry_id": e.id,
        "entry_hash": entry_hash,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "title": article.title,
        "published": article.published,
        "now": now,
        "summary": e.summary,
        "text": article.text,
        "content_hash": article.content_hash,
        "extraction": article.extraction,
        "author": article.author,
        "language": article.language,
    }
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
    fields = {
        "article_id": article_id,
        "score": score.value,
        "nearest_seed": score.nearest_seed,
        "facets": list(score.facets),
        "terms": list(score.terms),
        "sentence": score.sentence,
        "now": now,
        "status": change.status,
        "bump": int(change.new_revision),
    }
    if change.insert:
        conn.execute(
            """INSERT INTO matches (article_id, score, nearest_seed, facets, terms, sentence, matched_at,
               updated_at, status) VALUES (%(article_id)s, %(score)s, %(nearest_seed)s, %(facets)s, %(terms)s,
               %(sentence)s, %(now)s, %(now)s, %(status)s)""",
            fields,
        )
    else:
        conn.execute(
            """UPDATE matches SET score = %(score)s, nearest_seed = %(nearest_seed)s, facets = %(facets)s,
               terms = %(terms)s, sentence = %(sentence)s, updated_at = %(now)s, status = %(status)s,
               revision = revision + %(bump)s WHERE article_id = %(article_id)s""",
            fields,
        )
    return change
