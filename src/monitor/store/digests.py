"""SQL for digests: reserve matches per target, pending digests, delivery records."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from ..models import MatchItem
from . import matches
from .common import iso, required_time, rows
from .records import DigestRecord, PendingDigest
from .shared import AS_SENT, SQLITE, digest_record, match_item


def reserve(conn: sqlite3.Connection, target: str, items: Sequence[MatchItem], now: datetime) -> int:
    cur = conn.execute(
        "INSERT INTO digests (target, created_at, status, count) VALUES (?, ?, 'pending', ?)",
        (target, iso(now), len(items)),
    )
    digest_id = int(cur.lastrowid or 0)
    for item in items:
        # the match's current revision: a later change is a new revision, reported again
        conn.execute(
            """INSERT OR IGNORE INTO digest_items (digest_id, target, match_id, revision)
               SELECT ?, ?, id, revision FROM matches WHERE article_id = ?""",
            (digest_id, target, item.article_id),
        )
    return digest_id


def items(conn: sqlite3.Connection, digest_id: int) -> tuple[MatchItem, ...]:
    """The matches a digest holds, best first (as they are now: the web page's digest view)."""
    found = rows(
        conn,
        f"""{AS_SENT} JOIN digest_items d ON d.match_id = m.id
            WHERE d.digest_id = ? ORDER BY m.score DESC, m.id""",
        [digest_id],
    )
    return tuple(match_item(SQLITE, r) for r in found)


def enriched(conn: sqlite3.Connection, digest_id: int) -> tuple[MatchItem, ...]:
    """A digest's items with their copies, story and reported change, as `pending` gives them."""
    row = conn.execute("SELECT target FROM digests WHERE id = ?", (digest_id,)).fetchone()
    if row is None:
        return ()
    return tuple(matches.enrich(conn, list(items(conn, digest_id)), str(row[0]), digest_id))


def pending(conn: sqlite3.Connection, target: str) -> list[PendingDigest]:
    out = []
    query = "SELECT id, created_at FROM digests WHERE target = ? AND status = 'pending' ORDER BY id"
    for d in rows(conn, query, [target]):
        did = int(d["id"])
        items_ = tuple(matches.enrich(conn, list(items(conn, did)), target, did))
        out.append(PendingDigest(id=did, created_at=required_time(d["created_at"]), items=items_))
    return out


def finish(conn: sqlite3.Connection, digest_id: int, now: datetime, error: str | None) -> None:
    if error is None:
        conn.execute(
            "UPDATE digests SET status = 'delivered', delivered_at = ?, attempts = attempts + 1,"
            " last_error = NULL WHERE id = ?",
            (iso(now), digest_id),
        )
    else:
        conn.execute("UPDATE digests SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error, digest_id))


def listed(conn: sqlite3.Connection) -> list[DigestRecord]:
    return [digest_record(SQLITE, r) for r in rows(conn, "SELECT * FROM digests ORDER BY id")]
