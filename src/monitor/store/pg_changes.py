"""PostgreSQL SQL for article versions, copies across feeds, stories and re-checks: the same
rules as the SQLite modules (store.versions, store.copies, store.stories, store.articles), with
native types and a tsvector/GIN story index where SQLite has FTS5."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import psycopg

from ..changes.copies import confirm, same_article, shingles
from ..changes.track import Verdict, Version
from ..models import AlsoIn, Article, MatchItem, VersionChange
from .copies import MAX_CANDIDATES, WINDOW, Identity, decide
from .records import Recheck, StoredVersion, StoryMember
from .shared import POSTGRES, new_version, recheck, stored_version, story_member, version, version_change
from .stories import MAX_TERMS

Conn = psycopg.Connection[dict[str, Any]]

# --- versions ----------------------------------------------------------------------------------


def _versions(conn: Conn, article_id: int) -> list[Version]:
    found = conn.execute(
        """SELECT number, title, text, extraction, content_hash FROM article_versions
           WHERE article_id = %s ORDER BY number""",
        [article_id],
    ).fetchall()
    return [version(r) for r in found]


def record_version(conn: Conn, article_id: int, article: Article, now: datetime) -> Verdict | None:
    """Store the article's text as a new version unless it is the latest one already."""
    found = new_version(POSTGRES, article_id, _versions(conn, article_id), article, now)
    if found is None:
        return None
    result, sql, params = found
    conn.execute(sql.encode(), params)
    return result


def versions(conn: Conn, article_id: int) -> list[StoredVersion]:
    found = conn.execute("SELECT * FROM article_versions WHERE article_id = %s ORDER BY number", [article_id])
    return [stored_version(POSTGRES, r) for r in found.fetchall()]


def reported_change(conn: Conn, article_ids: list[int], material_only: bool) -> VersionChange | None:
    """The latest reportable change among an article and its copies (for an "Updated" entry)."""
    r = conn.execute(
        """SELECT material, significance, summary, diff FROM article_versions
           WHERE article_id = ANY(%s) AND diff IS NOT NULL AND (material OR NOT %s)
           ORDER BY seen_at DESC, id DESC LIMIT 1""",
        [article_ids, material_only],
    ).fetchone()
    return None if r is None else version_change(r)


# --- copies ------------------------------------------------------------------------------------


def identify(
    conn: Conn,
    feed_id: int,
    article: Article,
    now: datetime,
    known: frozenset[int] | None = None,
    known_bands: tuple[str, ...] | None = None,
) -> Identity:
    """The identity of a new article, decided before its row exists (store.copies.identify: the
    row is inserted once, with it); the rules are store.copies.decide's, the look-ups this
    backend's."""
    return decide(
        article,
        known,
        known_bands,
        lambda key: _by_key(conn, key),
        lambda heading: _repaired(conn, heading, feed_id, article, now),
        lambda sh, bands: _near_duplicate(conn, sh, bands, now),
    )


def record_bands(conn: Conn, article_id: int, bands: tuple[str, ...], now: datetime) -> None:
    """Keep the article's band keys for the copy window (and drop those older than it)."""
    conn.execute("DELETE FROM copy_bands WHERE seen_at < %s", [now - WINDOW])
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO copy_bands (band, article_id, seen_at) VALUES (%s, %s, %s)",
            [(b, article_id, now) for b in bands],
        )


def _root(conn: Conn, article_id: int) -> int:
    row = conn.execute("SELECT coalesce(copy_of, id) AS root FROM articles WHERE id = %s", [article_id]).fetchone()
    return int(row["root"]) if row else article_id


def _by_key(conn: Conn, key: str) -> int | None:
    row = conn.execute(
        "SELECT coalesce(copy_of, id) AS root FROM articles WHERE url_key = %s ORDER BY id LIMIT 1", [key]
    ).fetchone()
    return int(row["root"]) if row else None


def _repaired(conn: Conn, heading: str, feed_id: int, article: Article, now: datetime) -> int | None:
    """A feed that changed an entry's guid or URL: same title and text within a day."""
    found = conn.execute(
        """SELECT id, title, text, published, first_seen FROM articles
           WHERE title_key = %s AND feed_id = %s AND first_seen >= %s ORDER BY id DESC LIMIT 20""",
        [heading, feed_id, now - timedelta(days=1)],
    ).fetchall()
    for r in found:
        when = r["published"] or r["first_seen"]
        if same_article(r["title"] or "", r["text"] or "", when, article.title, article.text, article.published or now):
            return _root(conn, int(r["id"]))
    return None


def _near_duplicate(conn: Conn, sh: frozenset[int], bands: tuple[str, ...], now: datetime) -> int | None:
    candidates = conn.execute(
        """SELECT b.article_id, count(*) AS shared FROM copy_bands b
           WHERE b.band = ANY(%s) AND b.seen_at >= %s
           GROUP BY b.article_id ORDER BY shared DESC, b.article_id LIMIT %s""",
        [list(bands), now - WINDOW, MAX_CANDIDATES],
    ).fetchall()
    for c in candidates:
        other = conn.execute("SELECT text FROM articles WHERE id = %s", [c["article_id"]]).fetchone()
        if other is not None and confirm(sh, shingles(other["text"] or "")).is_copy:
            return _root(conn, int(c["article_id"]))
    return None


def _also_in(conn: Conn, root: int) -> list[AlsoIn]:
    """The copies of an article, oldest first, one per feed (not the original's own feed)."""
    found = conn.execute(
        """SELECT a.url, a.canonical_url, coalesce(f.name, f.url) AS feed FROM articles a
           JOIN feeds f ON f.id = a.feed_id
           WHERE a.copy_of = %s AND a.feed_id != (SELECT feed_id FROM articles WHERE id = %s)
           ORDER BY a.id""",
        [root, root],
    ).fetchall()
    out: dict[str, str] = {}
    for r in found:
        out.setdefault(r["feed"], r["url"] or r["canonical_url"] or "")
    return [AlsoIn(url=url, feed=feed) for feed, url in out.items()]


def _members(conn: Conn, root: int) -> list[int]:
    found = conn.execute("SELECT id FROM articles WHERE copy_of = %s", [root]).fetchall()
    return [root] + [int(r["id"]) for r in found]


# --- stories -----------------------------------------------------------------------------------


def assign_story(conn: Conn, article_id: int, story_id: int | None, now: datetime) -> int:
    """Put an article (and its copies) in a story; None starts a new story. Returns the story."""
    exists = story_id is not None and conn.execute("SELECT 1 FROM stories WHERE id = %s", [story_id]).fetchone()
    if story_id is None or not exists:
        row = conn.execute(
            "INSERT INTO stories (created_at, last_at, articles) VALUES (%s, %s, 0) RETURNING id", [now, now]
        ).fetchone()
        assert row is not None  # INSERT … RETURNING always returns the row
        story_id = int(row["id"])
    conn.execute(
        "UPDATE stories SET last_at = greatest(last_at, %s), articles = articles + 1 WHERE id = %s", [now, story_id]
    )
    conn.execute(
        "UPDATE articles SET story_id = %s WHERE id = %s OR copy_of = %s", [story_id, article_id, article_id]
    )
    return story_id


def members(conn: Conn, where: str, params: list[object]) -> list[StoryMember]:
    """Articles (not copies) matching `where`, in arrival order."""
    found = conn.execute(
        "SELECT id, story_id, title, text, url, published, first_seen FROM articles"
        f" WHERE {where} AND copy_of IS NULL ORDER BY id",
        params,
    ).fetchall()
    return [story_member(POSTGRES, r) for r in found]


def window_start(conn: Conn, since: datetime) -> int | None:
    """The id just before the first article seen since `since` (None: there is none), where a
    walk of the window's members starts: so its first page skips the older articles."""
    # id + 0: min(id) alone may walk the primary key from the oldest article (the planner
    # expects the window's rows spread evenly); this one reads the first_seen index
    row = conn.execute("SELECT min(id + 0) AS first FROM articles WHERE first_seen >= %s", [since]).fetchone()
    return int(row["first"]) - 1 if row and row["first"] is not None else None


def members_page(conn: Conn, since: datetime, after: int, limit: int) -> list[StoryMember]:
    """Up to `limit` articles (not copies) with a story, first seen since `since`, with an id over
    `after`, in arrival order."""
    found = conn.execute(
        "SELECT id, story_id, title, text, url, published, first_seen FROM articles WHERE id > %s"
        " AND story_id IS NOT NULL AND first_seen >= %s AND copy_of IS NULL ORDER BY id LIMIT %s",
        [after, since, limit],
    ).fetchall()
    return [story_member(POSTGRES, r) for r in found]


def index_story_terms(conn: Conn, story_id: int, terms: list[str], when: datetime) -> None:
    """Add an article's query terms to its story's entry (the newest first, bounded)."""
    row = conn.execute("SELECT terms FROM story_terms WHERE story_id = %s FOR UPDATE", [story_id]).fetchone()
    kept = list(dict.fromkeys([*terms, *(row["terms"].split() if row else [])]))[:MAX_TERMS]
    conn.execute(
        """INSERT INTO story_terms (story_id, terms) VALUES (%s, %s)
           ON CONFLICT (story_id) DO UPDATE SET terms = excluded.terms""",
        [story_id, " ".join(kept)],
    )
    conn.execute("UPDATE stories SET last_at = greatest(last_at, %s) WHERE id = %s", [when, story_id])


def story_candidates(conn: Conn, terms: list[str], since: datetime, limit: int) -> list[int]:
    """Stories active since `since` sharing terms with the query, best (ts_rank) first."""
    words = [t for t in terms if t.isalnum()]  # letters and digits only: safe in a tsquery
    if not words:
        return []
    found = conn.execute(
        """SELECT s.id FROM story_terms t JOIN stories s ON s.id = t.story_id,
           to_tsquery('simple', %s) AS q
           WHERE t.search @@ q AND s.last_at >= %s ORDER BY ts_rank(t.search, q) DESC, s.id LIMIT %s""",
        [" | ".join(words), since, limit],
    ).fetchall()
    return [int(r["id"]) for r in found]


def _first_reported(
    conn: Conn, story_id: int, article_id: int, target: str | None, digest_id: int | None
) -> datetime | None:
    row = conn.execute(
        """SELECT min(d.created_at) AS first FROM digest_items di JOIN digests d ON d.id = di.digest_id
           JOIN matches m ON m.id = di.match_id JOIN articles a ON a.id = m.article_id
           WHERE a.story_id = %(story)s AND a.id != %(article)s
           AND (%(target)s::text IS NULL OR di.target = %(target)s)
           AND (%(digest)s::bigint IS NULL OR di.digest_id < %(digest)s)""",
        {"story": story_id, "article": article_id, "target": target, "digest": digest_id},
    ).fetchone()
    return row["first"] if row else None


def enrich(
    conn: Conn, found: list[MatchItem], target: str | None = None, digest_id: int | None = None
) -> list[MatchItem]:
    """Add the copies ("also in"), the story (more coverage when another of its articles was in
    an earlier digest for `target`) and, for an update, the reported change (store.matches.enrich)."""
    out = []
    for m in found:
        row = conn.execute("SELECT story_id FROM articles WHERE id = %s", [m.article_id]).fetchone()
        story = row["story_id"] if row else None
        if story is not None:
            reported = _first_reported(conn, int(story), m.article_id, target, digest_id)
            m = replace(
                m,
                story=f"story-{story}",
                story_status="more" if reported is not None else "new",
                story_first_reported=reported,
            )
        diff = None
        if m.changed:
            ids = _members(conn, m.article_id)
            diff = reported_change(conn, ids, True) or reported_change(conn, ids, False)
        out.append(replace(m, also_in=tuple(_also_in(conn, m.article_id)), diff=diff))
    return out


# --- re-checks ---------------------------------------------------------------------------------


def due_rechecks(conn: Conn, now: datetime, limit: int) -> list[Recheck]:
    """Articles read from their page whose re-check is due, most overdue first."""
    found = conn.execute(
        """SELECT a.*, f.url AS feed_url FROM articles a JOIN feeds f ON f.id = a.feed_id
           WHERE a.next_check_at IS NOT NULL AND a.next_check_at <= %s AND a.url IS NOT NULL
           AND a.extraction = 'page' ORDER BY a.next_check_at, a.id LIMIT %s""",
        [now, limit],
    ).fetchall()
    return [recheck(POSTGRES, r) for r in found]


def set_recheck(
    conn: Conn, article_id: int, next_at: datetime | None, etag: str | None, last_modified: str | None
) -> None:
    conn.execute(
        """UPDATE articles SET next_check_at = %s, page_etag = coalesce(%s, page_etag),
           page_last_modified = coalesce(%s, page_last_modified) WHERE id = %s""",
        [next_at, etag, last_modified, article_id],
    )
