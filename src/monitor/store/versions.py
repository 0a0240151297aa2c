"""SQL for article versions: each distinct extracted text of an article is one row, with the
verdict (changes.track.verdict) against the version before it."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from ..changes.track import Verdict, Version
from ..models import Article, VersionChange
from .common import rows
from .records import StoredVersion
from .shared import SQLITE, new_version, stored_version, version, version_change


def _versions(conn: sqlite3.Connection, article_id: int) -> list[Version]:
    return [
        version(r)
        for r in rows(
            conn,
            """SELECT number, title, text, extraction, content_hash FROM article_versions
               WHERE article_id = ? ORDER BY number""",
            [article_id],
        )
    ]


def record(conn: sqlite3.Connection, article_id: int, article: Article, now: datetime) -> Verdict | None:
    """Store the article's text as a new version unless it is the latest one already."""
    found = new_version(SQLITE, article_id, _versions(conn, article_id), article, now)
    if found is None:
        return None
    result, sql, params = found
    conn.execute(sql, params)
    return result


def listed(conn: sqlite3.Connection, article_id: int) -> list[StoredVersion]:
    return [
        stored_version(SQLITE, r)
        for r in rows(conn, "SELECT * FROM article_versions WHERE article_id = ? ORDER BY number", [article_id])
    ]


def reported_change(conn: sqlite3.Connection, article_ids: list[int], material_only: bool) -> VersionChange | None:
    """The latest reportable change among an article and its copies (for an "Updated" entry)."""
    if not article_ids:
        return None
    marks = ",".join("?" * len(article_ids))
    found = rows(
        conn,
        f"""SELECT material, significance, summary, diff FROM article_versions
            WHERE article_id IN ({marks}) AND diff IS NOT NULL AND (material = 1 OR ? = 0)
            ORDER BY seen_at DESC, id DESC LIMIT 1""",
        [*article_ids, int(material_only)],
    )
    return version_change(found[0]) if found else None
