"""SQL for matches: write a score through the lifecycle rule, read matches for digests."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import datetime

from ..models import AlsoIn, MatchItem, Score
from . import copies, stories, versions
from .common import iso, one, rows
from .lifecycle import MatchChange, match_change
from .records import MatchStatus, StoredMatch
from .shared import MATCHES, SQLITE, match_item, match_write, stored_match


def status(conn: sqlite3.Connection, article_id: int) -> MatchStatus | None:
    row = conn.execute("SELECT status FROM matches WHERE article_id = ?", (article_id,)).fetchone()
    if row is None:
        return None
    return "active" if row[0] == "active" else "demoted"


def save_score(
    conn: sqlite3.Connection, article_id: int, score: Score, now: datetime, content_changed: bool
) -> MatchChange | None:
    """Apply the lifecycle rule (store.lifecycle) to a new score; returns what it did."""
    change = match_change(status(conn, article_id), score.match, content_changed)
    if change is None:
        return None
    conn.execute(*match_write(SQLITE, article_id, score, now, change))
    return change


def stored(conn: sqlite3.Connection, article_id: int) -> StoredMatch | None:
    r = one(conn, "SELECT * FROM matches WHERE article_id = ?", [article_id])
    if r is None:
        return None
    return stored_match(SQLITE, r)


def top(conn: sqlite3.Connection, limit: int | None) -> list[MatchItem]:
    found = rows(
        conn,
        f"{MATCHES} WHERE m.status = 'active' ORDER BY m.score DESC, m.id LIMIT ?",
        [limit if limit is not None else -1],
    )
    return enrich(conn, [match_item(SQLITE, r) for r in found])


def since(conn: sqlite3.Connection, when: datetime | None) -> list[MatchItem]:
    found = rows(
        conn,
        f"""{MATCHES} WHERE m.status = 'active' AND (? IS NULL OR m.updated_at >= ?)
            ORDER BY m.score DESC, m.id""",
        [iso(when), iso(when)],
    )
    return enrich(conn, [match_item(SQLITE, r) for r in found])


def undelivered(conn: sqlite3.Connection, target: str) -> list[MatchItem]:
    found = rows(
        conn,
        f"""{MATCHES} WHERE m.status = 'active' AND NOT EXISTS (
              SELECT 1 FROM digest_items d WHERE d.target = ? AND d.match_id = m.id
              AND d.revision = m.revision)
            ORDER BY m.score DESC, m.id""",
        [target],
    )
    return enrich(conn, [match_item(SQLITE, r) for r in found], target)


def enrich(
    conn: sqlite3.Connection, found: list[MatchItem], target: str | None = None, digest_id: int | None = None
) -> list[MatchItem]:
    """Add the copies ("also in"), the story (more coverage when another of its articles was in
    an earlier digest for `target`) and, for an update, the reported change."""
    out = []
    for m in found:
        story = stories.story_of(conn, m.article_id)
        if story is not None:
            reported = stories.first_reported(conn, story, m.article_id, target, digest_id)
            m = replace(
                m,
                story=f"story-{story}",
                story_status="more" if reported is not None else "new",
                story_first_reported=reported,
            )
        also = tuple(AlsoIn(url=u, feed=f) for u, f in copies.also_in(conn, m.article_id))
        diff = None
        if m.changed:
            ids = copies.members(conn, m.article_id)
            diff = versions.reported_change(conn, ids, True) or versions.reported_change(conn, ids, False)
        out.append(replace(m, also_in=also, diff=diff))
    return out
