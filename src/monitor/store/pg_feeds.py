"""PostgreSQL SQL for feeds: feeds.yaml sync, fetch state, statuses and applying a FeedUpdate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from ..errors import StorageError
from ..models import FeedSpec, FeedState, FeedUpdate
from .records import FeedStatus
from .shared import POSTGRES, feed_state, feed_status, fetch_record

Conn = psycopg.Connection[dict[str, Any]]


def sync(conn: Conn, specs: Sequence[FeedSpec]) -> None:
    for spec in specs:
        conn.execute(
            """INSERT INTO feeds (url, name, tags, interval, full_text) VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (url) DO UPDATE SET name = excluded.name, tags = excluded.tags,
               interval = excluded.interval, full_text = excluded.full_text""",
            [spec.url, spec.name, list(spec.tags), spec.interval, spec.full_text],
        )


def state(conn: Conn, url: str) -> FeedState:
    r = conn.execute("SELECT * FROM feeds WHERE url = %s", [url]).fetchone()
    if r is None:
        raise StorageError(f"unknown feed {url}")
    return feed_state(POSTGRES, r)


def statuses(conn: Conn) -> list[FeedStatus]:
    found = conn.execute(
        """SELECT f.*, (SELECT count(*) FROM articles a JOIN matches m ON m.article_id = a.id
                        WHERE a.feed_id = f.id AND m.status = 'active') AS matches
           FROM feeds f ORDER BY f.id"""
    ).fetchall()
    return [feed_status(POSTGRES, r) for r in found]


class StaleWrite(StorageError):
    """The feed was claimed by a later job (its job ran again elsewhere): this one writes nothing."""


def version(conn: Conn, url: str) -> int:
    row = conn.execute("SELECT version FROM feeds WHERE url = %s", [url]).fetchone()
    if row is None:
        raise StorageError(f"unknown feed {url}")
    return int(row["version"])


def claim(conn: Conn, url: str) -> int:
    """A poll job's fencing token: the feed's version, moved on by one. A later job's claim
    (the same job retried elsewhere) makes every write of this one stale."""
    row = conn.execute("UPDATE feeds SET version = version + 1 WHERE url = %s RETURNING version", [url]).fetchone()
    if row is None:
        raise StorageError(f"unknown feed {url}")
    return int(row["version"])


def check(conn: Conn, url: str, expected: int) -> None:
    """StaleWrite unless the feed is still at `expected`; the row stays locked until the caller's
    transaction ends, so no claim can come between this check and the caller's write. (NO KEY
    UPDATE, not SHARE: a save then counts the entry on this row without a lock upgrade, which
    two stale writers of one feed could deadlock on.)"""
    row = conn.execute("SELECT version FROM feeds WHERE url = %s FOR NO KEY UPDATE", [url]).fetchone()
    if row is None:
        raise StorageError(f"unknown feed {url}")
    if int(row["version"]) != expected:
        raise StaleWrite(f"{url}: stale result not written (feed version {row['version']}, job holds {expected})")


def apply_at(conn: Conn, update: FeedUpdate, expected: int) -> None:
    """apply, only if no later job has claimed the feed since (the claim moved the version on)."""
    check(conn, update.url, expected)
    _write(conn, update)


def apply(conn: Conn, update: FeedUpdate) -> None:
    conn.execute("UPDATE feeds SET version = version + 1 WHERE url = %s", [update.url])  # fences running jobs
    _write(conn, update)


def _write(conn: Conn, update: FeedUpdate) -> None:
    # The move first: a 304 from the new location confirms the validators sent there, which
    # the record below then leaves alone.
    if update.move is not None:
        m = update.move
        conn.execute(
            "UPDATE feeds SET fetch_url = %s, etag = %s, last_modified = %s WHERE url = %s",
            [m.fetch_url, m.etag, m.last_modified, update.url],
        )
    if update.record is not None:
        sql, params = fetch_record(POSTGRES, update.url, update.record)
        conn.execute(sql.encode(), params)
