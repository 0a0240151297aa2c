"""What is particular to the SQLite backend: numbered migrations, WAL, upgrading an existing
database in place, and a clear error for a file that is not a database."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from factories import FEED, HIT, NOW, article
from monitor.errors import StorageError
from monitor.store import SqliteStore

LEGACY = Path(__file__).parent / "fixtures" / "db" / "monitor-89c6e26.sql"


def test_migrations_run_once_in_order_and_wal_is_on(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "m.db").close()
    with SqliteStore(tmp_path / "m.db") as store:
        assert store.schema_version == 7
    con = sqlite3.connect(tmp_path / "m.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = [r[0] for r in con.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
    assert names == [
        "m001_initial",
        "m002_fetch_url",
        "m003_explanation_from_parts",
        "m004_changes",
        "m005_scale",
        "m006_story_state",
        "m007_scorer_state",
    ]


def legacy_database(path: Path) -> Path:
    """A database as the release at 89c6e26 left it (see tests/fixtures/db/README.md)."""
    con = sqlite3.connect(path)
    con.executescript(LEGACY.read_text(encoding="utf-8"))
    con.close()
    return path


def test_a_database_made_by_the_previous_release_upgrades_in_place(tmp_path: Path) -> None:
    db = legacy_database(tmp_path / "old.db")
    with SqliteStore(db) as store:
        assert store.schema_version == 7
        counts = store.counts()
        assert (counts.articles, counts.matches, counts.feeds) == (3, 1, 2)
        [match] = store.top_matches()
        # the explanation the old release stored beside the parts is what the parts give now
        assert match.explanation == (
            "nearest seed 001_seed.txt | facets: Sahel: Mali, Niger; Russia: Wagner | terms: junta, drones"
        )
        assert match.changed is True  # revision 2, as it was
        assert [v.number for v in store.versions(match.article_id)] == [1]  # its current text is version 1
        assert [m.article_id for m in store.undelivered("file:digests")] == [match.article_id]
        [pending] = store.pending_digests("email:a@example.org")
        assert [m.article_id for m in pending.items] == [match.article_id]
        moved = store.feed_state("http://127.0.0.1/moved.xml")
        assert (moved.fetch_url, moved.etag, moved.error_count) == ("http://127.0.0.1/new.xml", '"n1"', 1)
        assert store.feed_state(FEED).etag == '"e1"'
        assert [j.relevant for j in store.judgments()] == [False]
        assert [a.title for a in store.search("junta")] == ["Story 1"]
        assert store.get_value("heartbeat") == "2026-11-23T07:00:00+00:00"
        # and it takes new writes
        assert store.save_article(FEED, article("9"), "h9", HIT, NOW).news is True
    con = sqlite3.connect(db)
    assert "explanation" not in [r[1] for r in con.execute("PRAGMA table_info(matches)")]
    assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'migrations'").fetchone()[0] == 0
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with SqliteStore(db) as again:  # opening twice changes nothing
        assert again.schema_version == 7 and again.counts().articles == 4


def test_unopenable_database_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="cannot open database"):
        SqliteStore(tmp_path / "file" / "m.db")
    (tmp_path / "garbage.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StorageError):
        SqliteStore(tmp_path / "garbage.db")


def test_times_are_stored_as_utc_text(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "m.db") as store:
        store.sync_feeds([])
        store.ensure_feed(FEED, "f", "active")
        local = datetime(2026, 11, 23, 9, 0, tzinfo=datetime.now(UTC).astimezone().tzinfo)
        aid = store.save_article(FEED, article("1"), "h", HIT, local).article_id
        found = store.find_article(str(aid))
        assert found is not None and found.first_seen == local and found.first_seen.tzinfo is not None


def test_a_batch_is_one_transaction_committed_on_leaving_and_rolled_back_whole(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "m.db") as store:
        store.sync_feeds([])
        store.ensure_feed(FEED, "f", "active")
        other = sqlite3.connect(tmp_path / "m.db")  # another reader: sees only committed rows
        with store.batch():
            store.save_article(FEED, article("1"), "h1", HIT, NOW)
            with store.batch():  # part of the outer one
                store.save_article(FEED, article("2"), "h2", HIT, NOW)
            store.save_article(FEED, article("7"), "h7", HIT, NOW)  # still in the outer one
            assert store.db.conn.in_transaction
            assert other.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
        assert not store.db.conn.in_transaction
        assert other.execute("SELECT count(*) FROM articles").fetchone()[0] == 3
        with pytest.raises(RuntimeError), store.batch():
            store.save_article(FEED, article("3"), "h3", HIT, NOW)
            raise RuntimeError("a bug after the first save")
        with pytest.raises(StorageError), store.batch():
            store.save_article(FEED, article("4"), "h4", HIT, NOW)
            store.save_article("http://127.0.0.1/unknown.xml", article("5"), "h5", HIT, NOW)
        assert store.counts().articles == 3 and not store.db.conn.in_transaction
        store.save_article(FEED, article("6"), "h6", HIT, NOW)  # outside a batch: its own transaction
        assert other.execute("SELECT count(*) FROM articles").fetchone()[0] == 4
        other.close()
