"""Two `monitor poll` runs on a loopback server: the second process continues the stories from
the engine state the first one stored, without replaying, and places exactly as a replay of an
older store (one without the state) does."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from helpers import FIXTURES, SEEDS, rss, run, write_feeds
from httpserver import TestServer
from monitor.store import SqliteStore

ROWS = [json.loads(line) for line in (FIXTURES / "changes" / "ecbplus_slice.jsonl").read_text().splitlines()][::2]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIRST = 20  # articles in the feed at the first poll


def _poll(feeds: Path, db: Path) -> str:
    result = run("--feeds", feeds, "--seeds", SEEDS, "--db", db, "--log-level", "info", "poll")
    assert result.exit_code == 0, result.stderr
    return result.stderr


def _stories(db: Path) -> list[tuple[int, int]]:
    store = SqliteStore(db)
    try:
        return [(m.article_id, m.story_id) for m in store.story_members(EPOCH)]
    finally:
        store.close()


def test_a_second_poll_continues_the_stories_from_the_stored_state(server: TestServer, tmp_path: Path) -> None:
    items = [{"title": r["title"], "link": server.url(f"/a/{i}"), "description": r["text"]} for i, r in enumerate(ROWS)]
    feeds = write_feeds(
        tmp_path / "feeds.yaml", [{"url": server.url("/feed.xml"), "name": "local", "full_text": False}]
    )
    db, old = tmp_path / "m.db", tmp_path / "old.db"
    server.add("/feed.xml", rss(items[:FIRST]), content_type="application/rss+xml")
    assert "no stored engine state, replayed 0 articles" in _poll(feeds, db)  # a new store
    first = _stories(db)
    with sqlite3.connect(db) as src, sqlite3.connect(old) as dst:
        src.backup(dst)
        # the older version's store: stories, no engine state
        dst.execute("DELETE FROM story_state")
        dst.execute("DELETE FROM story_df")
        dst.execute("DELETE FROM story_engine")

    server.add("/feed.xml", rss(items), content_type="application/rss+xml")
    log = _poll(feeds, db)
    assert f"stories: {len({s for _, s in first})} loaded from the stored engine state" in log
    assert "replayed" not in log
    replay_log = _poll(feeds, old)
    assert f"replayed {len(first)} articles" in replay_log
    continued, replayed = _stories(db), _stories(old)
    assert continued[: len(first)] == first and len(continued) > len(first)
    assert continued == replayed
    assert len({s for _, s in continued}) > len({s for _, s in first})  # new stories came in the second poll
    store = SqliteStore(db)
    try:
        saved = store.load_story_engine(EPOCH)
        assert saved is not None and saved.articles == len(continued)
        assert {s for s, _ in saved.stories} == {s for _, s in continued} and all(st for _, st in saved.stories)
    finally:
        store.close()
