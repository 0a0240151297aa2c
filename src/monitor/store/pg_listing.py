"""PostgreSQL: the web page's lists at scale (the rules of store/listing.py)."""

from __future__ import annotations

from math import ceil
from typing import Any

import psycopg

from ..models import MatchItem
from . import pg_changes, shared
from .listing import SEARCH_HITS
from .records import MatchPage, MatchQuery, StoryMember
from .shared import POSTGRES

Conn = psycopg.Connection[dict[str, Any]]

_FROM = """FROM matches m JOIN articles a ON a.id = m.article_id JOIN feeds f ON f.id = a.feed_id
    LEFT JOIN judgments j ON j.article_id = a.id"""
_LISTED = "(m.status = 'active' OR j.article_id IS NOT NULL)"
_WHERE = f"""{_LISTED}
    AND (%(feed)s = '' OR coalesce(f.name, f.url) = %(feed)s)
    AND (%(since)s::timestamptz IS NULL OR coalesce(a.published, a.first_seen) >= %(since)s)
    AND (%(min_score)s::float8 IS NULL OR m.score >= %(min_score)s)
    AND (%(judged)s = '' OR (j.article_id IS NOT NULL) = (%(judged)s = 'yes'))"""
_SEARCH = """ AND a.id IN (SELECT s.id FROM articles s, websearch_to_tsquery('simple', %(q)s) AS query
    WHERE s.search @@ query ORDER BY ts_rank(s.search, query) DESC, s.id LIMIT %(hits)s)"""
_COLUMNS = """m.id AS match_id, m.revision, m.score, m.nearest_seed, m.facets, m.terms, m.sentence,
    m.matched_at, m.status, a.id AS article_id, a.url, a.title, a.published, a.first_seen,
    coalesce(f.name, f.url) AS feed"""


def match_page(conn: Conn, q: MatchQuery) -> MatchPage:
    params: dict[str, Any] = {
        "feed": q.feed,
        "since": q.since,
        "min_score": q.min_score,
        "judged": q.judged,
        "q": q.search or "",
        "hits": SEARCH_HITS,
    }
    where = _WHERE + (_SEARCH if q.search is not None else "")
    if q.search == "":
        where += " AND false"
    row = conn.execute(f"SELECT count(*) AS n {_FROM} WHERE {where}", params).fetchone()
    total = int(row["n"]) if row else 0
    pages = max(1, ceil(total / q.size))
    number = min(max(1, q.page), pages)
    found = conn.execute(
        f"SELECT {_COLUMNS} {_FROM} WHERE {where} ORDER BY m.score DESC, a.id LIMIT %(limit)s OFFSET %(offset)s",
        {**params, "limit": q.size, "offset": (number - 1) * q.size},
    ).fetchall()
    feeds = conn.execute(f"SELECT DISTINCT coalesce(f.name, f.url) AS name {_FROM} WHERE {_LISTED} ORDER BY 1")
    return MatchPage(
        items=tuple(pg_changes.enrich(conn, [shared.match_item(POSTGRES, r) for r in found], None, None)),
        number=number,
        pages=pages,
        total=total,
        demoted=frozenset(int(r["article_id"]) for r in found if r["status"] != "active"),
        feeds=tuple(r["name"] for r in feeds.fetchall()),
    )


def match_item(conn: Conn, article_id: int) -> MatchItem | None:
    found = conn.execute(f"SELECT {_COLUMNS} {_FROM} WHERE m.article_id = %s", [article_id]).fetchall()
    return pg_changes.enrich(conn, [shared.match_item(POSTGRES, found[0])], None, None)[0] if found else None


def story_of(conn: Conn, article_id: int) -> int | None:
    row = conn.execute("SELECT story_id FROM articles WHERE id = %s", [article_id]).fetchone()
    return int(row["story_id"]) if row and row["story_id"] is not None else None


def story_articles(conn: Conn, story_id: int) -> list[StoryMember]:
    return pg_changes.members(conn, "story_id = %s", [story_id])
