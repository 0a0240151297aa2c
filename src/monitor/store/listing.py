"""SQL for the web page's lists at scale: one filtered page of matches (filters, count and page
in SQL, only the page enriched), one story's articles, one article's story and listed match."""

from __future__ import annotations

import sqlite3

from ..models import MatchItem
from . import shared, stories
from .common import rows
from .matches import enrich
from .records import MatchPage, MatchQuery, StoryMember
from .shared import LISTED, LISTED_FROM, MATCH_COLUMNS, MATCHES, SQLITE, listing_params, page_window

_WHERE = f"""{LISTED}
    AND (:feed = '' OR coalesce(f.name, f.url) = :feed)
    AND (:since IS NULL OR coalesce(a.published, a.first_seen) >= :since)
    AND (:min_score IS NULL OR m.score >= :min_score)
    AND (:judged = '' OR (j.article_id IS NOT NULL) = (:judged = 'yes'))"""
_SEARCH = " AND a.id IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH :q ORDER BY rank LIMIT :hits)"


def match_page(conn: sqlite3.Connection, q: MatchQuery) -> MatchPage:
    params = listing_params(SQLITE, q)
    where = _WHERE + (_SEARCH if q.search is not None else "")
    if q.search == "":  # a search with no words finds nothing
        where += " AND 0"
    total = int(conn.execute(f"SELECT count(*) {LISTED_FROM} WHERE {where}", params).fetchone()[0])
    number, pages, window = page_window(q, total)
    found = rows(
        conn,
        f"""SELECT {MATCH_COLUMNS} {LISTED_FROM} WHERE {where}
            ORDER BY m.score DESC, a.id LIMIT :limit OFFSET :offset""",
        {**params, **window},
    )
    names = conn.execute(f"SELECT DISTINCT coalesce(f.name, f.url) {LISTED_FROM} WHERE {LISTED} ORDER BY 1")
    feeds = [r[0] for r in names]
    return MatchPage(
        items=tuple(enrich(conn, [shared.match_item(SQLITE, r) for r in found])),
        number=number,
        pages=pages,
        total=total,
        demoted=frozenset(int(r["article_id"]) for r in found if r["status"] != "active"),
        feeds=tuple(feeds),
    )


def match_item(conn: sqlite3.Connection, article_id: int) -> MatchItem | None:
    """An article's match as a list shows it (active or demoted), or None."""
    found = rows(conn, f"{MATCHES} WHERE m.article_id = ?", [article_id])
    return enrich(conn, [shared.match_item(SQLITE, found[0])])[0] if found else None


def story_articles(conn: sqlite3.Connection, story_id: int) -> list[StoryMember]:
    """One story's articles (copies excluded), in arrival order."""
    return stories.members(conn, "story_id = ?", [story_id])
