"""SQL for article versions: each distinct extracted text of an article is one row, with the
verdict (changes.track.verdict) against the version before it."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from ..changes.track import Verdict, Version, verdict
from ..models import Article, VersionChange
from .common import iso, required_time, rows
from .records import StoredVersion


def _versions(conn: sqlite3.Connection, article_id: int) -> list[Version]:
    return [
        Version(r["number"], r["title"] or "", r["text"] or "", r["extraction"] or "", r["content_hash"] or "")
        for r in rows(
            conn,
            """SELECT number, title, text, extraction, content_hash FROM article_versions
               WHERE article_id = ? ORDER BY number""",
            [article_id],
        )
    ]


def latest(conn: sqlite3.Connection, article_id: int) -> Version | None:
    found = _versions(conn, article_id)
    return found[-1] if found else None


def record(conn: sqlite3.Connection, article_id: int, article: Article, now: datetime) -> Verdict | None:
    """Store the article's text as a new version unless it is the latest one already."""
    history = _versions(conn, article_id)
    last = history[-1] if history else None
    if last is not None and last.content_hash == article.content_hash:
        return None
    result = verdict(last, history, article.title, article.text, article.extraction)
    diff = None if result.change is None else json.dumps([list(c) for c in result.change.changes])
    conn.execute(
        """INSERT INTO article_versions (article_id, number, seen_at, title, text, extraction,
           content_hash, material, significance, summary, reason, diff)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            article_id,
            (last.number if last else 0) + 1,
            iso(now),
            article.title,
            article.text,
            article.extraction,
            article.content_hash,
            int(result.material),
            result.significance,
            result.summary,
            result.reason,
            diff,
        ),
    )
    return result


def listed(conn: sqlite3.Connection, article_id: int) -> list[StoredVersion]:
    return [
        StoredVersion(
            number=int(r["number"]),
            seen_at=required_time(r["seen_at"]),
            title=r["title"] or "",
            words=len((r["text"] or "").split()),
            extraction=r["extraction"] or "",
            material=bool(r["material"]),
            significance=float(r["significance"] or 0.0),
            summary=r["summary"] or "",
            reason=r["reason"] or "",
            text=r["text"] or "",
        )
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
    if not found:
        return None
    r = found[0]
    changes = tuple((str(op), str(b), str(a)) for op, b, a in json.loads(r["diff"]))
    return VersionChange(bool(r["material"]), float(r["significance"] or 0.0), r["summary"] or "", changes)
