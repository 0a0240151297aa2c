"""Saving one processed entry in one transaction: the article row, its version, its identity
across feeds, and the match lifecycle applied to the article it is reported under.

* A degraded read (the page failed and the feed's text stood in for an article read from its
  page before) keeps the stored text: a 500, a fetch error or a blank page is never a version.
* A new distinct text is a version; it re-reports the article (a new match revision) only when
  material, or with `notify="all"` for any new version.
* A copy (changes.copies) never gets its own match: its original is reported, and a copy that
  matches makes an unreported original a match; a copy that does not match demotes nothing.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from ..models import Article, Score
from . import articles, copies, matches, versions
from .common import one
from .lifecycle import MatchChange
from .records import SavedArticle
from .shared import SQLITE, kept_text, reports_change, saved_article


def save(
    conn: sqlite3.Connection,
    feed_url: str,
    article: Article,
    entry_hash: str,
    score: Score,
    now: datetime,
    notify: str = "material",
    shingles: frozenset[int] | None = None,
    bands: tuple[str, ...] | None = None,
) -> SavedArticle:
    before = articles.previous(conn, feed_url, article.entry.id)
    article = kept_text(article, before)
    if before is None:
        feed = articles.feed_id(conn, feed_url)
        identity = copies.identify(conn, feed, article, now, shingles, bands)
        article_id = articles.insert(conn, feed, article, entry_hash, now, identity)
        copies.record_bands(conn, article_id, identity.bands, now)
        original = identity.copy_of
    else:
        article_id, original = int(before["id"]), before["copy_of"]
        articles.update(conn, article_id, int(before["feed_id"]), article, entry_hash, now)
    verdict = versions.record(conn, article_id, article, now)
    changed = reports_change(verdict, notify)
    change = _match(conn, article_id, original, score, now, changed)
    target = original if original is not None else article_id
    active = matches.status(conn, target) == "active"
    reported = one(conn, "SELECT first_seen FROM articles WHERE id = ?", [target]) if active else None
    return saved_article(SQLITE, article_id, before, original, verdict, change, reported)


def _match(
    conn: sqlite3.Connection, article_id: int, original: int | None, score: Score, now: datetime, changed: bool
) -> MatchChange | None:
    if original is None:
        return matches.save_score(conn, article_id, score, now, changed)
    return copy_match(conn, original, score, now, changed)


def copy_match(
    conn: sqlite3.Connection, original: int, score: Score, now: datetime, changed: bool
) -> MatchChange | None:
    """A copy's score: only a matching copy may speak for its original, and only to add news."""
    if not score.match:
        return None
    if matches.status(conn, original) == "active" and not changed:
        return None
    return matches.save_score(conn, original, score, now, changed)
