"""SQL for an analyst's judgments (feedback): the latest verdict on an article wins."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from ..models import Document, Judgment
from .common import iso, rows


def judge(conn: sqlite3.Connection, article_id: int, relevant: bool, now: datetime) -> None:
    conn.execute(
        """INSERT INTO judgments (article_id, relevant, judged_at) VALUES (?, ?, ?)
           ON CONFLICT(article_id) DO UPDATE SET relevant = excluded.relevant,
           judged_at = excluded.judged_at""",
        (article_id, int(relevant), iso(now)),
    )


def listed(conn: sqlite3.Connection) -> list[Judgment]:
    found = rows(
        conn,
        """SELECT a.id, a.title, a.text, a.language, j.relevant FROM judgments j
           JOIN articles a ON a.id = j.article_id ORDER BY j.judged_at, a.id""",
    )
    return [
        Judgment(
            document=Document(id=str(r["id"]), title=r["title"] or "", text=r["text"] or "", language=r["language"]),
            relevant=bool(r["relevant"]),
        )
        for r in found
    ]
