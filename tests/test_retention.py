"""settings.retention: parsed from feeds.yaml, run by `monitor poll`, `monitor prune` and in
batches with a time budget (the storage rules themselves: tests/test_storage.py, both backends)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from factories import MISS, article
from helpers import SEEDS, rss, run, write_feeds
from httpserver import TestServer
from monitor import app_retention
from monitor.app import App, Paths, prune_expired
from monitor.config import load_settings
from monitor.errors import ConfigError
from monitor.models import FeedSpec, Settings
from monitor.store import SqliteStore

FETCH = {"allow_hosts": ["127.0.0.1"], "host_spacing": 0, "timeout": 5, "deadline": 15}


@pytest.mark.parametrize(("value", "seconds"), [("90d", 90 * 86400), ("7d", 7 * 86400), (False, None), (None, None)])
def test_retention_is_a_duration_of_at_least_a_week_or_off(tmp_path: Path, value: object, seconds: float) -> None:
    settings = {"fetch": FETCH} if value is None else {"fetch": FETCH, "retention": value}
    assert load_settings(write_feeds(tmp_path / "f.yaml", [], settings)).retention == seconds


@pytest.mark.parametrize("value", ["3d", "soon", 0, True])
def test_a_short_or_unreadable_retention_is_one_clear_error(tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigError, match=r"settings.retention: must be a duration of at least 7d \(e.g. 90d\) or off"):
        load_settings(write_feeds(tmp_path / "f.yaml", [], {"fetch": FETCH, "retention": value}))


def _old_miss(db: Path, feed: str, entries: int = 1) -> None:
    """Articles first seen 60 days ago that never matched."""
    with SqliteStore(db) as store:
        store.sync_feeds([FeedSpec(url=feed, name="local", full_text=False)])
        long_ago = datetime.now(UTC) - timedelta(days=60)
        for n in range(entries):
            store.save_article(feed, article(f"old{n}", feed_url=feed, summary="old text"), "h", MISS, long_ago)


def _texts(db: Path) -> list[str | None]:
    return [r[0] for r in sqlite3.connect(db).execute("SELECT text FROM articles WHERE entry_id LIKE 'old%'")]


def test_monitor_poll_drops_old_unreported_texts(tmp_path: Path, server: TestServer) -> None:
    server.add("/feed.xml", rss([{"title": "Today", "link": server.url("/today"), "description": "new text"}]))
    feed = server.url("/feed.xml")
    settings = {"fetch": FETCH, "retention": "30d"}
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": feed, "full_text": False}], settings)
    _old_miss(tmp_path / "m.db", feed)
    result = run("--feeds", feeds, "--seeds", SEEDS, "--db", tmp_path / "m.db", "poll")
    assert result.exit_code == 0, result.output
    assert "1 article texts older than settings.retention dropped" in result.output
    assert _texts(tmp_path / "m.db") == [None]


def test_monitor_prune_runs_to_the_end_and_needs_the_setting(tmp_path: Path) -> None:
    feed = "http://127.0.0.1:9/feed.xml"
    _old_miss(tmp_path / "m.db", feed, entries=3)
    common = ["--seeds", SEEDS, "--db", tmp_path / "m.db"]
    off = run("--feeds", write_feeds(tmp_path / "off.yaml", [{"url": feed}], {"fetch": FETCH}), *common, "prune")
    assert (off.exit_code, off.output.strip().count("\n")) == (2, 0)
    assert "settings.retention is not set" in off.output and _texts(tmp_path / "m.db") == ["old text"] * 3
    on = write_feeds(tmp_path / "on.yaml", [{"url": feed}], {"fetch": FETCH, "retention": "30d"})
    result = run("--feeds", on, *common, "prune")
    assert (result.exit_code, result.output) == (0, "3 article texts dropped\n")
    assert _texts(tmp_path / "m.db") == [None, None, None]


def test_a_tick_does_a_bounded_amount_and_the_next_continues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    feed = "http://127.0.0.1:9/feed.xml"
    _old_miss(tmp_path / "m.db", feed, entries=3)
    monkeypatch.setattr(app_retention, "PRUNE_BATCH", 1)
    store = SqliteStore(tmp_path / "m.db")
    paths = Paths(feeds=tmp_path / "feeds.yaml", seeds=SEEDS, db=tmp_path / "m.db")
    a = App(paths=paths, settings=Settings(feeds=(), retention=30 * 86400.0), store=store)
    try:
        assert prune_expired(a, seconds=0) == 1  # the budget is spent after the first batch
        assert prune_expired(a, seconds=None) == 2
        assert prune_expired(a, seconds=None) == 0
    finally:
        a.close()
