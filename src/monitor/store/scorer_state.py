"""SQL for the scorer's learned state (SQLite): one row, what the scorer learnt from the stored
judgments (score/learned.py's JSON) under the key of everything it depends on (seeds, weights,
scoring code, the judgments themselves; monitor.app_scorer). A state saved under another key is
stale: it is replaced by the next save, never read."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from .common import iso


def load(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT state FROM scorer_state WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def save(conn: sqlite3.Connection, key: str, state: str, now: datetime) -> None:
    conn.execute(
        """INSERT INTO scorer_state (id, key, state, saved_at) VALUES (1, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET key = excluded.key, state = excluded.state,
           saved_at = excluded.saved_at""",
        (key, state, iso(now)),
    )
