"""SQL for article identity across feeds (changes.copies does the deciding).

A new article is a copy of an earlier one when (in this order) its canonical URL key is known,
the same feed published the same title and text within a day under another guid/URL (identity
repair), or its text is a confirmed near-duplicate of an article that shares one of its MinHash
band keys in the copy window. A copy points at the original (`copy_of`), never at a copy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..changes.copies import band_keys, confirm, same_article, shingles, signature, url_key
from ..changes.text import WORD_RE, fold
from ..models import Article
from .common import from_iso, iso, rows

WINDOW = timedelta(days=3)  # band keys older than this are deleted
MAX_CANDIDATES = 32  # articles confirmed by exact overlap at most, per new article


def key_of(article: Article) -> str | None:
    if not article.url and not article.canonical_url:
        return None
    url = article.url or article.canonical_url or ""
    return url_key(url, article.canonical_url)


@dataclass(frozen=True)
class Identity:
    """A new article's identity columns (its row is inserted with them) and its band keys."""

    url_key: str | None
    title_key: str
    copy_of: int | None  # the original (never a copy), or None
    bands: tuple[str, ...]


def decide(
    article: Article,
    known: frozenset[int] | None,
    known_bands: tuple[str, ...] | None,
    by_key: Callable[[str], int | None],
    repaired: Callable[[str], int | None],
    near_duplicate: Callable[[frozenset[int], tuple[str, ...]], int | None],
) -> Identity:
    """A new article's identity, whatever the backend (its look-ups are given): the original of
    its URL key, else the entry a feed re-keyed (by its title key), else a near-duplicate by band
    keys; `known`/`known_bands`: the shingles and band keys, when computed already (by a worker)."""
    key = key_of(article)
    heading = title_key(article.title)
    found = by_key(key) if key else None
    if found is None:
        found = repaired(heading)
    sh = shingles(article.text) if known is None else known
    bands = band_keys(signature(sh)) if known_bands is None else known_bands
    if found is None and bands:
        found = near_duplicate(sh, bands)
    return Identity(key, heading, found, bands)


def identify(
    conn: sqlite3.Connection,
    feed_id: int,
    article: Article,
    now: datetime,
    known: frozenset[int] | None = None,
    known_bands: tuple[str, ...] | None = None,
) -> Identity:
    """The identity of a new article, decided before its row exists (so the row is written once,
    with it: an UPDATE would rewrite the row and its text); see `decide`."""
    return decide(
        article,
        known,
        known_bands,
        lambda key: _by_key(conn, key),
        lambda heading: _repaired(conn, heading, feed_id, article, now),
        lambda sh, bands: _near_duplicate(conn, sh, bands, now),
    )


def record_bands(conn: sqlite3.Connection, article_id: int, bands: tuple[str, ...], now: datetime) -> None:
    """Keep the article's band keys for the copy window (and drop those older than it)."""
    conn.execute("DELETE FROM copy_bands WHERE seen_at < ?", (iso(now - WINDOW),))
    seen_at = iso(now)
    conn.executemany(
        "INSERT INTO copy_bands (band, article_id, seen_at) VALUES (?, ?, ?)", [(b, article_id, seen_at) for b in bands]
    )


def _root(conn: sqlite3.Connection, article_id: int) -> int:
    row = conn.execute("SELECT coalesce(copy_of, id) FROM articles WHERE id = ?", (article_id,)).fetchone()
    return int(row[0]) if row else article_id


def _by_key(conn: sqlite3.Connection, key: str) -> int | None:
    row = conn.execute(
        "SELECT coalesce(copy_of, id) FROM articles WHERE url_key = ? ORDER BY id LIMIT 1", (key,)
    ).fetchone()
    return int(row[0]) if row else None


def _repaired(conn: sqlite3.Connection, heading: str, feed_id: int, article: Article, now: datetime) -> int | None:
    """A feed that changed an entry's guid or URL: same title and text within a day."""
    for r in rows(
        conn,
        """SELECT id, title, text, published, first_seen FROM articles
           WHERE title_key = ? AND +feed_id = ? AND first_seen >= ? ORDER BY id DESC LIMIT 20""",
        [heading, feed_id, iso(now - timedelta(days=1))],
    ):
        when = from_iso(r["published"]) or from_iso(r["first_seen"])
        if same_article(r["title"] or "", r["text"] or "", when, article.title, article.text, article.published or now):
            return _root(conn, int(r["id"]))
    return None


def title_key(title: str) -> str:
    """The headline's folded words: the repair rule's first test, indexed."""
    return " ".join(fold(w) for w in WORD_RE.findall(title))


def _near_duplicate(conn: sqlite3.Connection, sh: frozenset[int], bands: tuple[str, ...], now: datetime) -> int | None:
    marks = ",".join("?" * len(bands))
    candidates = rows(
        conn,
        f"""SELECT b.article_id, count(*) AS shared FROM copy_bands b
            WHERE b.band IN ({marks}) AND b.seen_at >= ?
            GROUP BY b.article_id ORDER BY shared DESC, b.article_id LIMIT ?""",
        [*bands, iso(now - WINDOW), MAX_CANDIDATES],
    )
    for c in candidates:
        other = conn.execute("SELECT text FROM articles WHERE id = ?", (c["article_id"],)).fetchone()
        if other is not None and confirm(sh, shingles(other[0] or "")).is_copy:
            return _root(conn, int(c["article_id"]))
    return None


def also_in(conn: sqlite3.Connection, root: int) -> list[tuple[str, str]]:
    """(url, feed) of the copies of an article, oldest first, one per feed."""
    found = rows(
        conn,
        """SELECT a.url, a.canonical_url, coalesce(f.name, f.url) AS feed FROM articles a
           JOIN feeds f ON f.id = a.feed_id
           WHERE a.copy_of = ? AND a.feed_id != (SELECT feed_id FROM articles WHERE id = ?)
           ORDER BY a.id""",
        [root, root],
    )
    out: dict[str, str] = {}
    for r in found:
        out.setdefault(r["feed"], r["url"] or r["canonical_url"] or "")
    return [(url, feed) for feed, url in out.items()]


def members(conn: sqlite3.Connection, root: int) -> list[int]:
    return [root] + [int(r[0]) for r in conn.execute("SELECT id FROM articles WHERE copy_of = ?", (root,))]
