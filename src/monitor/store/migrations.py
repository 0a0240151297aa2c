"""Numbered schema migrations for SQLite (sqlite-utils' Migrations: each runs once, in order).

Append only. Databases made before the move to sqlite-utils' mechanism kept their applied
versions in a `migrations` table; `bridge_legacy` records those under the numbered names so an
existing database upgrades in place.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

MIGRATIONS = Migrations("monitor")


@MIGRATIONS()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("feeds").create(
        {
            "id": int,
            "url": str,
            "name": str,
            "tags": str,
            "interval": float,
            "full_text": int,
            "title": str,
            "etag": str,
            "last_modified": str,
            "status": str,
            "last_fetch_at": str,
            "last_success_at": str,
            "next_due_at": str,
            "error_count": int,
            "last_error": str,
            "last_error_at": str,
            "last_warning": str,
            "entries": int,
        },
        pk="id",
        not_null={"url"},
        defaults={"status": "active", "error_count": 0, "entries": 0, "full_text": 1},
    )
    db.table("feeds").create_index(["url"], unique=True)
    _articles(db)
    db.table("matches").create(
        {
            "id": int,
            "article_id": int,
            "score": float,
            "explanation": str,
            "nearest_seed": str,
            "facets": str,
            "terms": str,
            "sentence": str,
            "matched_at": str,
            "updated_at": str,
            "revision": int,
            "status": str,
        },
        pk="id",
        foreign_keys=[("article_id", "articles", "id")],
        defaults={"revision": 1, "status": "active"},
    )
    db.table("matches").create_index(["article_id"], unique=True)
    _digests(db)
    db.table("judgments").create(
        {"article_id": int, "relevant": int, "judged_at": str},
        pk="article_id",
        foreign_keys=[("article_id", "articles", "id")],
    )
    db.table("service").create({"key": str, "value": str}, pk="key")


def _articles(db: sqlite_utils.Database) -> None:
    db.table("articles").create(
        {
            "id": int,
            "feed_id": int,
            "entry_id": str,
            "entry_hash": str,
            "url": str,
            "canonical_url": str,
            "title": str,
            "published": str,
            "first_seen": str,
            "updated_at": str,
            "summary": str,
            "text": str,
            "content_hash": str,
            "extraction": str,
            "author": str,
            "language": str,
        },
        pk="id",
        foreign_keys=[("feed_id", "feeds", "id")],
    )
    db.table("articles").create_index(["feed_id", "entry_id"], unique=True)
    db.table("articles").create_index(["canonical_url"])
    db.table("articles").create_index(["first_seen"])
    db.table("articles").enable_fts(["title", "text"], create_triggers=True, tokenize="unicode61")


def _digests(db: sqlite_utils.Database) -> None:
    db.table("digests").create(
        {
            "id": int,
            "target": str,
            "created_at": str,
            "status": str,
            "delivered_at": str,
            "count": int,
            "attempts": int,
            "last_error": str,
        },
        pk="id",
        defaults={"attempts": 0},
    )
    db.table("digest_items").create(
        {"digest_id": int, "target": str, "match_id": int, "revision": int},
        foreign_keys=[("digest_id", "digests", "id"), ("match_id", "matches", "id")],
    )
    # Exactly once per target: one row per (target, match, revision) across all digests.
    db.table("digest_items").create_index(["target", "match_id", "revision"], unique=True)


@MIGRATIONS()
def m002_fetch_url(db: sqlite_utils.Database) -> None:
    """Where the feed is fetched from after a permanent redirect (NULL: the configured url).

    The row stays keyed by the url in feeds.yaml (the user's source of truth)."""
    db.execute("ALTER TABLE feeds ADD COLUMN fetch_url TEXT")


@MIGRATIONS()
def m003_explanation_from_parts(db: sqlite_utils.Database) -> None:
    """The explanation is derived from nearest_seed, facets and terms; the copy stored beside
    them could only disagree with them."""
    db.execute("ALTER TABLE matches DROP COLUMN explanation")


@MIGRATIONS()
def m004_changes(db: sqlite_utils.Database) -> None:
    """Versions of each article's text, its identity across feeds (url key, copy of), its page
    validators and re-check time, and the MinHash band keys of recent articles (docs/changes.md)."""
    for column in (
        "url_key TEXT",
        "title_key TEXT",
        "copy_of INTEGER REFERENCES articles(id)",
        "page_etag TEXT",
        "page_last_modified TEXT",
        "next_check_at TEXT",
        "story_id INTEGER",
    ):
        db.execute(f"ALTER TABLE articles ADD COLUMN {column}")
    db.execute("CREATE INDEX idx_articles_url_key ON articles (url_key)")
    db.execute("CREATE INDEX idx_articles_title_key ON articles (title_key)")
    db.execute("CREATE INDEX idx_articles_copy_of ON articles (copy_of)")
    db.execute("CREATE INDEX idx_articles_next_check_at ON articles (next_check_at)")
    db.execute("CREATE INDEX idx_articles_story_id ON articles (story_id)")
    db.table("article_versions").create(
        {
            "id": int,
            "article_id": int,
            "number": int,
            "seen_at": str,
            "title": str,
            "text": str,
            "extraction": str,
            "content_hash": str,
            "material": int,
            "significance": float,
            "summary": str,
            "reason": str,
            "diff": str,  # JSON list of [op, before, after]; NULL for the first version
        },
        pk="id",
        foreign_keys=[("article_id", "articles", "id")],
    )
    db.table("article_versions").create_index(["article_id", "number"], unique=True)
    # LSH band keys of recent articles: a copy candidate shares a key; rows older than the copy
    # window are deleted as new ones come in, so the table stays small and look-ups O(1).
    db.table("copy_bands").create(
        {"band": str, "article_id": int, "seen_at": str},
        foreign_keys=[("article_id", "articles", "id")],
    )
    db.table("copy_bands").create_index(["band"])
    db.table("copy_bands").create_index(["seen_at"])
    # Stories: articles about one event (changes.stories); an article's story is articles.story_id.
    db.table("stories").create({"id": int, "created_at": str, "last_at": str, "articles": int}, pk="id")
    db.table("stories").create_index(["last_at"])
    # A story's most distinctive recent terms (changes.stories query terms), rowid = story id:
    # the candidate stories of a new article are found here by BM25, within a window of days.
    db.execute("CREATE VIRTUAL TABLE story_terms USING fts5(terms, tokenize = 'unicode61')")
    # Versions for the articles stored before this migration: their current text is version 1.
    db.execute(
        """INSERT INTO article_versions (article_id, number, seen_at, title, text, extraction,
           content_hash, material, significance, summary, reason)
           SELECT id, 1, updated_at, title, text, extraction, content_hash, 0, 0.0,
           'first version', 'first version' FROM articles"""
    )


@MIGRATIONS()
def m005_scale(db: sqlite_utils.Database) -> None:
    """For a million articles (docs/scaling.md). The full-text index is refreshed only when a
    title or text changes: the update trigger fired on every article UPDATE (its copy, story and
    re-check columns are written after the insert), deleting and re-adding the whole text in
    FTS5 three or four times per new article. Digest items are looked up by match (a story's
    first report); retention walks articles by (first_seen, id) on the existing first_seen index."""
    db.execute("DROP TRIGGER IF EXISTS articles_au")
    db.execute(
        """CREATE TRIGGER articles_au AFTER UPDATE OF title, text ON articles BEGIN
             INSERT INTO articles_fts (articles_fts, rowid, title, text)
               VALUES ('delete', old.rowid, old.title, old.text);
             INSERT INTO articles_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
           END"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_digest_items_match_id ON digest_items (match_id)")


@MIGRATIONS()
def m006_story_state(db: sqlite_utils.Database) -> None:
    """The story engine's state (monitor.storyline), so a new process continues the stories
    without replaying the recent articles: one row per story (written with each placement), the
    document frequencies of the stream, and one row with the article count and state version.
    No foreign key to stories: a retention that drops old stories may drop their rows or leave
    them (rows are only read joined to the stories grown in the replay window)."""
    db.execute("CREATE TABLE story_state (story_id INTEGER PRIMARY KEY, state TEXT NOT NULL)")
    db.execute("CREATE TABLE story_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL, prior REAL NOT NULL) WITHOUT ROWID")
    db.execute(
        """CREATE TABLE story_engine (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL,
           articles INTEGER NOT NULL)"""
    )


@MIGRATIONS()
def m007_scorer_state(db: sqlite_utils.Database) -> None:
    """What the scorer learnt from the judgments (store/scorer_state.py), so a command that scores
    does not re-read and re-score every judged document: one row, under the key of the seeds,
    weights, scoring code and judgments it was learnt from."""
    db.execute(
        """CREATE TABLE scorer_state (id INTEGER PRIMARY KEY CHECK (id = 1), key TEXT NOT NULL,
           state TEXT NOT NULL, saved_at TEXT NOT NULL)"""
    )


# The hand-rolled table's version N is migration N here.
LEGACY_NAMES = ("m001_initial", "m002_fetch_url")


def bridge_legacy(db: sqlite_utils.Database) -> None:
    """Carry the versions recorded by the old `migrations` table over, then drop it."""
    if not db.table("migrations").exists():
        return
    MIGRATIONS.ensure_migrations_table(db)
    table = db.table(Migrations.migrations_table)
    for (version,) in db.execute("SELECT version FROM migrations ORDER BY version").fetchall():
        if 1 <= version <= len(LEGACY_NAMES):
            table.insert(
                {"migration_set": MIGRATIONS.name, "name": LEGACY_NAMES[version - 1], "applied_at": "legacy"},
                ignore=True,
            )
    db.execute("DROP TABLE migrations")


def migrate(db: sqlite_utils.Database) -> None:
    """Apply pending migrations; the caller holds the write transaction."""
    bridge_legacy(db)
    MIGRATIONS.apply(db)


def schema_version(db: sqlite_utils.Database) -> int:
    return len(MIGRATIONS.applied(db))
