from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import StorageError
from monitor.extract import build_article
from monitor.models import Entry, FeedSpec, Score
from monitor.store import MIGRATIONS, Store

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
FEED = "http://127.0.0.1/feed.xml"


def _article(i: str, text: str = "body text", title: str = "Title"):  # type: ignore[no-untyped-def]
    e = Entry(
        id=i, feed_url=FEED, title=f"{title} {i}", link=f"http://127.0.0.1/{i}", published=NOW, summary=text, content=""
    )
    return build_article(e, None, None)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "m.db")
    s.sync_feeds([FeedSpec(url=FEED, name="local")])
    return s


def test_migrations_run_once_and_wal_is_on(tmp_path: Path) -> None:
    Store(tmp_path / "m.db").close()
    s = Store(tmp_path / "m.db")
    assert s.schema_version == len(MIGRATIONS)
    con = sqlite3.connect(tmp_path / "m.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT count(*) FROM migrations").fetchone()[0] == len(MIGRATIONS)


def test_articles_are_stored_once_and_changes_bump_the_match_revision(store: Store) -> None:
    hit = Score(value=0.9, match=True, nearest_seed="s.txt", terms=("a",))
    miss = Score(value=0.1, match=False)
    _, new = store.save_article(FEED, _article("1"), "h1", hit, NOW)
    assert new is True
    _, new = store.save_article(FEED, _article("2"), "h2", miss, NOW)
    assert new is False
    _, again = store.save_article(FEED, _article("1"), "h1", hit, NOW)
    assert again is False  # same content: not news
    assert store.counts() == {"articles": 2, "matches": 1, "feeds": 1}
    _, updated = store.save_article(FEED, _article("1", text="corrected body"), "h1b", hit, NOW)
    assert updated is True
    assert store.undelivered("t")[0].changed is True
    assert store.known_entries(FEED) == {"1": "h1b", "2": "h2"}


def test_digest_reservation_is_exactly_once_per_target(store: Store) -> None:
    hit = Score(value=0.9, match=True)
    store.save_article(FEED, _article("1"), "h1", hit, NOW)
    items = store.undelivered("email:a@b.c")
    assert len(items) == 1
    digest_id = store.reserve_digest("email:a@b.c", items, NOW)
    assert store.undelivered("email:a@b.c") == []  # reserved: a second run cannot take it
    assert len(store.undelivered("file:digests")) == 1  # other targets are independent
    pending = store.pending_digests("email:a@b.c")
    assert [(d, [m.article_id for m in ms]) for d, _, ms in pending] == [(digest_id, [items[0].article_id])]
    store.finish_digest(digest_id, NOW, error="SMTP refused")
    assert len(store.pending_digests("email:a@b.c")) == 1
    store.finish_digest(digest_id, NOW + timedelta(minutes=1))
    assert store.pending_digests("email:a@b.c") == []
    assert store.digests()[0]["status"] == "delivered" and store.digests()[0]["attempts"] == 2


def test_rescore_demotes_and_promotes(store: Store) -> None:
    aid, _ = store.save_article(FEED, _article("1"), "h1", Score(value=0.2, match=False), NOW)
    assert store.rescore_article(aid, Score(value=0.8, match=True), NOW) == "new"
    assert store.rescore_article(aid, Score(value=0.8, match=True), NOW) == "kept"
    assert store.rescore_article(aid, Score(value=0.1, match=False), NOW) == "demoted"
    assert store.top_matches() == []


def test_full_text_search_and_judgments(store: Store) -> None:
    aid, _ = store.save_article(
        FEED, _article("1", text="ammunition shipment to the junta"), "h", Score(0.1, False), NOW
    )
    store.save_article(FEED, _article("2", text="football results"), "h", Score(0.1, False), NOW)
    assert [a.id for a in store.search("ammunition")] == [aid]
    store.judge(aid, True, NOW)
    store.judge(aid, False, NOW)  # the latest verdict wins
    judgments = store.judgments()
    assert len(judgments) == 1 and judgments[0].relevant is False
    assert store.find_article("http://127.0.0.1/1") is not None
    assert store.find_article(str(aid)) is not None and store.find_article("999") is None


def test_unopenable_database_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="cannot open database"):
        Store(tmp_path / "file" / "m.db")
    (tmp_path / "garbage.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StorageError):
        Store(tmp_path / "garbage.db")
