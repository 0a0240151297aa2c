"""PostgreSQL SQL for the scorer's learned state: the same one row and rules as the SQLite
module (store.scorer_state)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

Conn = psycopg.Connection[dict[str, Any]]


def load(conn: Conn, key: str) -> str | None:
    row = conn.execute("SELECT state FROM scorer_state WHERE key = %s", [key]).fetchone()
    return None if row is None else str(row["state"])


def save(conn: Conn, key: str, state: str, now: datetime) -> None:
    conn.execute(
        """INSERT INTO scorer_state (id, key, state, saved_at) VALUES (1, %s, %s, %s)
           ON CONFLICT (id) DO UPDATE SET key = excluded.key, state = excluded.state,
           saved_at = excluded.saved_at""",
        [key, state, now],
    )
