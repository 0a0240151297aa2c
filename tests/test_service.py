"""The service in-process (fast): one instance per database, the injected clock, a clean stop on
SIGTERM. tests/test_run_modes.py runs the real `monitor run` process (slow tier)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers import SEEDS, rss, write_feeds
from httpserver import TestServer
from monitor import app
from monitor.errors import ConfigError, StorageError
from monitor.service import InstanceLock, run_service
from monitor.store import SqliteStore


def test_one_service_per_database(tmp_path: Path) -> None:
    first = InstanceLock(tmp_path / "m.db")
    first.acquire()
    try:
        with pytest.raises(ConfigError, match=r"m\.db: already used by a running `monitor run` \(pid \d+\)"):
            InstanceLock(tmp_path / "m.db").acquire()
    finally:
        first.release()
    again = InstanceLock(tmp_path / "m.db")
    again.acquire()  # released: free again
    again.release()


def _fetched(db: Path, url: str) -> bool:
    if not db.exists():
        return False
    try:
        with SqliteStore(db) as store:
            return store.feed_state(url).last_fetch_at is not None
    except StorageError:
        return False  # the service has not synced its feeds yet


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_the_service_polls_with_the_injected_clock_and_stops_on_sigterm(
    tmp_path: Path, server: TestServer, restore_signals: None
) -> None:
    server.add("/feed.xml", rss([{"title": "One", "link": "http://127.0.0.1/1"}]))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": server.url("/feed.xml"), "full_text": False}])
    paths = app.Paths(feeds=feeds, seeds=SEEDS, db=tmp_path / "m.db")
    told: list[datetime] = []

    def clock() -> datetime:
        told.append(datetime.now(UTC).replace(microsecond=0))
        return told[-1]

    def stop_when_polled() -> None:
        # Stop once the poll's last write (the feed's fetch record) is committed, so the stop
        # never waits on a running poll.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _fetched(paths.db, server.url("/feed.xml")):
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=stop_when_polled, daemon=True).start()
    run_service(paths, tick=0.2, now=clock)
    with SqliteStore(paths.db) as store:
        heartbeat = store.get_value("heartbeat")
        assert heartbeat is not None and datetime.fromisoformat(heartbeat) in told
        state = store.feed_state(server.url("/feed.xml"))
        assert state.last_fetch_at in told and store.counts().articles == 1
