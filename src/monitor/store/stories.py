"""SQL for stories: which story an article belongs to, and when a story was first reported.

The clustering itself is changes.stories (in memory, see monitor.storyline); the store keeps
the result so a digest can tell a new story from more coverage of one already reported.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from .common import from_iso, iso, rows
from .records import StoryMember
from .shared import SQLITE, story_member


def assign(conn: sqlite3.Connection, article_id: int, story_id: int | None, now: datetime) -> int:
    """Put an article (and its copies) in a story; None starts a new story. Returns the story."""
    if story_id is None or conn.execute("SELECT 1 FROM stories WHERE id = ?", (story_id,)).fetchone() is None:
        cur = conn.execute("INSERT INTO stories (created_at, last_at, articles) VALUES (?, ?, 0)", (iso(now), iso(now)))
        story_id = int(cur.lastrowid or 0)
    conn.execute(
        "UPDATE stories SET last_at = max(last_at, ?), articles = articles + 1 WHERE id = ?", (iso(now), story_id)
    )
    conn.execute("UPDATE articles SET story_id = ? WHERE id = ? OR copy_of = ?", (story_id, article_id, article_id))
    return story_id


_MEMBERS = "SELECT id, story_id, title, text, url, published, first_seen FROM articles"


def members(conn: sqlite3.Connection, where: str, params: list[object]) -> list[StoryMember]:
    """Articles (not copies) with a story matching `where`, in arrival order."""
    found = rows(conn, f"{_MEMBERS} WHERE {where} AND copy_of IS NULL ORDER BY id", params)
    return [story_member(SQLITE, r) for r in found]


def window_start(conn: sqlite3.Connection, since: datetime) -> int | None:
    """The id just before the first article seen since `since` (None: there is none), where a
    walk of the window's members starts: so its first page skips the older articles."""
    # +id: min(id) alone walks the table from its first row; this reads the first_seen index
    row = conn.execute("SELECT min(+id) FROM articles WHERE first_seen >= ?", (iso(since),)).fetchone()
    return int(row[0]) - 1 if row and row[0] is not None else None


def members_page(conn: sqlite3.Connection, since: datetime, after: int, limit: int) -> list[StoryMember]:
    """Up to `limit` articles (not copies) with a story, first seen since `since`, with an id over
    `after`, in arrival order."""
    found = rows(
        conn,
        f"{_MEMBERS} WHERE id > ? AND story_id IS NOT NULL AND first_seen >= ? AND copy_of IS NULL ORDER BY id LIMIT ?",
        [after, iso(since), limit],
    )
    return [story_member(SQLITE, r) for r in found]


def first_reported(
    conn: sqlite3.Connection, story_id: int, article_id: int, target: str | None, digest_id: int | None
) -> datetime | None:
    """When another article of the story was first put in a digest (for `target`, or any),
    before digest `digest_id` (the one being sent, or shown on the web page)."""
    found = conn.execute(
        """SELECT min(d.created_at) FROM digest_items di JOIN digests d ON d.id = di.digest_id
           JOIN matches m ON m.id = di.match_id JOIN articles a ON a.id = m.article_id
           WHERE a.story_id = ? AND a.id != ? AND (? IS NULL OR di.target = ?)
           AND (? IS NULL OR di.digest_id < ?)""",
        (story_id, article_id, target, target, digest_id, digest_id),
    ).fetchone()
    return from_iso(found[0]) if found and found[0] else None


def story_of(conn: sqlite3.Connection, article_id: int) -> int | None:
    row = conn.execute("SELECT story_id FROM articles WHERE id = ?", (article_id,)).fetchone()
    return int(row[0]) if row and row[0] is not None else None


MAX_TERMS = 64  # terms kept per story: its most recent articles' distinctive terms


def index_terms(conn: sqlite3.Connection, story_id: int, terms: list[str], when: datetime) -> None:
    """Add an article's query terms to its story's entry (the newest first, bounded)."""
    row = conn.execute("SELECT terms FROM story_terms WHERE rowid = ?", (story_id,)).fetchone()
    kept = list(dict.fromkeys([*terms, *(row[0].split() if row else [])]))[:MAX_TERMS]
    conn.execute("DELETE FROM story_terms WHERE rowid = ?", (story_id,))
    conn.execute("INSERT INTO story_terms (rowid, terms) VALUES (?, ?)", (story_id, " ".join(kept)))
    conn.execute("UPDATE stories SET last_at = max(last_at, ?) WHERE id = ?", (iso(when), story_id))


def candidates(conn: sqlite3.Connection, terms: list[str], since: datetime, limit: int) -> list[int]:
    """Stories active since `since` sharing terms with the query, best BM25 first."""
    words = [t for t in terms if t.isalnum()]
    if not words:
        return []
    query = " OR ".join(f'"{t}"' for t in words)
    found = conn.execute(
        """SELECT s.id FROM story_terms JOIN stories s ON s.id = story_terms.rowid
           WHERE story_terms MATCH ? AND s.last_at >= ? ORDER BY bm25(story_terms) LIMIT ?""",
        (query, iso(since), limit),
    ).fetchall()
    return [int(r[0]) for r in found]
