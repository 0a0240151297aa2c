"""SQL for feeds: feeds.yaml sync, fetch state, due feeds, and applying a poll's FeedUpdate."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from ..errors import StorageError
from ..models import FeedSpec, FeedState, FeedUpdate, Move
from .common import iso, one, rows
from .records import FeedStatus
from .shared import SQLITE, feed_state, feed_status, fetch_record


def sync(conn: sqlite3.Connection, specs: Sequence[FeedSpec]) -> None:
    for spec in specs:
        conn.execute(
            """INSERT INTO feeds (url, name, tags, interval, full_text) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT(url) DO UPDATE SET name = excluded.name, tags = excluded.tags,
               interval = excluded.interval, full_text = excluded.full_text""",
            (spec.url, spec.name, json.dumps(list(spec.tags)), spec.interval, int(spec.full_text)),
        )


def ensure(conn: sqlite3.Connection, url: str, name: str, status: str) -> None:
    conn.execute(
        "INSERT INTO feeds (url, name, tags, status) VALUES (?, ?, '[]', ?) ON CONFLICT(url) DO NOTHING",
        (url, name, status),
    )


def state(conn: sqlite3.Connection, url: str) -> FeedState:
    r = one(conn, "SELECT * FROM feeds WHERE url = ?", [url])
    if r is None:
        raise StorageError(f"unknown feed {url}")
    return feed_state(SQLITE, r)


def statuses(conn: sqlite3.Connection) -> list[FeedStatus]:
    found = rows(
        conn,
        # counted from the matches (thousands), not by walking every feed's articles (millions)
        """SELECT f.*, coalesce(c.n, 0) AS matches FROM feeds f LEFT JOIN (
               SELECT a.feed_id, count(*) AS n FROM matches m JOIN articles a ON a.id = m.article_id
               WHERE m.status = 'active' GROUP BY a.feed_id) c ON c.feed_id = f.id
           ORDER BY f.id""",
    )
    return [feed_status(SQLITE, r) for r in found]


def due(conn: sqlite3.Connection, now: datetime) -> list[str]:
    found = rows(
        conn,
        """SELECT url FROM feeds WHERE status = 'active'
           AND (next_due_at IS NULL OR next_due_at <= ?) ORDER BY next_due_at""",
        [iso(now)],
    )
    return [r["url"] for r in found]


def known_entries(conn: sqlite3.Connection, feed_url: str) -> dict[str, str]:
    found = rows(
        conn,
        "SELECT a.entry_id, a.entry_hash FROM articles a JOIN feeds f ON f.id = a.feed_id WHERE f.url = ?",
        [feed_url],
    )
    return {r["entry_id"]: r["entry_hash"] for r in found}


def apply(conn: sqlite3.Connection, update: FeedUpdate) -> None:
    # The move first: a 304 from the new location confirms the validators sent there, which
    # the record below then leaves alone.
    if update.move is not None:
        _move(conn, update.url, update.move)
    if update.record is not None:
        conn.execute(*fetch_record(SQLITE, update.url, update.record))


def _move(conn: sqlite3.Connection, url: str, move: Move) -> None:
    """Validators belong to the fetched URL, so they are replaced in the same write."""
    conn.execute(
        "UPDATE feeds SET fetch_url = ?, etag = ?, last_modified = ? WHERE url = ?",
        (move.fetch_url, move.etag, move.last_modified, url),
    )
