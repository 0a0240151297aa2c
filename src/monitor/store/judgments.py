"""SQL for an analyst's judgments (feedback): the latest verdict on an article wins."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from ..models import Judgment
from .common import iso, rows
from .shared import JUDGMENTS, judgment


def judge(conn: sqlite3.Connection, article_id: int, relevant: bool, now: datetime) -> None:
    conn.execute(
        """INSERT INTO judgments (article_id, relevant, judged_at) VALUES (?, ?, ?)
           ON CONFLICT(article_id) DO UPDATE SET relevant = excluded.relevant,
           judged_at = excluded.judged_at""",
        (article_id, int(relevant), iso(now)),
    )


def listed(conn: sqlite3.Connection) -> list[Judgment]:
    return [judgment(r) for r in rows(conn, JUDGMENTS)]
