"""Retention (settings.retention): the text of old articles that were never reported goes, their
identity stays.

An article first seen before the cut-off loses its text and summary, and its versions lose their
texts, unless it has a match row (active or demoted), is a copy of an article that has one, or
was judged (the scorer learns from judged texts). What stays is everything that says the article
was seen: feed and entry id, entry hash (so the feed's entry is never processed as new), URL and
URL key, title and headline key, content hashes (so the same text is never a new version), its
story and copy links. The full-text index then holds its title only.

Work is done in batches walked in (first_seen, id) order from a mark kept in the `service`
table, so each call costs its batch, never a scan of what earlier calls already passed.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from .common import iso
from .records import Pruned

MARK = "retention_mark"  # service key: [first_seen, id] of the last article a batch looked at

# kept: reported articles (or copies of them) and judged ones
_PRUNE = """UPDATE articles SET text = NULL, summary = NULL
    WHERE id IN ({ids}) AND (text IS NOT NULL OR summary IS NOT NULL)
    AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.article_id = articles.id)
    AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.article_id = articles.copy_of)
    AND NOT EXISTS (SELECT 1 FROM judgments j WHERE j.article_id = articles.id)
    RETURNING id"""


def read_mark(value: str | None) -> tuple[str, int]:
    if not value:
        return "", 0
    seen, last = json.loads(value)
    return str(seen), int(last)


def prune(conn: sqlite3.Connection, before: datetime, limit: int) -> Pruned:
    row = conn.execute("SELECT value FROM service WHERE key = ?", (MARK,)).fetchone()
    seen, last = read_mark(row[0] if row else None)
    batch = conn.execute(
        """SELECT id, first_seen FROM articles WHERE first_seen >= ? AND (first_seen > ? OR id > ?)
           AND first_seen < ? ORDER BY first_seen, id LIMIT ?""",
        (seen, seen, last, iso(before), limit),
    ).fetchall()
    if not batch:
        return Pruned(scanned=0, dropped=0)
    marks = ",".join("?" * len(batch))
    dropped = [r[0] for r in conn.execute(_PRUNE.format(ids=marks), [r[0] for r in batch]).fetchall()]
    if dropped:
        conn.execute(
            f"UPDATE article_versions SET text = NULL WHERE article_id IN ({','.join('?' * len(dropped))})", dropped
        )
    conn.execute(
        "INSERT INTO service (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (MARK, json.dumps([batch[-1][1], batch[-1][0]])),
    )
    return Pruned(scanned=len(batch), dropped=len(dropped))
