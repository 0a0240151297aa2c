"""PostgreSQL: the web page's lists at scale (the rules of store/listing.py)."""

from __future__ import annotations

from typing import Any

import psycopg

from ..models import MatchItem
from . import pg_changes, shared
from .records import MatchPage, MatchQuery, StoryMember
from .shared import LISTED, LISTED_FROM, MATCH_COLUMNS, POSTGRES, listing_params, page_window

Conn = psycopg.Connection[dict[str, Any]]

_WHERE = f"""{LISTED}
    AND (%(feed)s = '' OR coalesce(f.name, f.url) = %(feed)s)
    AND (%(since)s::timestamptz IS NULL OR coalesce(a.published, a.first_seen) >= %(since)s)
    AND (%(min_score)s::float8 IS NULL OR m.score >= %(min_score)s)
    AND (%(judged)s = '' OR (j.article_id IS NOT NULL) = (%(judged)s = 'yes'))"""
_SEARCH = """ AND a.id IN (SELECT s.id FROM articles s, websearch_to_tsquery('simple', %(q)s) AS query
    WHERE s.search @@ query ORDER BY ts_rank(s.search, query) DESC, s.id LIMIT %(hits)s)"""


def match_page(conn: Conn, q: MatchQuery) -> MatchPage:
    params = listing_params(POSTGRES, q)
    where = _WHERE + (_SEARCH if q.search is not None else "")
    if q.search == "":
        where += " AND false"
    row = conn.execute(f"SELECT count(*) AS n {LISTED_FROM} WHERE {where}", params).fetchone()
    total = int(row["n"]) if row else 0
    number, pages, window = page_window(q, total)
    found = conn.execute(
        f"""SELECT {MATCH_COLUMNS} {LISTED_FROM} WHERE {where}
            ORDER BY m.score DESC, a.id LIMIT %(limit)s OFFSET %(offset)s""",
        {**params, **window},
    ).fetchall()
    feeds = conn.execute(f"SELECT DISTINCT coalesce(f.name, f.url) AS name {LISTED_FROM} WHERE {LISTED} ORDER BY 1")
    return MatchPage(
        items=tuple(pg_changes.enrich(conn, [shared.match_item(POSTGRES, r) for r in found], None, None)),
        number=number,
        pages=pages,
        total=total,
        demoted=frozenset(int(r["article_id"]) for r in found if r["status"] != "active"),
        feeds=tuple(r["name"] for r in feeds.fetchall()),
    )


def match_item(conn: Conn, article_id: int) -> MatchItem | None:
    found = conn.execute(f"SELECT {MATCH_COLUMNS} {LISTED_FROM} WHERE m.article_id = %s", [article_id]).fetchall()
    return pg_changes.enrich(conn, [shared.match_item(POSTGRES, found[0])], None, None)[0] if found else None


def story_of(conn: Conn, article_id: int) -> int | None:
    row = conn.execute("SELECT story_id FROM articles WHERE id = %s", [article_id]).fetchone()
    return int(row["story_id"]) if row and row["story_id"] is not None else None


def story_articles(conn: Conn, story_id: int) -> list[StoryMember]:
    return pg_changes.members(conn, "story_id = %s", [story_id])
