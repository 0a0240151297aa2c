"""PostgreSQL: retention batches, the rules of store/retention.py (the text of old articles
never reported nor judged goes, their identity stays), walked from the same mark."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg

from .common import EPOCH, from_iso
from .records import Pruned
from .retention import MARK, read_mark

Conn = psycopg.Connection[dict[str, Any]]

_PRUNE = """UPDATE articles a SET text = NULL, summary = NULL
    WHERE a.id = ANY(%s) AND (a.text IS NOT NULL OR a.summary IS NOT NULL)
    AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id)
    AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.copy_of)
    AND NOT EXISTS (SELECT 1 FROM judgments j WHERE j.article_id = a.id)
    RETURNING a.id"""


def prune(conn: Conn, before: datetime, limit: int) -> Pruned:
    row = conn.execute("SELECT value FROM service WHERE key = %s", [MARK]).fetchone()
    seen_text, last = read_mark(row["value"] if row else None)
    seen = from_iso(seen_text) or EPOCH
    batch = conn.execute(
        """SELECT id, first_seen FROM articles WHERE (first_seen, id) > (%s, %s) AND first_seen < %s
           ORDER BY first_seen, id LIMIT %s""",
        [seen, last, before, limit],
    ).fetchall()
    if not batch:
        return Pruned(scanned=0, dropped=0)
    dropped = [r["id"] for r in conn.execute(_PRUNE, [[r["id"] for r in batch]]).fetchall()]
    if dropped:
        conn.execute("UPDATE article_versions SET text = NULL WHERE article_id = ANY(%s)", [dropped])
    mark = json.dumps([batch[-1]["first_seen"].isoformat(), batch[-1]["id"]])
    conn.execute(
        "INSERT INTO service (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [MARK, mark],
    )
    return Pruned(scanned=len(batch), dropped=len(dropped))
