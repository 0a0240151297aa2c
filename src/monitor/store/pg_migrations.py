"""Numbered schema migrations for PostgreSQL: plain SQL, each applied once, in order.

Append only (a new table, column or index is a new `Migration` at the end). Each runs in the
opening transaction under an advisory lock, so workers starting together on an empty database
apply it once. The applied names are kept in `monitor_migrations`.

The schema mirrors the SQLite one (store/migrations.py) with native types: timestamptz for
times, text[] for lists, and a generated tsvector with a GIN index where SQLite has FTS5.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import psycopg


class Migration(NamedTuple):
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "m001_initial",
        """
        CREATE TABLE feeds (
            id bigserial PRIMARY KEY,
            url text NOT NULL UNIQUE,
            name text,
            tags text[] NOT NULL DEFAULT '{}',
            interval double precision,
            full_text boolean NOT NULL DEFAULT true,
            title text,
            etag text,
            last_modified text,
            status text NOT NULL DEFAULT 'active',
            last_fetch_at timestamptz,
            last_success_at timestamptz,
            next_due_at timestamptz,
            error_count integer NOT NULL DEFAULT 0,
            last_error text,
            last_error_at timestamptz,
            last_warning text,
            entries integer NOT NULL DEFAULT 0,
            fetch_url text
        );
        CREATE INDEX feeds_due ON feeds (next_due_at) WHERE status = 'active';

        CREATE TABLE articles (
            id bigserial PRIMARY KEY,
            feed_id bigint NOT NULL REFERENCES feeds (id),
            entry_id text NOT NULL,
            entry_hash text,
            url text,
            canonical_url text,
            title text,
            published timestamptz,
            first_seen timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            summary text,
            text text,
            content_hash text,
            extraction text,
            author text,
            language text,
            -- 'simple': no stemming, like SQLite's unicode61 tokenizer (the same query finds the same articles)
            search tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A')
                || setweight(to_tsvector('simple'::regconfig, coalesce(text, '')), 'B')
            ) STORED,
            UNIQUE (feed_id, entry_id)
        );
        CREATE INDEX articles_canonical_url ON articles (canonical_url);
        CREATE INDEX articles_url ON articles (url);
        CREATE INDEX articles_first_seen ON articles (first_seen);
        CREATE INDEX articles_search ON articles USING gin (search);

        CREATE TABLE matches (
            id bigserial PRIMARY KEY,
            article_id bigint NOT NULL UNIQUE REFERENCES articles (id),
            score double precision NOT NULL,
            nearest_seed text,
            facets text[] NOT NULL DEFAULT '{}',
            terms text[] NOT NULL DEFAULT '{}',
            sentence text,
            matched_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            revision integer NOT NULL DEFAULT 1,
            status text NOT NULL DEFAULT 'active'
        );
        CREATE INDEX matches_active ON matches (score DESC, id) WHERE status = 'active';

        CREATE TABLE digests (
            id bigserial PRIMARY KEY,
            target text NOT NULL,
            created_at timestamptz NOT NULL,
            status text NOT NULL,
            delivered_at timestamptz,
            count integer NOT NULL DEFAULT 0,
            attempts integer NOT NULL DEFAULT 0,
            last_error text
        );
        CREATE INDEX digests_pending ON digests (target, id) WHERE status = 'pending';

        -- Exactly once per target: one row per (target, match, revision) across all digests.
        CREATE TABLE digest_items (
            digest_id bigint NOT NULL REFERENCES digests (id),
            target text NOT NULL,
            match_id bigint NOT NULL REFERENCES matches (id),
            revision integer NOT NULL,
            UNIQUE (target, match_id, revision)
        );
        CREATE INDEX digest_items_digest ON digest_items (digest_id);

        CREATE TABLE judgments (
            article_id bigint PRIMARY KEY REFERENCES articles (id),
            relevant boolean NOT NULL,
            judged_at timestamptz NOT NULL
        );

        CREATE TABLE service (key text PRIMARY KEY, value text);
        """,
    ),
    Migration(
        "m002_feed_version",
        """
        -- Bumped by every write of a poll's outcome: a job that read the feed at an older version
        -- (a paused worker whose job was retried elsewhere) cannot write its stale result.
        ALTER TABLE feeds ADD COLUMN version bigint NOT NULL DEFAULT 0;
        """,
    ),
    Migration(
        "m003_changes",
        """
        -- Mirrors SQLite's m004_changes (docs/changes.md): each article's identity across feeds
        -- (url key, copy of), its page validators and re-check time, and its story.
        ALTER TABLE articles
            ADD COLUMN url_key text,
            ADD COLUMN title_key text,
            ADD COLUMN copy_of bigint REFERENCES articles (id),
            ADD COLUMN page_etag text,
            ADD COLUMN page_last_modified text,
            ADD COLUMN next_check_at timestamptz,
            ADD COLUMN story_id bigint;
        CREATE INDEX articles_url_key ON articles (url_key);
        CREATE INDEX articles_title_key ON articles (title_key, feed_id);
        CREATE INDEX articles_copy_of ON articles (copy_of);
        CREATE INDEX articles_next_check_at ON articles (next_check_at) WHERE next_check_at IS NOT NULL;
        CREATE INDEX articles_story_id ON articles (story_id);

        CREATE TABLE article_versions (
            id bigserial PRIMARY KEY,
            article_id bigint NOT NULL REFERENCES articles (id),
            number integer NOT NULL,
            seen_at timestamptz NOT NULL,
            title text,
            text text,
            extraction text,
            content_hash text,
            material boolean NOT NULL DEFAULT false,
            significance double precision NOT NULL DEFAULT 0,
            summary text,
            reason text,
            diff text,  -- JSON list of [op, before, after]; NULL for the first version
            UNIQUE (article_id, number)
        );

        -- LSH band keys of recent articles (rows older than the copy window are deleted).
        CREATE TABLE copy_bands (
            band text NOT NULL,
            article_id bigint NOT NULL REFERENCES articles (id),
            seen_at timestamptz NOT NULL
        );
        CREATE INDEX copy_bands_band ON copy_bands (band);
        CREATE INDEX copy_bands_seen_at ON copy_bands (seen_at);

        CREATE TABLE stories (
            id bigserial PRIMARY KEY,
            created_at timestamptz NOT NULL,
            last_at timestamptz NOT NULL,
            articles integer NOT NULL DEFAULT 0
        );
        CREATE INDEX stories_last_at ON stories (last_at);

        -- A story's distinctive recent terms; a tsvector with a GIN index where SQLite has FTS5.
        CREATE TABLE story_terms (
            story_id bigint PRIMARY KEY REFERENCES stories (id),
            terms text NOT NULL,
            search tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, terms)) STORED
        );
        CREATE INDEX story_terms_search ON story_terms USING gin (search);

        -- Articles stored before this migration: their current text is version 1.
        INSERT INTO article_versions (article_id, number, seen_at, title, text, extraction,
            content_hash, material, significance, summary, reason)
        SELECT id, 1, updated_at, title, text, extraction, content_hash, false, 0,
            'first version', 'first version' FROM articles;
        """,
    ),
    Migration(
        "m004_scale",
        """
        -- Mirrors SQLite's m005_scale (docs/scaling.md). The search vector was a generated
        -- column, recomputed by every UPDATE of the row (copy, story and re-check columns are
        -- written after the insert): now a trigger computes it when the title or text change.
        ALTER TABLE articles ALTER COLUMN search DROP EXPRESSION;
        CREATE FUNCTION articles_search() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.search := setweight(to_tsvector('simple'::regconfig, coalesce(NEW.title, '')), 'A')
                || setweight(to_tsvector('simple'::regconfig, coalesce(NEW.text, '')), 'B');
            RETURN NEW;
        END $$;
        CREATE TRIGGER articles_search BEFORE INSERT OR UPDATE OF title, text ON articles
            FOR EACH ROW EXECUTE FUNCTION articles_search();
        -- a story's first report joins digest items by match
        CREATE INDEX digest_items_match ON digest_items (match_id);
        -- retention walks articles in (first_seen, id) order from its mark
        DROP INDEX articles_first_seen;
        CREATE INDEX articles_first_seen ON articles (first_seen, id);
        """,
    ),
    Migration(
        "m005_host_politeness",
        """
        -- Politeness across machines (store/pg_hosts.py): per host, the next time a request may
        -- start (spacing) and `per_host` leased slots (requests in flight).
        CREATE TABLE host_turns (
            host text PRIMARY KEY,
            next_at timestamptz NOT NULL DEFAULT '-infinity'
        );
        CREATE TABLE host_slots (
            host text NOT NULL,
            slot integer NOT NULL,
            holder text,
            until timestamptz NOT NULL DEFAULT '-infinity',
            PRIMARY KEY (host, slot)
        );
        """,
    ),
    Migration(
        "m006_story_state",
        """
        -- The story engine's state (monitor.storyline): one row per story, the stream's document
        -- frequencies, and the article count with the state version. No foreign key to stories
        -- (rows are read joined to the stories grown in the replay window).
        CREATE TABLE story_state (
            story_id bigint PRIMARY KEY,
            state text NOT NULL
        );
        CREATE TABLE story_df (
            term text PRIMARY KEY,
            df bigint NOT NULL,
            prior double precision NOT NULL
        );
        CREATE TABLE story_engine (
            id integer PRIMARY KEY CHECK (id = 1),
            version integer NOT NULL,
            articles bigint NOT NULL
        );
        """,
    ),
    Migration(
        "m007_scorer_state",
        """
        -- What the scorer learnt from the judgments (store/pg_scorer_state.py): one row, under the
        -- key of the seeds, weights, scoring code and judgments it was learnt from.
        CREATE TABLE scorer_state (
            id integer PRIMARY KEY CHECK (id = 1),
            key text NOT NULL,
            state text NOT NULL,
            saved_at timestamptz NOT NULL
        );
        """,
    ),
)

# Any constant shared by every process of this project: serialises concurrent migrations.
_LOCK_KEY = 0x6D6F6E69746F72  # "monitor"


def lock_migrations(conn: psycopg.Connection[dict[str, Any]]) -> None:
    """Held until the caller's transaction ends: one schema change at a time, across machines."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def migrate(conn: psycopg.Connection[dict[str, Any]]) -> None:
    """Apply pending migrations; the caller holds the transaction."""
    lock_migrations(conn)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS monitor_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL)"
    )
    applied = {row["name"] for row in conn.execute("SELECT name FROM monitor_migrations").fetchall()}
    for migration in MIGRATIONS:
        if migration.name not in applied:
            conn.execute(migration.sql.encode())  # several statements: sent as one simple query
            conn.execute("INSERT INTO monitor_migrations (name, applied_at) VALUES (%s, now())", [migration.name])


def schema_version(conn: psycopg.Connection[dict[str, Any]]) -> int:
    row = conn.execute("SELECT count(*) AS n FROM monitor_migrations").fetchone()
    return int(row["n"]) if row else 0
